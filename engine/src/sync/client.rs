//! The Subscriber's client of a Leader: one HTTP client per run, the token on every request,
//! retries with backoff for what may recover, and the decoding of the Leader's answers
//! (JSON, and the length-prefixed frames of an image batch).

use super::error::SyncError;
use super::{ChangePage, LeaderInfo, ListDigest, RemoteList, SyncToken, LEADER_KIND};
use crate::error::Error;
use crate::images::ProcessedImage;
use reqwest::StatusCode;
use std::time::Duration;

/// Attempts per request before the run fails (with backoff in between).
const ATTEMPTS: u32 = 3;

/// A Leader URL in one spelling (no trailing slash), so that two replicas of the same Leader
/// share their dossiers.
pub fn normalize_url(url: &str) -> Result<String, String> {
    if let Some(c) = url.chars().find(|c| c.is_control()) {
        return Err(format!(
            "must not contain control characters (found U+{:04X})",
            c as u32
        ));
    }
    let parsed = url::Url::parse(url.trim()).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(format!("{url:?} must be an http(s) URL with a host"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

#[derive(Clone)]
pub struct LeaderClient {
    http: reqwest::Client,
    url: String,
    token: SyncToken,
    /// Dossiers per page of changes (see `SyncSettings::page_size`).
    page_size: i64,
}

impl LeaderClient {
    pub fn new(url: &str, token: &SyncToken, timeout: Duration) -> Result<Self, SyncError> {
        if !token.is_set() {
            return Err(SyncError::NoToken);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .build()
            .map_err(|e| {
                tracing::error!(error = %e, "cannot make an HTTP client");
                SyncError::Local(Error::internal())
            })?;
        Ok(Self {
            http,
            url: url.trim_end_matches('/').to_string(),
            token: token.clone(),
            page_size: 500,
        })
    }

    /// Asks for pages of `size` dossiers.
    pub fn with_page_size(self, size: i64) -> Self {
        Self {
            page_size: size,
            ..self
        }
    }

    async fn send_once(&self, request: reqwest::RequestBuilder) -> Result<Vec<u8>, SyncError> {
        let unreachable = |e: reqwest::Error| SyncError::Unreachable {
            url: self.url.clone(),
            reason: e.without_url().to_string(),
        };
        let response = request
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?.to_vec();
        match status {
            s if s.is_success() => Ok(body),
            StatusCode::UNAUTHORIZED => Err(SyncError::TokenRejected),
            StatusCode::GONE => Err(SyncError::CursorTooOld(0)),
            s => {
                let message = serde_json::from_slice::<domain::Error>(&body)
                    .map(|e| e.to_string())
                    .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(200).collect());
                Err(SyncError::Leader {
                    status: s.as_u16(),
                    message,
                })
            }
        }
    }

    /// Sends a request, retrying transient failures with backoff (0.25 s, then 1 s).
    async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Vec<u8>, SyncError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.send_once(build()).await {
                Err(e) if e.transient() && attempt < ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(250 * 4u64.pow(attempt - 1))).await;
                }
                other => return other,
            }
        }
    }

    fn decode<T: serde::de::DeserializeOwned>(&self, body: &[u8]) -> Result<T, SyncError> {
        serde_json::from_slice(body).map_err(|e| SyncError::NotALeader {
            url: self.url.clone(),
            reason: format!("unexpected answer: {e}"),
        })
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.url))
    }

    /// Who answers at the URL; refuses anything that is not a Leader.
    pub async fn info(&self) -> Result<LeaderInfo, SyncError> {
        let body = self
            .send(|| self.get("/sync/leader/info"))
            .await
            .map_err(|e| match e {
                SyncError::Leader { status: 404, .. } => SyncError::NotALeader {
                    url: self.url.clone(),
                    reason: "it has no /sync/leader/info".into(),
                },
                other => other,
            })?;
        let info: LeaderInfo = self.decode(&body)?;
        if info.kind != LEADER_KIND {
            return Err(SyncError::NotALeader {
                url: self.url.clone(),
                reason: format!("it says it is {:?}", info.kind),
            });
        }
        Ok(info)
    }

    pub async fn lists(&self) -> Result<Vec<RemoteList>, SyncError> {
        let body = self
            .send(|| self.get("/sync/leader/dossier-lists/"))
            .await?;
        self.decode(&body)
    }

    pub async fn changes(
        &self,
        list: i64,
        since: i64,
        until: Option<i64>,
        after: i64,
    ) -> Result<ChangePage, SyncError> {
        let path = format!("/sync/leader/dossier-lists/{list}/changes");
        let mut query = vec![
            ("since", since.to_string()),
            ("after", after.to_string()),
            ("limit", self.page_size.to_string()),
        ];
        if let Some(until) = until {
            query.push(("until", until.to_string()));
        }
        let body = self
            .send(|| self.get(&path).query(&query))
            .await
            .map_err(|e| match e {
                SyncError::CursorTooOld(_) => SyncError::CursorTooOld(since),
                other => unknown_list(other, list),
            })?;
        self.decode(&body)
    }

    /// Every member id of a Leader's list.
    pub async fn members(&self, list: i64) -> Result<Vec<i64>, SyncError> {
        let path = format!("/sync/leader/dossier-lists/{list}/members");
        let body = self
            .send(|| self.get(&path))
            .await
            .map_err(|e| unknown_list(e, list))?;
        self.decode(&body)
    }

    /// Chosen dossiers of a Leader's list as they are now (removals for the non-members).
    pub async fn dossiers(&self, list: i64, ids: &[i64]) -> Result<ChangePage, SyncError> {
        let url = format!("{}/sync/leader/dossier-lists/{list}/dossiers", self.url);
        let body = self
            .send(|| self.http.post(&url).json(ids))
            .await
            .map_err(|e| unknown_list(e, list))?;
        self.decode(&body)
    }

    pub async fn digest(&self, list: i64) -> Result<ListDigest, SyncError> {
        let path = format!("/sync/leader/dossier-lists/{list}/digest");
        let body = self.send(|| self.get(&path)).await?;
        self.decode(&body)
    }

    /// The images for these hashes; each is checked against its hash.
    pub async fn images(&self, hashes: &[String]) -> Result<Vec<ProcessedImage>, SyncError> {
        let body = self
            .send(|| {
                self.http
                    .post(format!("{}/sync/leader/images", self.url))
                    .json(hashes)
            })
            .await?;
        super::frames::read(&body).ok_or_else(|| SyncError::NotALeader {
            url: self.url.clone(),
            reason: "its image answer is malformed or does not match the hashes".into(),
        })
    }
}

/// A 404 about a list's feed means the Leader has no such list.
fn unknown_list(error: SyncError, list: i64) -> SyncError {
    match error {
        SyncError::Leader { status: 404, .. } => SyncError::UnknownRemoteList(list),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_url;

    #[test]
    fn a_leader_has_one_spelling() {
        assert_eq!(
            normalize_url(" http://leader:3000/ ").unwrap(),
            "http://leader:3000"
        );
        assert_eq!(
            normalize_url("HTTPS://Leader.Example/base/").unwrap(),
            "https://leader.example/base"
        );
        assert!(normalize_url("leader:3000").is_err());
        assert!(normalize_url("ftp://leader").is_err());
        assert!(normalize_url("not a url")
            .unwrap_err()
            .contains("not a URL"));
    }
}
