//! The HTTP face of the server functions (`/api/…`): JSON bodies for API callers, and the
//! cross-site request check for browser forms. (Statuses come from `AppError` itself.)

use app::error::AppError;
use axum::{
    body::{to_bytes, Body},
    extract::Request,
    http::{header, HeaderMap, HeaderValue, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};
use domain::Error;
use serde_json::Value;

/// JSON API bodies are small (photos go as multipart, which is not converted).
const MAX_JSON_BODY: usize = 1024 * 1024;

fn error_response(error: Error) -> Response {
    AppError(error).into_response()
}

/// Refuses state-changing requests that a browser sent from another site. Browsers send
/// `Origin` on every POST; API clients (curl) send none and authenticate with a token, which no
/// other site can attach.
pub async fn same_origin_only(request: Request, next: Next) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        if let Some(reason) = cross_site(request.headers()) {
            return error_response(Error::forbidden(reason));
        }
    }
    next.run(request).await
}

fn cross_site(headers: &HeaderMap) -> Option<String> {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return Some("cross-site requests are refused".into());
    }
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let origin_host = url::Url::parse(origin).ok().map(|u| match u.port() {
        Some(port) => format!("{}:{port}", u.host_str().unwrap_or_default()),
        None => u.host_str().unwrap_or_default().to_string(),
    });
    (origin_host.as_deref() != Some(host))
        .then(|| format!("request from origin {origin} refused: it is not this site ({host})"))
}

/// The server functions that read a multipart body (a photo). Their framework takes any other
/// body for multipart and panics on it, so such a request is refused here first, with the same
/// check (`multer::parse_boundary`).
fn reads_multipart(path: &str) -> bool {
    use leptos::server_fn::ServerFn;
    [
        <app::photos::UploadPhoto as ServerFn>::PATH,
        <app::faces::SearchFaces as ServerFn>::PATH,
        <app::archive::EventsSimilarToPhoto as ServerFn>::PATH,
        <app::imports::UploadImport as ServerFn>::PATH,
    ]
    .contains(&path)
}

/// The largest request bodies: an import's ZIP, and any other.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub any: usize,
    pub import: usize,
}

/// Caps every request's body: refused at once when it says it is larger (413), cut short
/// when it grows past the cap (its reader then fails). An import's upload has a cap of its
/// own (`IMPORT_LIMIT`), every other body the photo's (`UPLOAD_LIMIT`).
pub async fn body_limit(
    axum::extract::State(limits): axum::extract::State<BodyLimits>,
    request: Request,
    next: Next,
) -> Response {
    use leptos::server_fn::ServerFn;
    let (limit, what) = if request.uri().path() == <app::imports::UploadImport as ServerFn>::PATH {
        (limits.import, "an import's ZIP (IMPORT_LIMIT)")
    } else {
        (limits.any, "a request (the upload limit, UPLOAD_LIMIT)")
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return error_response(Error::TooLarge {
            message: format!(
                "the body is {}, over the {} {what} may be",
                domain::bytes::human(declared.unwrap_or_default()),
                domain::bytes::human(limit as u64)
            ),
        });
    }
    let request =
        request.map(|body| axum::body::Body::new(http_body_util::Limited::new(body, limit)));
    next.run(request).await
}

pub async fn multipart_only(request: Request, next: Next) -> Response {
    if reads_multipart(request.uri().path()) {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if multer::parse_boundary(content_type).is_err() {
            return error_response(Error::bad_request(format!(
                "{} takes multipart/form-data (with a boundary), not {:?}",
                request.uri().path(),
                content_type
            )));
        }
    }
    next.run(request).await
}

/// The routes that are not server functions and read their JSON themselves: events posted by
/// cameras (a photo in JSON is large) and the video workers' calls (typed bodies, with pictures).
fn reads_its_own_json(path: &str) -> bool {
    path == "/api/events/faces" || path.starts_with("/api/video/")
}

/// Server functions read form-encoded arguments; API callers may send JSON instead. A JSON
/// object is rewritten into the same form fields a browser would send: scalars as text, arrays
/// of scalars as `key[i]`, and nested objects (such as a dossier's `meta`) as JSON text.
pub async fn json_to_form(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let is_json = path.starts_with("/api/")
        && !reads_its_own_json(path)
        && request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let bytes = match to_bytes(body, MAX_JSON_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return error_response(Error::TooLarge {
                message: format!("JSON bodies are limited to {MAX_JSON_BODY} bytes"),
            })
        }
    };
    let form = if bytes.iter().all(u8::is_ascii_whitespace) {
        Ok(String::new())
    } else {
        serde_json::from_slice::<Value>(&bytes)
            .map_err(|e| format!("malformed JSON body: {e}"))
            .and_then(|v| form_fields(&v))
    };
    let form = match form {
        Ok(form) => form,
        Err(message) => return error_response(Error::BadRequest { message }),
    };
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    next.run(Request::from_parts(parts, Body::from(form))).await
}

/// Reads the arguments of a server function once, for two jobs. It refuses any argument, in
/// the query or a form body, that holds a control character other than tab and line breaks,
/// naming the argument: the domain checks each field again with its own rules (a name is one
/// line); this gate covers the arguments it does not read as text, so that no NUL ever reaches
/// the database, whatever the route. And when a browser's form sent without JavaScript is
/// refused, it hands what was typed back to the form's page (see [`keep_what_was_typed`]).
pub async fn form_arguments(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    if let Some(error) = request.uri().query().and_then(bad_argument) {
        return error_response(error);
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return next.run(request).await;
    }
    let from_browser_form = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, MAX_JSON_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return error_response(Error::TooLarge {
                message: format!("form bodies are limited to {MAX_JSON_BODY} bytes"),
            })
        }
    };
    if let Some(error) = std::str::from_utf8(&bytes).ok().and_then(bad_argument) {
        return error_response(error);
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes.clone())))
        .await;
    if from_browser_form {
        keep_what_was_typed(&bytes, response)
    } else {
        response
    }
}

/// Longest `__typed` handed back; a longer form (a big meta) comes back empty, as before.
const MAX_TYPED: usize = 6 * 1024;

/// A refused form post comes back as a redirect to its page with the error (`__err`, leptos'
/// convention); this adds the fields as they were typed (`__typed`, form-encoded), which the
/// form's page puts back into its inputs. The address ends up in the browser's history, so
/// passwords and secrets are left out, and a URL's password (a camera's stream) is masked.
fn keep_what_was_typed(body: &[u8], mut response: Response) -> Response {
    let Some(location) = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .filter(|l| l.contains("__err="))
    else {
        return response;
    };
    let typed = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            form_urlencoded::parse(body)
                .filter(|(name, _)| !name.contains("password") && !name.contains("secret"))
                .map(|(name, value)| (name, domain::cameras::shown_url(&value))),
        )
        .finish();
    if typed.is_empty() || typed.len() > MAX_TYPED {
        return response;
    }
    let separator = if location.contains('?') { '&' } else { '?' };
    let encoded: String = form_urlencoded::byte_serialize(typed.as_bytes()).collect();
    let with_typed = format!("{location}{separator}__typed={encoded}");
    if let Ok(value) = HeaderValue::from_str(&with_typed) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The first argument of a form-encoded string whose name or value holds a control character.
fn bad_argument(encoded: &str) -> Option<Error> {
    use domain::input::{check_characters, Lines};
    form_urlencoded::parse(encoded.as_bytes()).find_map(|(name, value)| {
        check_characters("argument name", &name, Lines::One)
            .and_then(|()| check_characters(&name, &value, Lines::Many))
            .err()
    })
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

pub fn form_fields(value: &Value) -> Result<String, String> {
    let Value::Object(map) = value else {
        return Err("the JSON body must be an object of named arguments".into());
    };
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (key, value) in map {
        match value {
            Value::Null => {}
            Value::Array(items) if items.iter().all(|i| scalar_text(i).is_some()) => {
                for (i, item) in items.iter().enumerate() {
                    form.append_pair(
                        &format!("{key}[{i}]"),
                        &scalar_text(item).unwrap_or_default(),
                    );
                }
            }
            Value::Array(_) | Value::Object(_) => {
                form.append_pair(key, &value.to_string());
            }
            scalar => {
                form.append_pair(key, &scalar_text(scalar).unwrap_or_default());
            }
        }
    }
    Ok(form.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_becomes_the_fields_a_browser_sends() {
        let v: Value = serde_json::from_str(
            r#"{"name":"A & B","active":true,"limit":5,"watch_lists":[1,2],"meta":{"k":[1]},"x":null}"#,
        )
        .unwrap();
        let form = form_fields(&v).unwrap();
        let pairs: Vec<(String, String)> = form_urlencoded::parse(form.as_bytes())
            .into_owned()
            .collect();
        assert!(pairs.contains(&("name".into(), "A & B".into())));
        assert!(pairs.contains(&("active".into(), "true".into())));
        assert!(pairs.contains(&("limit".into(), "5".into())));
        assert!(pairs.contains(&("watch_lists[0]".into(), "1".into())));
        assert!(pairs.contains(&("watch_lists[1]".into(), "2".into())));
        assert!(pairs.contains(&("meta".into(), r#"{"k":[1]}"#.into())));
        assert!(!pairs.iter().any(|(k, _)| k == "x"));
        assert!(form_fields(&serde_json::json!([1, 2])).is_err());
    }

    #[test]
    fn arguments_with_control_characters_are_named() {
        assert!(bad_argument("name=Ann&comment=two%0Alines").is_none());
        let error = bad_argument("name=A%00B").unwrap();
        assert_eq!(error.field(), Some("name"));
        assert!(bad_argument("na%1Bme=x").is_some());
    }

    #[test]
    fn cross_site_posts_are_recognised() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:3000"));
        assert!(cross_site(&h).is_none());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:3000"),
        );
        assert!(cross_site(&h).is_none());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(cross_site(&h).is_some());
    }
}
