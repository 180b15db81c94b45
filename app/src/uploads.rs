//! Multipart forms sent from the browser with progress (photo uploads, searches by photo):
//! XMLHttpRequest, because `fetch` reports no upload progress. Without WASM the same forms are
//! plain multipart POSTs.

#[cfg(feature = "hydrate")]
use crate::error::AppError;
use domain::faces::FaceBox;
use leptos::prelude::*;

/// Sends `form` to `url` as multipart, with `progress` in percent while it uploads, and hands
/// the answer's body (2xx) or error to `done`. Also returns the chosen image as an object URL,
/// for previews.
#[cfg(feature = "hydrate")]
pub fn send(
    ev: &leptos::ev::SubmitEvent,
    url: &str,
    progress: RwSignal<Option<u32>>,
    done: impl Fn(Result<String, AppError>, &web_sys::HtmlFormElement) + 'static,
) -> Option<String> {
    use server_fn::error::FromServerFnError;
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{Blob, FormData, HtmlFormElement, ProgressEvent, Url, XmlHttpRequest};

    ev.prevent_default();
    let form = ev.target()?.dyn_into::<HtmlFormElement>().ok()?;
    let (Ok(data), Ok(xhr)) = (FormData::new_with_form(&form), XmlHttpRequest::new()) else {
        return None;
    };
    let preview = data
        .get("image")
        .dyn_into::<Blob>()
        .ok()
        .and_then(|b| Url::create_object_url_with_blob(&b).ok());
    progress.set(Some(0));
    let _ = xhr.open("POST", url);
    let _ = xhr.set_request_header("Accept", "application/json");
    if let Ok(upload) = xhr.upload() {
        let on_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |e: ProgressEvent| {
            if e.length_computable() && e.total() > 0.0 {
                progress.set(Some((e.loaded() / e.total() * 100.0) as u32));
            }
        });
        upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        on_progress.forget();
    }
    let request = xhr.clone();
    let on_done = Closure::<dyn FnMut()>::new(move || {
        progress.set(None);
        let status = request.status().unwrap_or(0);
        let body = request.response_text().ok().flatten().unwrap_or_default();
        let answer = match status {
            200..=299 => Ok(body),
            0 => Err(AppError(domain::Error::Internal {
                message: "the upload was interrupted".into(),
            })),
            _ => Err(AppError::de(body.into())),
        };
        done(answer, &form);
    });
    xhr.set_onloadend(Some(on_done.as_ref().unchecked_ref()));
    on_done.forget();
    if xhr.send_with_opt_form_data(Some(&data)).is_err() {
        progress.set(None);
    }
    preview
}

/// A photo with its faces framed: boxes in the photo's own pixels, placed over it in percent of
/// its size so that they fit at any width. With `numbered`, each box carries its number (1, 2, …
/// as the search results list the faces).
#[component]
pub fn FacePreview(
    src: String,
    width: u32,
    height: u32,
    faces: Vec<FaceBox>,
    #[prop(default = false)] numbered: bool,
) -> impl IntoView {
    view! {
        <figure class="face-preview" data-testid="face-preview">
            <img src=src alt="The chosen photo" />
            // Written as markup of numbers only (nothing a user typed), which costs the upload
            // island far less WASM than a view per box.
            <div class="face-boxes" inner_html=boxes_markup(&faces, width, height, numbered)></div>
        </figure>
    }
}

fn boxes_markup(faces: &[FaceBox], width: u32, height: u32, numbered: bool) -> String {
    // Hundredths of a percent, written without float formatting.
    let percent = |part: u32, whole: u32| {
        let hundredths = u64::from(part) * 10_000 / u64::from(whole.max(1));
        format!("{}.{:02}%", hundredths / 100, hundredths % 100)
    };
    faces
        .iter()
        .enumerate()
        .map(|(i, f)| {
            format!(
                r#"<span class="face-box" data-testid="face-box" style="left:{};top:{};width:{};height:{}">{}</span>"#,
                percent(f.left, width),
                percent(f.top, height),
                percent(f.width, width),
                percent(f.height, height),
                if numbered { (i + 1).to_string() } else { String::new() }
            )
        })
        .collect()
}

/// Frees a preview's object URL once it is no longer shown.
pub fn forget_preview(url: Option<String>) {
    #[cfg(feature = "hydrate")]
    if let Some(url) = url {
        let _ = web_sys::Url::revoke_object_url(&url);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = url;
}
