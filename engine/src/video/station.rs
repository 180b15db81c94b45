//! Where a video worker takes its cameras from and posts what it sees: the installation's own
//! database when the worker runs inside `dossier serve`, or the server's API (`/api/video/…`,
//! with the token of a Video worker account) when it runs as `dossier video-worker` on
//! another machine. The same five calls either way.

use crate::cameras::leases;
use crate::error::{Error, Result};
use crate::monitoring::{sightings, Monitoring};
use domain::cameras::{LeaseRequest, Leases, Reports, Sighting, SightingOutcome, StreamReport};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// Longest wait for the server's answer to one call.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub enum Station {
    /// Inside `dossier serve`: the installation itself.
    Local(Monitoring),
    /// A server reached over HTTP.
    Remote(Remote),
}

#[derive(Clone)]
pub struct Remote {
    http: reqwest::Client,
    base: String,
    token: SecretString,
}

impl Remote {
    /// The server at `base` (`http(s)://host:port`), called with `token`.
    pub fn new(base: &str, token: SecretString) -> Result<Self, String> {
        let parsed =
            url::Url::parse(base.trim()).map_err(|e| format!("{base:?} is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(format!("{base:?} must be an http(s) URL with a host"));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(TIMEOUT)
            .user_agent(concat!("dossier-video-worker/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        Ok(Self {
            http,
            base: parsed.as_str().trim_end_matches('/').to_string(),
            token,
        })
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/api/video/{path}", self.base))
            .header(
                "Authorization",
                format!("Token {}", self.token.expose_secret()),
            )
    }

    /// The server's answer, or the error it gave (with its message), or why there was none.
    async fn answer(request: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let response = request.send().await.map_err(|e| {
            Error::unavailable(
                format!("the server cannot be reached: {}", without_url(&e)),
                5,
            )
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let error =
            response
                .json::<domain::Error>()
                .await
                .unwrap_or_else(|_| domain::Error::Unavailable {
                    message: format!("the server answered {status}"),
                    retry_after: 5,
                });
        Err(error.into())
    }
}

/// A request's error without its URL (which holds nothing secret, but is long).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text
            .replace(&format!(" ({url})"), "")
            .replace(url.as_str(), "the server");
    }
    if let Some(source) = std::error::Error::source(error) {
        text = format!("{text}: {source}");
    }
    text
}

impl Station {
    /// Renews the worker's leases, takes free cameras up to `capacity`, and returns what it
    /// holds.
    pub async fn hold(&self, worker: &str, capacity: usize) -> Result<Leases> {
        match self {
            Station::Local(m) => Ok(Leases {
                model: m.faces.model.name.clone(),
                cameras: leases::hold(&m.pool, worker, capacity).await?,
            }),
            Station::Remote(r) => {
                let request = LeaseRequest {
                    worker: worker.to_string(),
                    capacity: capacity as u32,
                };
                let answer = Remote::answer(r.post("leases").json(&request)).await?;
                answer.json().await.map_err(|e| {
                    Error::unavailable(format!("the server's leases cannot be read: {e}"), 5)
                })
            }
        }
    }

    pub async fn report(&self, worker: &str, reports: Vec<StreamReport>) -> Result<()> {
        match self {
            Station::Local(m) => leases::report(&m.pool, worker, &reports).await,
            Station::Remote(r) => {
                let body = Reports {
                    worker: worker.to_string(),
                    reports,
                };
                Remote::answer(r.post("reports").json(&body))
                    .await
                    .map(drop)
            }
        }
    }

    pub async fn snapshot(&self, worker: &str, camera: i64, jpeg: Vec<u8>) -> Result<()> {
        match self {
            Station::Local(m) => leases::snapshot(&m.pool, worker, camera, &jpeg).await,
            Station::Remote(r) => {
                let request = r
                    .post(&format!("cameras/{camera}/snapshot"))
                    .query(&[("worker", worker)])
                    .header("Content-Type", "image/jpeg")
                    .body(jpeg);
                Remote::answer(request).await.map(drop)
            }
        }
    }

    pub async fn sighting(&self, sighting: &Sighting) -> Result<SightingOutcome> {
        match self {
            Station::Local(m) => sightings::record(m, sighting).await,
            Station::Remote(r) => {
                let answer = Remote::answer(r.post("sightings").json(sighting)).await?;
                answer.json().await.map_err(|e| {
                    Error::unavailable(format!("the server's answer cannot be read: {e}"), 5)
                })
            }
        }
    }

    /// Gives up every camera the worker holds: it stops.
    pub async fn release(&self, worker: &str) -> Result<()> {
        match self {
            Station::Local(m) => leases::release(&m.pool, worker).await,
            Station::Remote(r) => {
                let body = serde_json::json!({ "worker": worker });
                Remote::answer(r.post("release").json(&body))
                    .await
                    .map(drop)
            }
        }
    }
}
