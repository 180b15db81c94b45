//! The real `dossier` binary as a process of its own, for the tests of what only a process
//! shows: being killed, being stopped by a signal, starting again over the same database.

use crate::helpers::SYNC_TOKEN;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// Waits until `check` holds, at most `limit`.
pub async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An address of this machine nothing listens on.
pub fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// A `dossier` process (`serve` over a database, listening at an address; or `video-worker`),
/// its log kept in a file.
pub struct Server {
    child: Child,
    pub base: String,
    log: PathBuf,
}

impl Server {
    /// Starts the binary on `database_url` at `address` with the tests' model (4 floats, no
    /// engine) and sync token, and `env` besides.
    pub fn start(database_url: &str, address: &str, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dossier"));
        command
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("LISTEN_ADDRESS", address)
            .env("SYNC_TOKEN", SYNC_TOKEN)
            .env("FACE_MODEL", "face-v1")
            .env("FACE_VECTOR_LENGTH", "4")
            .env("RUST_LOG", "warn")
            // The saved face index goes where tests may write, not into the checkout.
            .env(
                "FACE_INDEX_DIR",
                std::env::temp_dir().join(format!("dossier-face-index-{address}")),
            );
        Self::spawn(command, format!("http://{address}"), env)
    }

    /// Starts `dossier video-worker` for the server at `base`, with the built-in face engine
    /// and the token of a Video worker account, watching at most one camera.
    pub fn video_worker(base: &str, token: &str, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dossier"));
        command
            .args(["video-worker", "--server", base, "--cameras", "1"])
            .env("VIDEO_WORKER_TOKEN", token)
            .env("FACE_MODELS_DIR", data_dir("face-models"))
            .env("RUST_LOG", "info");
        Self::spawn(command, String::new(), env)
    }

    fn spawn(mut command: Command, base: String, env: &[(&str, &str)]) -> Self {
        let log = std::env::temp_dir().join(format!("dossier-{}.log", rand_suffix()));
        let file = std::fs::File::create(&log).expect("a log file in the temp directory");
        for (key, value) in env {
            command.env(key, value);
        }
        // The log goes to standard output, the rest (panics, Leptos' notes) to standard error.
        let child = command
            .stdout(file.try_clone().expect("the log file opens twice"))
            .stderr(file)
            .spawn()
            .expect("the dossier binary starts");
        Self { child, base, log }
    }

    /// The process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the server answers `/healthz`.
    pub async fn ready(&self) {
        let http = reqwest::Client::new();
        let url = format!("{}/healthz", self.base);
        wait_for("the server to answer", Duration::from_secs(30), || {
            let (http, url) = (http.clone(), url.clone());
            async move {
                http.get(url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await;
    }

    /// The seed's `POST /sync/dossier-lists/` to this server, as its Administrator `admin`:
    /// replicate the Leader's list `remote` into the local list `local`.
    pub async fn subscribe(&self, admin: &str, leader_url: &str, remote: i64, local: i64) {
        let created = reqwest::Client::new()
            .post(format!("{}/sync/dossier-lists/", self.base))
            .header("Authorization", format!("Token {admin}"))
            .json(&serde_json::json!({"remote_dossier_list": remote, "remote_url": leader_url, "slave_dossier_list": local}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, as `systemctl stop` sends it; returns how the process ended, how long it
    /// took (at most `limit`, or the test fails) and what it logged.
    pub async fn sigterm(mut self, limit: Duration) -> (ExitStatus, Duration, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, started.elapsed(), self.log());
            }
            assert!(
                started.elapsed() < limit,
                "still running {limit:?} after SIGTERM; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What the process logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A directory of the checkout's `data/` (face models, test photos, the demo video).
pub fn data_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(name)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}
