//! Searches by photo made from a page, kept for a while in memory so that their results have
//! an address of their own: the form posts, the server searches and sends the browser to
//! `/faces/search?result=<id>` (or `/events/similar?face=<id>`: Post/Redirect/Get), which works
//! without JavaScript and without shipping the results' rendering to the browser. Only the user
//! who searched can read one; a restart forgets them (the page then asks to search again).

use domain::faces::FaceSearchResult;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many searches are kept (the oldest goes first), and for how long.
const KEPT: usize = 64;
const FOR: Duration = Duration::from_secs(3600);

/// A search as the results page shows it: what it found or why it was refused, and the photo
/// scaled down (a JPEG) to draw the faces on.
pub struct KeptSearch {
    pub outcome: Result<FaceSearchResult, String>,
    pub preview: Option<Vec<u8>>,
    /// The filters it was made with, as typed, for the form beside its results.
    pub watch_list: String,
    pub min_confidence: String,
}

/// A face found in a photo to search the event archive with, kept so that the page can search
/// again with other filters without the photo being sent again.
pub struct KeptFace {
    /// The largest face's vector and how many faces the photo had; or why there is none.
    pub found: Result<(Vec<f32>, usize), String>,
}

struct Entry<T> {
    id: String,
    user: i64,
    at: Instant,
    search: Arc<T>,
}

/// What each user searched with lately, by id.
pub struct Recent<T> {
    entries: Mutex<VecDeque<Entry<T>>>,
}

/// Searches of the dossiers by photo.
pub type RecentSearches = Recent<KeptSearch>;

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
        }
    }
}

impl<T> Recent<T> {
    /// Keeps `search` for `user`; returns its id (128 random bits, so ids cannot be guessed).
    pub fn keep(&self, user: i64, search: T) -> String {
        let id = crate::auth::new_secret()[..32].to_string();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|e| e.at.elapsed() < FOR);
        while entries.len() >= KEPT {
            entries.pop_front();
        }
        entries.push_back(Entry {
            id: id.clone(),
            user,
            at: Instant::now(),
            search: Arc::new(search),
        });
        id
    }

    /// `user`'s search `id`, while it is kept.
    pub fn get(&self, user: i64, id: &str) -> Option<Arc<T>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .find(|e| e.id == id && e.user == user && e.at.elapsed() < FOR)
            .map(|e| e.search.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found() -> KeptSearch {
        KeptSearch {
            outcome: Err("no".into()),
            preview: None,
            watch_list: String::new(),
            min_confidence: String::new(),
        }
    }

    #[test]
    fn a_search_is_its_users_only_and_the_oldest_go_first() {
        let recent = RecentSearches::default();
        let first = recent.keep(1, found());
        assert!(recent.get(1, &first).is_some());
        assert!(recent.get(2, &first).is_none());
        assert!(recent.get(1, "not-an-id").is_none());
        for _ in 0..KEPT {
            recent.keep(1, found());
        }
        assert!(recent.get(1, &first).is_none());
    }
}
