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
    assert_eq!(s.face_model, face_engine::MODEL_NAME);
    assert_eq!(s.face_vector_length, face_engine::VECTOR_LENGTH);
    let external = with(&[("FACE_MODEL", "vendor-x")]).unwrap();
    assert_eq!(external.face_vector_length, 512);
    assert_eq!(
        with(&[("FACE_VECTOR_LENGTH", "512")]).unwrap_err().key,
        "FACE_VECTOR_LENGTH"
    );
    assert_eq!(s.upload_limit, 10 * 1024 * 1024);
    assert!(s.sync_web_ui && s.sync_at_creation && !s.sync_at_startup);
    assert_eq!(s.sync_concurrency, DEFAULT_SYNC_CONCURRENCY);
    assert_eq!(s.sync_max_delete_ratio, DEFAULT_MAX_DELETE_RATIO);
    assert_eq!(
        with(&[("SYNC_MAX_DELETE_RATIO", "25%")])
            .unwrap()
            .sync_max_delete_ratio,
        0.25
    );
    assert_eq!(s.sync_schedule.text(), DEFAULT_SCHEDULE);
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
    assert_eq!(
        leader.cookie_name(),
        leader.domain_settings().sessions.cookie_name
    );
    assert!(!leader.domain_settings().sessions.secure);
    let https = with(&[("EXTERNAL_ADDRESS", "https://dossiers.example.org")]).unwrap();
    assert!(https.domain_settings().sessions.secure);
    assert_eq!(leader.session_idle_minutes, DEFAULT_SESSION_IDLE_MINUTES);
    let off = with(&[("SESSION_IDLE_MINUTES", "0")]).unwrap();
    assert_eq!(off.domain_settings().sessions.idle_minutes, 0);
}

#[test]
fn the_token_never_prints() {
    let s = with(&[("SYNC_TOKEN", "a-very-secret-token-value")]).unwrap();
    assert!(!format!("{s:?}").contains("a-very-secret-token-value"));
    assert_eq!(s.sync_token.expose(), "a-very-secret-token-value");
}

#[test]
fn sizes_take_units() {
    assert_eq!(parse_size("10MB"), Some(10 * 1024 * 1024));
    assert_eq!(parse_size("512 kb"), Some(512 * 1024));
    assert_eq!(parse_size("1048576"), Some(1048576));
    assert_eq!(parse_size("0"), None);
}

#[test]
fn the_file_is_read_and_the_paths_it_leaves_out_are_the_layouts() {
    let dir = std::env::temp_dir().join(format!("dossier-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("dossier.toml");
    std::fs::write(
        &file,
        "DATABASE_URL = \"postgres://postgres@127.0.0.1/dossier\"\nSITE_NAME = \"Gate 4\"\n",
    )
    .unwrap();
    let installed = Settings::load(Some(&file), &Layout::installed()).unwrap();
    assert_eq!(installed.site_name, "Gate 4", "the file's keys are read");
    assert_eq!(
        installed.face_models_dir,
        Path::new("/usr/share/dossier/face-models")
    );
    assert_eq!(
        installed.face_index_dir,
        Path::new("/var/lib/dossier/face-index")
    );
    std::fs::write(
        &file,
        "DATABASE_URL = \"postgres://postgres@127.0.0.1/dossier\"\nFACE_INDEX_DIR = \"/srv/faces\"\n",
    )
    .unwrap();
    let chosen = Settings::load(Some(&file), &Layout::installed()).unwrap();
    assert_eq!(chosen.face_index_dir, Path::new("/srv/faces"));
    std::fs::remove_dir_all(&dir).unwrap();
}
