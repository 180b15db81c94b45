//! The installation's settings: one TOML file plus environment overrides, under the names the
//! design gives (`DATABASE_URL`, `SYNC_TOKEN`, …). Each part reads its own keys into its own
//! struct: the server's here ([`ServerSettings`]), the engine's parts in theirs
//! (`engine::Settings`). Every value is checked as it is read; a bad one stops start-up with a
//! message naming the key. The keys taken from the environment, and the README's table, are
//! exactly the structs' fields ([`keys`]).

use crate::layout::Layout;
use app::state::{SessionCookie, Web};
use engine::settings::{keys as keys_of, ByteSize, SettingError};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

/// The server's own part: its database, where it listens, how it is reached, what it accepts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    /// The PostgreSQL database, `postgres://…` (required).
    #[serde(rename = "DATABASE_URL", deserialize_with = "database_url")]
    pub database_url: Option<SecretString>,
    /// Where the server listens; by default `LEPTOS_SITE_ADDR`, else `127.0.0.1:3000`.
    #[serde(rename = "LISTEN_ADDRESS", deserialize_with = "socket_address")]
    pub listen_address: Option<SocketAddr>,
    /// How other installations reach this one; by default `http://<LISTEN_ADDRESS>`.
    #[serde(rename = "EXTERNAL_ADDRESS", deserialize_with = "web_address")]
    pub external_address: Option<url::Url>,
    /// The largest photo upload (`512KB`, `10MB`, or bytes).
    #[serde(rename = "UPLOAD_LIMIT")]
    pub upload_limit: Option<ByteSize>,
    /// Reverse proxies (IP addresses, comma-separated) whose `X-Forwarded-For` names the client.
    #[serde(rename = "TRUSTED_PROXIES", deserialize_with = "addresses")]
    pub trusted_proxies: Vec<IpAddr>,
    /// What the header and the login page call this installation; by default the host and
    /// port of `EXTERNAL_ADDRESS`.
    #[serde(rename = "SITE_NAME", deserialize_with = "site_name")]
    pub site_name: Option<String>,
}

/// Every part's settings, read and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerSettings,
    pub engine: engine::Settings,
    pub listen_address: SocketAddr,
    pub external_address: url::Url,
}

/// Every key any part reads, as written in the file or the environment.
pub fn keys() -> Vec<&'static str> {
    [
        keys_of::<ServerSettings>(),
        keys_of::<engine::sync::SyncSettings>(),
        keys_of::<engine::faces::FaceSettings>(),
        keys_of::<engine::monitoring::MonitoringSettings>(),
        keys_of::<engine::auth::AccountSettings>(),
        keys_of::<engine::audit::AuditSettings>(),
        keys_of::<engine::video::VideoSettings>(),
        keys_of::<engine::imports::ImportSettings>(),
    ]
    .concat()
}

impl Settings {
    /// Reads the file (if given) and the environment; the environment wins. Paths neither sets
    /// are the `layout`'s.
    pub fn load(file: Option<&Path>, layout: &Layout) -> Result<Self, SettingError> {
        Self::load_with(file, layout, std::env::vars())
    }

    /// [`Settings::load`] with the environment given.
    pub fn load_with(
        file: Option<&Path>,
        layout: &Layout,
        environment: impl Iterator<Item = (String, String)>,
    ) -> Result<Self, SettingError> {
        let mut builder = config::Config::builder();
        for (key, path) in [
            ("FACE_MODELS_DIR", &layout.face_models_dir),
            ("FACE_INDEX_DIR", &layout.face_index_dir),
            ("IMPORT_DIR", &layout.import_dir),
        ] {
            builder = builder
                .set_default(key, path.to_string_lossy().into_owned())
                .map_err(|e| SettingError::new(key, e.to_string()))?;
        }
        if let Some(file) = file {
            if !file.exists() {
                return Err(SettingError::new(
                    "config file",
                    format!("{} does not exist", file.display()),
                ));
            }
            let values =
                config::Source::collect(&config::File::from(file).format(config::FileFormat::Toml))
                    .map_err(|e| SettingError::new("config file", e.to_string()))?;
            builder = builder.add_source(Kept(not_empty(values)));
        }
        // Only our keys are taken from the environment, so that unrelated variables cannot
        // collide with a setting.
        let ours = keys();
        let environment: HashMap<String, String> = environment
            .filter(|(k, _)| ours.contains(&k.as_str()))
            .collect();
        let config = builder
            .add_source(Values::new("the environment", environment))
            .build()
            .map_err(|e| SettingError::new("config file", e.to_string()))?;
        Self::from_config(config)
    }

    /// The settings of these text values (missing keys take their defaults), as an operator
    /// would write them.
    pub fn from_values(values: &HashMap<&'static str, String>) -> Result<Self, SettingError> {
        let values = values
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let config = config::Config::builder()
            .add_source(Values::new("the settings", values))
            .build()
            .map_err(|e| SettingError::new("settings", e.to_string()))?;
        Self::from_config(config)
    }

    fn from_config(config: config::Config) -> Result<Self, SettingError> {
        let server: ServerSettings = read(&config)?;
        if server.database_url.is_none() {
            return Err(SettingError::new(
                "DATABASE_URL",
                "is required, e.g. postgres://postgres@127.0.0.1:5432/dossier",
            ));
        }
        let listen_address = match server.listen_address {
            Some(address) => address,
            None => {
                let text =
                    std::env::var("LEPTOS_SITE_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
                parse_socket_address(&text).map_err(|m| SettingError::new("LISTEN_ADDRESS", m))?
            }
        };
        let external_address = server.external_address.clone().unwrap_or_else(|| {
            url::Url::parse(&format!("http://{listen_address}")).expect("an address is a URL")
        });
        let site_name = server.site_name.clone().unwrap_or_else(|| {
            match (external_address.host_str(), external_address.port()) {
                (Some(host), Some(port)) => format!("{host}:{port}"),
                (host, None) => host.unwrap_or("dossier database").to_string(),
                (None, Some(_)) => "dossier database".to_string(),
            }
        });
        let engine = engine::Settings {
            site_name,
            address: external_address.as_str().trim_end_matches('/').to_string(),
            sync: read(&config)?,
            faces: read(&config)?,
            monitoring: read(&config)?,
            accounts: read(&config)?,
            audit: read(&config)?,
            video: read(&config)?,
            imports: engine::imports::ImportSettings {
                photo_limit: server
                    .upload_limit
                    .unwrap_or(ByteSize(DEFAULT_UPLOAD_LIMIT))
                    .0,
                ..read(&config)?
            },
        };
        // The checks across keys.
        engine.faces.model()?;
        Ok(Self {
            server,
            engine,
            listen_address,
            external_address,
        })
    }

    pub fn database_url(&self) -> &str {
        self.server
            .database_url
            .as_ref()
            .map(|url| url.expose_secret())
            .unwrap_or_default()
    }

    /// What the web adapters need of the settings.
    pub fn web(&self) -> Web {
        Web {
            upload_limit: self
                .server
                .upload_limit
                .unwrap_or(ByteSize(DEFAULT_UPLOAD_LIMIT))
                .0,
            trusted_proxies: self.server.trusted_proxies.clone(),
            cookie: SessionCookie {
                name: self.cookie_name(),
                secure: self.external_address.scheme() == "https",
            },
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

/// `UPLOAD_LIMIT` when not set.
pub const DEFAULT_UPLOAD_LIMIT: usize = 10 * 1024 * 1024;

/// One part's struct from the settings.
fn read<T: serde::de::DeserializeOwned>(config: &config::Config) -> Result<T, SettingError> {
    config.clone().try_deserialize().map_err(named)
}

/// A key left empty means its default, as if it were not written (`SYNC_TOKEN = ""`).
fn not_empty(values: config::Map<String, config::Value>) -> config::Map<String, config::Value> {
    values
        .into_iter()
        .filter(|(_, v)| {
            v.clone()
                .into_string()
                .map_or(true, |text| !text.trim().is_empty())
        })
        .collect()
}

/// The key a reading error is about, and what is wrong, in the operator's words.
fn named(error: config::ConfigError) -> SettingError {
    use config::ConfigError;
    match error {
        ConfigError::Type {
            key: Some(key),
            unexpected,
            expected,
            ..
        } => SettingError::new(&key, format!("expected {expected}, got {unexpected}")),
        ConfigError::At {
            error,
            key: Some(key),
            ..
        } => {
            let message = match *error {
                ConfigError::Message(message) => message,
                ConfigError::Type {
                    unexpected,
                    expected,
                    ..
                } => format!("expected {expected}, got {unexpected}"),
                other => other.to_string(),
            };
            SettingError::new(&key, message)
        }
        ConfigError::NotFound(key) => SettingError::new(&key, "is required"),
        other => SettingError::new("settings", other.to_string()),
    }
}

/// Text values from one origin (the environment, or a test's), keys as written.
#[derive(Debug, Clone)]
struct Values {
    origin: String,
    values: HashMap<String, String>,
}

impl Values {
    fn new(origin: &str, values: HashMap<String, String>) -> Self {
        Self {
            origin: origin.to_string(),
            values,
        }
    }
}

impl config::Source for Values {
    fn clone_into_box(&self) -> Box<dyn config::Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<config::Map<String, config::Value>, config::ConfigError> {
        Ok(not_empty(
            self.values
                .iter()
                .map(|(k, v)| (k.clone(), config::Value::new(Some(&self.origin), v.clone())))
                .collect(),
        ))
    }
}

/// Values already read, with their origins.
#[derive(Debug, Clone)]
struct Kept(config::Map<String, config::Value>);

impl config::Source for Kept {
    fn clone_into_box(&self) -> Box<dyn config::Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<config::Map<String, config::Value>, config::ConfigError> {
        Ok(self.0.clone())
    }
}

fn database_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    let url = SecretString::deserialize(d)?;
    let parsed = url::Url::parse(url.expose_secret().trim())
        .map_err(|e| serde::de::Error::custom(format!("is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(serde::de::Error::custom("must be a postgres:// URL"));
    }
    Ok(Some(url))
}

fn parse_socket_address(text: &str) -> Result<SocketAddr, String> {
    text.trim()
        .parse()
        .map_err(|e| format!("expected host:port like 127.0.0.1:3000, got {text:?} ({e})"))
}

fn socket_address<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(d)?;
    parse_socket_address(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn web_address<'de, D: Deserializer<'de>>(d: D) -> Result<Option<url::Url>, D::Error> {
    let text = String::deserialize(d)?;
    let url = url::Url::parse(text.trim())
        .map_err(|e| serde::de::Error::custom(format!("{text:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(serde::de::Error::custom(format!(
            "{text:?} must be an http(s) URL with a host"
        )));
    }
    Ok(Some(url))
}

fn addresses<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpAddr>, D::Error> {
    let text = String::deserialize(d)?;
    text.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            a.parse().map_err(|_| {
                serde::de::Error::custom(format!(
                    "expected IP addresses separated by commas, got {a:?}"
                ))
            })
        })
        .collect()
}

fn site_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(d)?;
    domain::input::required_text("SITE_NAME", &text, 100)
        .map(Some)
        .map_err(|e| serde::de::Error::custom(e.message()))
}

#[cfg(test)]
mod tests;
