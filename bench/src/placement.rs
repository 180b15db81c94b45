//! P7 as deployed. In production the Subscribers and their databases run on other machines than
//! the Leader; on one machine the closest to that is a core each: the Leader and its PostgreSQL
//! on the first, the Subscribers and a second PostgreSQL cluster on the second (`taskset`).
//! Processes started later inherit their parent's cores, so pinning a postmaster pins the
//! backends it forks from then on; the ones already running are pinned one by one.

use crate::cluster::BenchResult;
use sqlx::PgPool;
use std::process::Command;

/// The cores of each side.
#[derive(Debug, Clone)]
pub struct Placement {
    pub leader_cpus: String,
    pub subscriber_cpus: String,
    all_cpus: String,
}

impl Placement {
    /// A core for each side, if the machine has two and `taskset` is there.
    pub fn two_sides() -> Option<Self> {
        let cores = std::thread::available_parallelism().ok()?.get();
        let taskset = Command::new("taskset").arg("--version").output().ok()?;
        if cores < 2 || !taskset.status.success() {
            return None;
        }
        Some(Self {
            leader_cpus: "0".into(),
            subscriber_cpus: "1".into(),
            all_cpus: format!("0-{}", cores - 1),
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "the Leader and its PostgreSQL on core {}, the Subscribers and their PostgreSQL (a second cluster) on core {}",
            self.leader_cpus, self.subscriber_cpus
        )
    }

    /// Pins a process (all its threads) to `cpus`.
    pub fn pin(pid: u32, cpus: &str) -> BenchResult<()> {
        let out = Command::new("taskset")
            .args(["-a", "-p", "-c", cpus, &pid.to_string()])
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "taskset of process {pid}: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(())
    }

    /// Pins the PostgreSQL server behind `pool`: its postmaster and every process it has forked.
    pub async fn pin_postgres(pool: &PgPool, cpus: &str) -> BenchResult<()> {
        let data: String = sqlx::query_scalar("SHOW data_directory")
            .fetch_one(pool)
            .await?;
        let pid_file = std::fs::read_to_string(format!("{data}/postmaster.pid"))?;
        let postmaster: u32 = pid_file
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .ok_or("postmaster.pid has no process id")?;
        Self::pin(postmaster, cpus)?;
        for child in children(postmaster) {
            // A backend may end between the listing and the pinning.
            let _ = Self::pin(child, cpus);
        }
        Ok(())
    }

    /// Gives a PostgreSQL server and a process every core again.
    pub async fn release(&self, pool: &PgPool, pid: Option<u32>) -> BenchResult<()> {
        Self::pin_postgres(pool, &self.all_cpus).await?;
        if let Some(pid) = pid {
            Self::pin(pid, &self.all_cpus)?;
        }
        Ok(())
    }
}

/// The processes whose parent is `parent`, from /proc.
fn children(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    // After the command name (which may hold spaces): state, then the parent.
                    let rest = stat.rsplit_once(')')?.1.to_string();
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}
