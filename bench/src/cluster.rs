//! Real installations for the measures: each a `dossier serve` process on a free port with its
//! own fresh database, set up the way an operator would (migrate, create-groups, an
//! administrator) plus an API token the benchmark drives it with.

use sqlx::postgres::{PgPool, PgPoolOptions};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The secret every instance of a run shares; a benchmark-only value.
pub const SYNC_TOKEN: &str = "bench-sync-token-0123456789abcdef";

pub type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Where the instances come from and where they keep their data.
#[derive(Clone)]
pub struct Cluster {
    /// `postgres://user@host:port`, without a database.
    pub pg_base: String,
    pub bin: PathBuf,
    pub site_root: PathBuf,
    pub log_dir: PathBuf,
    /// Databases are named `<prefix>_<name>` so that a run never touches anything else.
    pub prefix: String,
    /// The cores `dossier serve` processes run on (`taskset -c`), if they are pinned.
    pub cpus: Option<String>,
}

impl Cluster {
    pub fn database_url(&self, name: &str) -> String {
        format!("{}/{}_{}", self.pg_base, self.prefix, name)
    }

    /// Drops and creates an empty database.
    pub async fn fresh_database(&self, name: &str) -> BenchResult<()> {
        self.drop_database(name).await?;
        let admin = PgPool::connect(&format!("{}/postgres", self.pg_base)).await?;
        let db = format!("{}_{}", self.prefix, name);
        sqlx::query(&format!("CREATE DATABASE \"{db}\""))
            .execute(&admin)
            .await?;
        admin.close().await;
        Ok(())
    }

    pub async fn drop_database(&self, name: &str) -> BenchResult<()> {
        let admin = PgPool::connect(&format!("{}/postgres", self.pg_base)).await?;
        let db = format!("{}_{}", self.prefix, name);
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
            .execute(&admin)
            .await?;
        admin.close().await;
        Ok(())
    }

    /// A pool on the database if it exists and holds at least `dossiers` dossiers: a run with
    /// `--keep` left it behind.
    pub async fn kept(&self, name: &str, dossiers: u64) -> Option<PgPool> {
        let pool = self.data_pool(name).await.ok()?;
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM dossiers")
            .fetch_one(&pool)
            .await
            .ok()?;
        (count as u64 >= dossiers).then_some(pool)
    }

    /// Runs one `dossier` command against a database and fails with its output if it fails.
    pub fn command(&self, db: &str, args: &[&str]) -> BenchResult<()> {
        let out = Command::new(&self.bin)
            .args(args)
            .env("DATABASE_URL", self.database_url(db))
            .env("DOSSIER_PASSWORD", "bench-password")
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "`dossier {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(())
    }

    /// A fresh, migrated database with the groups and an administrator, and a pool on it.
    pub async fn prepare(&self, db: &str) -> BenchResult<PgPool> {
        self.fresh_database(db).await?;
        self.command(db, &["migrate"])?;
        self.command(db, &["create-groups"])?;
        self.command(
            db,
            &[
                "create-user",
                "--username",
                "bench",
                "--group",
                "Administrator",
            ],
        )?;
        self.data_pool(db).await
    }

    /// The pool the benchmark generates and changes data with, directly in SQL. It is a bulk
    /// loader, not a person: the audit log's row triggers are off on it (the server's own writes,
    /// which the measures time, are recorded as always).
    async fn data_pool(&self, db: &str) -> BenchResult<PgPool> {
        let options: sqlx::postgres::PgConnectOptions = self.database_url(db).parse()?;
        Ok(PgPoolOptions::new()
            .max_connections(40)
            .connect_with(options.options([("dossier.audit_rows", "off")]))
            .await?)
    }

    /// Starts `dossier serve` on a prepared database and waits until it answers.
    pub async fn start(&self, db: &str, pool: PgPool) -> BenchResult<Instance> {
        self.start_with(db, pool, &[]).await
    }

    /// Like [`Cluster::start`], with settings of its own (`KEY`, value) in its environment.
    pub async fn start_with(
        &self,
        db: &str,
        pool: PgPool,
        settings: &[(&str, String)],
    ) -> BenchResult<Instance> {
        let port = free_port()?;
        let url = format!("http://127.0.0.1:{port}");
        let log = std::fs::File::create(self.log_dir.join(format!("{db}.log")))?;
        let mut command = match &self.cpus {
            Some(cpus) => {
                let mut taskset = Command::new("taskset");
                taskset.args(["-c", cpus]).arg(&self.bin);
                taskset
            }
            None => Command::new(&self.bin),
        };
        let child = command
            .arg("serve")
            .env("DATABASE_URL", self.database_url(db))
            .env("LISTEN_ADDRESS", format!("127.0.0.1:{port}"))
            .env("EXTERNAL_ADDRESS", &url)
            .env("SYNC_TOKEN", SYNC_TOKEN)
            .env("SYNC_AT_CREATION", "true")
            .env("SYNC_AT_STARTUP", "false")
            .env("LEPTOS_SITE_ROOT", &self.site_root)
            .env("LEPTOS_ENV", "PROD")
            .env("RUST_LOG", "warn")
            .envs(settings.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        let user_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'bench'")
            .fetch_one(&pool)
            .await?;
        let api_token = engine::auth::issue_token(&mut *pool.acquire().await?, user_id).await?;
        let instance = Instance {
            url,
            pool,
            child,
            api_token,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .pool_max_idle_per_host(64)
                .build()?,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let up = instance
                .http
                .get(format!("{}/healthz", instance.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                return Ok(instance);
            }
            if Instant::now() > deadline {
                return Err(format!("{db}: the server did not answer /healthz within 30 s").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A running installation.
pub struct Instance {
    pub url: String,
    pub pool: PgPool,
    pub api_token: String,
    pub http: reqwest::Client,
    child: Child,
}

/// What a load's workers need of an instance to send it requests, shareable among them.
#[derive(Clone)]
pub struct Remote {
    pub url: String,
    pub api_token: String,
    pub http: reqwest::Client,
}

impl Remote {
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.url))
            .header("Authorization", format!("Token {}", self.api_token))
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.url))
            .header("Authorization", format!("Token {}", self.api_token))
    }
}

impl Instance {
    pub fn remote(&self) -> Remote {
        Remote {
            url: self.url.clone(),
            api_token: self.api_token.clone(),
            http: self.http.clone(),
        }
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.remote().get(path)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.remote().post(path)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory of the process so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    }

    /// CPU time the process has used so far (user + system), in seconds.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the command name (which may hold spaces) start at ")".
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        // USER_HZ is 100 on Linux.
        Some(ticks / 100.0)
    }

    pub fn stop(self) {
        drop(self);
    }
}

/// An instance never outlives the benchmark, even when a measure fails half-way.
impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> BenchResult<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
