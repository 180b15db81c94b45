//! The installation's settings: one TOML file plus environment overrides, under the names the
//! design gives (`DATABASE_URL`, `SYNC_TOKEN`, …). Every value is checked at start-up; a bad one
//! stops the server with a message naming the key.

use chrono::Utc;
use engine::installation::{
    DEFAULT_AUDIT_RETENTION_DAYS, DEFAULT_MAX_DELETE_RATIO, DEFAULT_SESSION_IDLE_MINUTES,
    DEFAULT_SYNC_CONCURRENCY,
};
use engine::sync::schedule::{SyncSchedule, DEFAULT_SCHEDULE};
use engine::sync::SyncToken;
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use crate::layout::Layout;

/// Every key, as written in the file or the environment.
pub const KEYS: &[&str] = &[
    "DATABASE_URL",
    "LISTEN_ADDRESS",
    "EXTERNAL_ADDRESS",
    "SYNC_TOKEN",
    "SYNC_SCHEDULE",
    "SYNC_TIMEZONE",
    "SYNC_AT_STARTUP",
    "SYNC_AT_CREATION",
    "SYNC_WEB_UI",
    "SYNC_CONCURRENCY",
    "SYNC_MAX_DELETE_RATIO",
    "FACE_MODEL",
    "FACE_VECTOR_LENGTH",
    "FACE_MODELS_DIR",
    "FACE_INDEX_DIR",
    "FACE_THRESHOLD",
    "EVENTS_RETENTION_DAYS",
    "UPLOAD_LIMIT",
    "SESSION_IDLE_MINUTES",
    "AUDIT_RETENTION_DAYS",
    "TRUSTED_PROXIES",
    "SITE_NAME",
];

/// A secret that never prints: `Debug` and `Display` show a placeholder, so it cannot reach a
/// log line or a page by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: Secret,
    pub listen_address: SocketAddr,
    pub external_address: url::Url,
    pub sync_token: SyncToken,
    pub sync_schedule: SyncSchedule,
    pub sync_timezone: chrono_tz::Tz,
    pub sync_at_startup: bool,
    pub sync_at_creation: bool,
    pub sync_web_ui: bool,
    pub sync_concurrency: usize,
    pub sync_max_delete_ratio: f64,
    pub face_model: String,
    pub face_vector_length: usize,
    /// Where the built-in engine's model files are; used when `face_model` is its name.
    pub face_models_dir: std::path::PathBuf,
    /// Where monitoring's face index is saved between starts.
    pub face_index_dir: std::path::PathBuf,
    pub face_threshold: f32,
    pub events_retention_days: i32,
    pub upload_limit: usize,
    pub session_idle_minutes: i32,
    pub audit_retention_days: i32,
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub site_name: String,
}

/// A setting that could not be used, naming the key.
#[derive(Debug, thiserror::Error)]
#[error("setting {key}: {message}")]
pub struct SettingError {
    pub key: &'static str,
    pub message: String,
}

fn bad(key: &'static str, message: impl Into<String>) -> SettingError {
    SettingError {
        key,
        message: message.into(),
    }
}

impl Settings {
    /// Reads the file (if given and present) and the environment; the environment wins. Paths
    /// neither sets are the `layout`'s.
    pub fn load(file: Option<&Path>, layout: &Layout) -> Result<Self, SettingError> {
        let mut builder = config::Config::builder();
        if let Some(file) = file {
            if !file.exists() {
                return Err(bad(
                    "config file",
                    format!("{} does not exist", file.display()),
                ));
            }
            builder = builder.add_source(config::File::from(file).format(config::FileFormat::Toml));
        }
        // Only our keys are taken from the environment, so that unrelated variables cannot
        // collide with a setting.
        let env: HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| KEYS.contains(&k.as_str()))
            .collect();
        builder = builder.add_source(config::Environment::default().source(Some(env)));
        let config = builder
            .build()
            .map_err(|e| bad("config file", e.to_string()))?;
        let mut values: HashMap<&'static str, String> = KEYS
            .iter()
            .filter_map(|k| {
                // The environment's keys arrive lower-cased, the file's as written (in
                // capitals, as documented): the environment's first, so that it wins.
                config
                    .get_string(&k.to_ascii_lowercase())
                    .or_else(|_| config.get_string(k))
                    .ok()
                    .map(|v| (*k, v))
            })
            .collect();
        for (key, path) in [
            ("FACE_MODELS_DIR", &layout.face_models_dir),
            ("FACE_INDEX_DIR", &layout.face_index_dir),
        ] {
            values
                .entry(key)
                .or_insert_with(|| path.to_string_lossy().into_owned());
        }
        Self::from_values(&values)
    }

    /// Builds and checks the settings from raw text values (missing keys take their defaults).
    pub fn from_values(values: &HashMap<&'static str, String>) -> Result<Self, SettingError> {
        let get = |key: &'static str| values.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        let flag = |key: &'static str, default: bool| -> Result<bool, SettingError> {
            match get(key).map(str::to_ascii_lowercase).as_deref() {
                None => Ok(default),
                Some("true" | "1" | "yes" | "on") => Ok(true),
                Some("false" | "0" | "no" | "off") => Ok(false),
                Some(other) => Err(bad(key, format!("expected true or false, got {other:?}"))),
            }
        };
        // A whole number from 1 to `max`.
        let count =
            |key: &'static str, default: usize, max: usize| -> Result<usize, SettingError> {
                match get(key) {
                    None => Ok(default),
                    Some(v) => v
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=max).contains(n))
                        .ok_or_else(|| {
                            bad(key, format!("expected a number from 1 to {max}, got {v:?}"))
                        }),
                }
            };

        let database_url = get("DATABASE_URL").ok_or_else(|| {
            bad(
                "DATABASE_URL",
                "is required, e.g. postgres://postgres@127.0.0.1:5432/dossier",
            )
        })?;
        let parsed = url::Url::parse(database_url)
            .map_err(|e| bad("DATABASE_URL", format!("is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(bad("DATABASE_URL", "must be a postgres:// URL"));
        }

        let listen_address: SocketAddr = get("LISTEN_ADDRESS")
            .map(str::to_string)
            .or_else(|| std::env::var("LEPTOS_SITE_ADDR").ok())
            .unwrap_or_else(|| "127.0.0.1:3000".into())
            .parse()
            .map_err(|e| {
                bad(
                    "LISTEN_ADDRESS",
                    format!("expected host:port like 127.0.0.1:3000 ({e})"),
                )
            })?;

        let external_address = match get("EXTERNAL_ADDRESS") {
            Some(text) => {
                let url = url::Url::parse(text)
                    .map_err(|e| bad("EXTERNAL_ADDRESS", format!("{text:?} is not a URL: {e}")))?;
                if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                    return Err(bad(
                        "EXTERNAL_ADDRESS",
                        format!("{text:?} must be an http(s) URL with a host"),
                    ));
                }
                url
            }
            None => url::Url::parse(&format!("http://{listen_address}")).expect("valid URL"),
        };

        let sync_token = SyncToken::new(get("SYNC_TOKEN").unwrap_or_default());
        if sync_token.is_set() && sync_token.expose().len() < 16 {
            return Err(bad(
                "SYNC_TOKEN",
                "must be at least 16 characters (or empty to disable replication)",
            ));
        }

        let sync_timezone: chrono_tz::Tz =
            get("SYNC_TIMEZONE").unwrap_or("UTC").parse().map_err(|_| {
                bad(
                    "SYNC_TIMEZONE",
                    "must be an IANA time zone such as Europe/Berlin or UTC",
                )
            })?;
        let sync_schedule = SyncSchedule::parse(
            get("SYNC_SCHEDULE").unwrap_or(DEFAULT_SCHEDULE),
            sync_timezone,
            Utc::now(),
        )
        .map_err(|m| bad("SYNC_SCHEDULE", m))?;

        let sync_concurrency = count("SYNC_CONCURRENCY", DEFAULT_SYNC_CONCURRENCY, 64)?;
        let sync_max_delete_ratio = match get("SYNC_MAX_DELETE_RATIO") {
            None => DEFAULT_MAX_DELETE_RATIO,
            Some(v) => v
                .strip_suffix('%')
                .map(|p| p.trim().parse::<f64>().map(|p| p / 100.0))
                .unwrap_or_else(|| v.parse::<f64>())
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| {
                    bad(
                        "SYNC_MAX_DELETE_RATIO",
                        format!("expected a share between 0 and 1 (or 0% to 100%), got {v:?}"),
                    )
                })?,
        };

        // The built-in engine by default; another name means vectors come from an external
        // extractor with the photos (and must then say their length).
        let face_model = get("FACE_MODEL")
            .unwrap_or(face_engine::MODEL_NAME)
            .to_string();
        if face_model.chars().count() > 64 {
            return Err(bad("FACE_MODEL", "must be at most 64 characters"));
        }
        let built_in = face_model == face_engine::MODEL_NAME;
        let default_length = if built_in {
            face_engine::VECTOR_LENGTH
        } else {
            512
        };
        let face_vector_length = count("FACE_VECTOR_LENGTH", default_length, 8192)?;
        if built_in && face_vector_length != face_engine::VECTOR_LENGTH {
            return Err(bad(
                "FACE_VECTOR_LENGTH",
                format!(
                    "the built-in model {} gives {} numbers, not {face_vector_length}",
                    face_engine::MODEL_NAME,
                    face_engine::VECTOR_LENGTH
                ),
            ));
        }
        let checkout = Layout::checkout();
        let face_models_dir = get("FACE_MODELS_DIR").map_or(checkout.face_models_dir, Into::into);
        let face_index_dir = get("FACE_INDEX_DIR").map_or(checkout.face_index_dir, Into::into);
        let face_threshold = match get("FACE_THRESHOLD") {
            None => domain::monitoring::DEFAULT_THRESHOLD,
            Some(v) => v
                .trim()
                .parse::<f32>()
                .ok()
                .filter(|t| (0.0..=1.0).contains(t))
                .ok_or_else(|| {
                    bad(
                        "FACE_THRESHOLD",
                        format!("expected a confidence between 0 and 1, got {v:?}"),
                    )
                })?,
        };
        let upload_limit = match get("UPLOAD_LIMIT") {
            None => 10 * 1024 * 1024,
            Some(v) => parse_size(v).ok_or_else(|| {
                bad(
                    "UPLOAD_LIMIT",
                    format!("expected a size such as 10MB or 1048576, got {v:?}"),
                )
            })?,
        };

        let whole = |key: &'static str, default: i32, min: i32, max: i32| match get(key) {
            None => Ok(default),
            Some(v) => v
                .parse::<i32>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| {
                    bad(
                        key,
                        format!("expected a number from {min} to {max}, got {v:?}"),
                    )
                }),
        };
        // 0 turns the idle timeout off; a year is the most that means anything.
        let session_idle_minutes = whole(
            "SESSION_IDLE_MINUTES",
            DEFAULT_SESSION_IDLE_MINUTES,
            0,
            525_600,
        )?;
        let audit_retention_days = whole(
            "AUDIT_RETENTION_DAYS",
            DEFAULT_AUDIT_RETENTION_DAYS,
            1,
            36_500,
        )?;

        let events_retention_days = whole(
            "EVENTS_RETENTION_DAYS",
            domain::monitoring::DEFAULT_RETENTION_DAYS,
            1,
            36_500,
        )?;

        let trusted_proxies = get("TRUSTED_PROXIES")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| {
                a.parse().map_err(|_| {
                    bad(
                        "TRUSTED_PROXIES",
                        format!("expected IP addresses separated by commas, got {a:?}"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;

        // By default the host and port this installation is reached at: two on one machine get
        // two names.
        let site_name = match get("SITE_NAME") {
            Some(name) => domain::input::required_text("SITE_NAME", name, 100)
                .map_err(|e| bad("SITE_NAME", e.message()))?,
            None => match (external_address.host_str(), external_address.port()) {
                (Some(host), Some(port)) => format!("{host}:{port}"),
                (host, None) => host.unwrap_or("dossier database").to_string(),
                (None, Some(_)) => "dossier database".to_string(),
            },
        };

        Ok(Self {
            database_url: Secret(database_url.to_string()),
            listen_address,
            external_address,
            sync_token,
            sync_schedule,
            sync_timezone,
            sync_at_startup: flag("SYNC_AT_STARTUP", false)?,
            sync_at_creation: flag("SYNC_AT_CREATION", true)?,
            sync_web_ui: flag("SYNC_WEB_UI", true)?,
            sync_concurrency,
            sync_max_delete_ratio,
            face_model,
            face_vector_length,
            face_models_dir,
            face_index_dir,
            face_threshold,
            events_retention_days,
            upload_limit,
            session_idle_minutes,
            audit_retention_days,
            trusted_proxies,
            site_name,
        })
    }

    /// The settings the domain's logic depends on.
    pub fn domain_settings(&self) -> engine::Settings {
        engine::Settings {
            face_model: self.face_model.clone(),
            face_vector_length: self.face_vector_length,
            upload_limit: self.upload_limit,
            sync_web_ui: self.sync_web_ui,
            sync: engine::SyncSettings {
                token: self.sync_token.clone(),
                schedule: self.sync_schedule.clone(),
                at_startup: self.sync_at_startup,
                at_creation: self.sync_at_creation,
                concurrency: self.sync_concurrency,
                max_delete_ratio: self.sync_max_delete_ratio,
                ..Default::default()
            },
            sessions: engine::installation::SessionSettings {
                cookie_name: self.cookie_name(),
                secure: self.external_address.scheme() == "https",
                idle_minutes: self.session_idle_minutes,
            },
            audit_retention_days: self.audit_retention_days,
            face_threshold: self.face_threshold,
            events_retention_days: self.events_retention_days,
            trusted_proxies: self.trusted_proxies.clone(),
            site_name: self.site_name.clone(),
        }
    }

    /// The session cookie's name: browsers keep one cookie jar per host whatever the port, so
    /// the name carries a digest of the address this installation is reached at.
    pub fn cookie_name(&self) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(self.external_address.as_str().as_bytes());
        format!("dossier_session_{}", hex::encode(&digest[..4]))
    }
}

/// "10MB", "512KB", "1048576" → bytes (binary units). Zero is refused.
fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim().to_ascii_uppercase();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text.as_str(), ""),
    };
    let factor = match unit.trim() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1024,
        "M" | "MB" | "MIB" => 1024 * 1024,
        "G" | "GB" | "GIB" => 1024 * 1024 * 1024,
        _ => return None,
    };
    number
        .parse::<usize>()
        .ok()?
        .checked_mul(factor)
        .filter(|n| *n > 0)
}

#[cfg(test)]
mod tests;
