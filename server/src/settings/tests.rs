//! The settings as an operator writes them: defaults, and bad values named by their key.

use super::*;

fn with(pairs: &[(&'static str, &str)]) -> Result<Settings, SettingError> {
    let mut values: HashMap<&'static str, String> = [(
        "DATABASE_URL",
        "postgres://postgres@127.0.0.1/dossier".to_string(),
    )]
    .into();
    for (k, v) in pairs {
        values.insert(k, v.to_string());
    }
    Settings::from_values(&values)
}

#[test]
fn defaults_are_usable() {
    let s = with(&[]).unwrap();
    let model = s.engine.faces.model().unwrap();
    assert_eq!(model.name, face_engine::MODEL_NAME);
    assert_eq!(model.vector_length, face_engine::VECTOR_LENGTH);
    let external = with(&[("FACE_MODEL", "vendor-x")]).unwrap();
    assert_eq!(external.engine.faces.model().unwrap().vector_length, 512);
    assert_eq!(
        with(&[("FACE_VECTOR_LENGTH", "512")]).unwrap_err().key,
        "FACE_VECTOR_LENGTH"
    );
    assert_eq!(s.web().upload_limit, 10 * 1024 * 1024);
    let sync = &s.engine.sync;
    assert!(sync.web_ui && sync.at_creation && !sync.at_startup);
    let defaults = engine::sync::SyncSettings::default();
    assert_eq!(sync.concurrency, defaults.concurrency);
    assert_eq!(sync.max_delete_ratio, defaults.max_delete_ratio);
    assert_eq!(
        with(&[("SYNC_MAX_DELETE_RATIO", "25%")])
            .unwrap()
            .engine
            .sync
            .max_delete_ratio
            .0,
        0.25
    );
    assert_eq!(
        sync.schedule().text(),
        engine::sync::schedule::DEFAULT_SCHEDULE
    );
}

#[test]
fn bad_values_name_their_key() {
    for (key, value) in [
        ("SYNC_SCHEDULE", "FREQ=NEVER"),
        ("EXTERNAL_ADDRESS", "not a url"),
        ("EXTERNAL_ADDRESS", "ftp://example.org"),
        ("SYNC_AT_STARTUP", "maybe"),
        ("UPLOAD_LIMIT", "ten megs"),
        ("SYNC_TIMEZONE", "Mars/Olympus"),
        ("LISTEN_ADDRESS", "localhost"),
        ("SYNC_TOKEN", "short"),
        ("DATABASE_URL", "mysql://x"),
        ("SYNC_CONCURRENCY", "0"),
        ("SYNC_CONCURRENCY", "many"),
        ("SYNC_MAX_DELETE_RATIO", "1.5"),
        ("SYNC_MAX_DELETE_RATIO", "half"),
        ("SYNC_MAX_DELETE_RATIO", "-10%"),
        ("SESSION_IDLE_MINUTES", "-1"),
        ("SESSION_IDLE_MINUTES", "an hour"),
        ("AUDIT_RETENTION_DAYS", "0"),
        ("TRUSTED_PROXIES", "127.0.0.1, proxy.local"),
        ("SITE_NAME", "bell\u{7}"),
    ] {
        let err = with(&[(key, value)]).unwrap_err();
        assert_eq!(err.key, key, "{key}={value} should be refused");
        assert!(err.to_string().starts_with(&format!("setting {key}:")));
    }
}

#[test]
fn each_address_gets_its_own_secure_when_https_session_cookie() {
    let leader = with(&[("EXTERNAL_ADDRESS", "http://127.0.0.1:3000")]).unwrap();
    let subscriber = with(&[("EXTERNAL_ADDRESS", "http://127.0.0.1:3100")]).unwrap();
    assert_ne!(leader.cookie_name(), subscriber.cookie_name());
    assert_eq!(leader.cookie_name(), leader.web().cookie.name);
    assert!(!leader.web().cookie.secure);
    let https = with(&[("EXTERNAL_ADDRESS", "https://dossiers.example.org")]).unwrap();
    assert!(https.web().cookie.secure);
    assert_eq!(
        leader.engine.accounts.idle_minutes(),
        engine::auth::AccountSettings::default().idle_minutes()
    );
    let off = with(&[("SESSION_IDLE_MINUTES", "0")]).unwrap();
    assert_eq!(off.engine.accounts.idle_minutes(), 0);
}

#[test]
fn the_token_never_prints() {
    let s = with(&[("SYNC_TOKEN", "a-very-secret-token-value")]).unwrap();
    assert!(!format!("{s:?}").contains("a-very-secret-token-value"));
    assert_eq!(s.engine.sync.token.expose(), "a-very-secret-token-value");
    let url = with(&[("DATABASE_URL", "postgres://u:hunter2hunter2@db/x")]).unwrap();
    assert!(!format!("{url:?}").contains("hunter2hunter2"));
}

#[test]
fn the_file_is_read_and_the_paths_it_leaves_out_are_the_layouts() {
    let dir = std::env::temp_dir().join(format!("dossier-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("dossier.toml");
    std::fs::write(
        &file,
        "DATABASE_URL = \"postgres://postgres@127.0.0.1/dossier\"\nSITE_NAME = \"Gate 4\"\nSYNC_TOKEN = \"\"\nSYNC_CONCURRENCY = 8\nSYNC_AT_STARTUP = true\nFACE_THRESHOLD = 0.8\n",
    )
    .unwrap();
    let installed =
        Settings::load_with(Some(&file), &Layout::installed(), std::iter::empty()).unwrap();
    assert_eq!(
        installed.engine.site_name, "Gate 4",
        "the file's keys are read"
    );
    assert_eq!(installed.engine.sync.concurrency.get(), 8);
    assert!(installed.engine.sync.at_startup && !installed.engine.sync.token.is_set());
    assert_eq!(installed.engine.monitoring.threshold(), 0.8);
    assert_eq!(
        installed.engine.faces.models_dir,
        Path::new("/usr/share/dossier/face-models")
    );
    assert_eq!(
        installed.engine.monitoring.index_dir.as_deref(),
        Some(Path::new("/var/lib/dossier/face-index"))
    );
    std::fs::write(
        &file,
        "DATABASE_URL = \"postgres://postgres@127.0.0.1/dossier\"\nFACE_INDEX_DIR = \"/srv/faces\"\n",
    )
    .unwrap();
    let chosen =
        Settings::load_with(Some(&file), &Layout::installed(), std::iter::empty()).unwrap();
    assert_eq!(
        chosen.engine.monitoring.index_dir.as_deref(),
        Some(Path::new("/srv/faces"))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The README's settings table lists exactly the keys the parts read, so that adding a key is
/// one field with its doc comment, and the table follows.
#[test]
fn the_readme_lists_every_key_and_no_other() {
    let readme = include_str!("../../../README.md");
    let section = readme
        .split("\n## Settings\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the README has a Settings section");
    let mut documented: Vec<&str> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .collect();
    let mut read = keys();
    documented.sort_unstable();
    read.sort_unstable();
    assert_eq!(documented, read);
    let example = include_str!("../../../dossier.example.toml");
    for key in read {
        assert!(
            example.contains(key),
            "dossier.example.toml says nothing of {key}"
        );
    }
}

#[test]
fn the_example_settings_file_reads_as_it_says() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dossier.example.toml");
    let environment = [("SYNC_CONCURRENCY".to_string(), "6".to_string())];
    let example =
        Settings::load_with(Some(&file), &Layout::checkout(), environment.into_iter()).unwrap();
    assert!(!example.engine.sync.token.is_set());
    assert_eq!(
        example.engine.sync.concurrency.get(),
        6,
        "the environment wins"
    );
    assert_eq!(example.engine.sync.max_delete_ratio.0, 0.5);
    assert_eq!(example.engine.monitoring.threshold(), 0.75);
    assert_eq!(example.web().upload_limit, 10 * 1024 * 1024);
    assert_eq!(example.listen_address.to_string(), "127.0.0.1:3000");
}
