//! Reading a multipart form's fields on the server, for every route that takes one (a photo's
//! upload, a search by photo, a camera's post): the image is refused as soon as it passes the
//! upload limit, so an oversized body is never held whole, and the short text fields are read
//! by name, each once.

use crate::error::AppResult;
use domain::photos::ImageUpload;
use domain::Error;
use std::collections::HashMap;

/// A form as read.
#[derive(Debug, Default)]
pub struct Form {
    /// The `image` field's bytes.
    pub image: Option<Vec<u8>>,
    /// The text fields asked for, by name.
    pub texts: HashMap<String, String>,
}

impl Form {
    /// A text field's value, if it came.
    pub fn take(&mut self, name: &str) -> Option<String> {
        self.texts.remove(name)
    }
}

/// What to do with a field the form does not know.
#[derive(Debug, Clone, Copy)]
pub enum Unknown {
    /// Skip it (a browser's form may carry more than the route reads).
    Skip,
    /// Refuse the request, saying what to send instead.
    Refuse(&'static str),
}

pub(crate) fn malformed(e: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("malformed multipart body: {e}"))
}

/// Reads the `image` (at most `limit` bytes) and the text fields `texts`; a field named twice
/// keeps its first value.
pub async fn read(
    mut multipart: multer::Multipart<'_>,
    limit: usize,
    texts: &[&str],
    unknown: Unknown,
) -> AppResult<Form> {
    let mut form = Form::default();
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "image" {
            let mut image = ImageUpload::new(limit);
            while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                image.push(&chunk)?;
            }
            form.image = Some(image.into_bytes());
        } else if texts.contains(&name.as_str()) {
            let text = field.text().await.map_err(malformed)?;
            form.texts.entry(name).or_insert(text);
        } else if let Unknown::Refuse(send) = unknown {
            return Err(Error::bad_request(format!("unknown field {name:?}: {send}")).into());
        }
    }
    Ok(form)
}
