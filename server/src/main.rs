//! `dossier`: the one binary of the dossier database.

use clap::{Parser, Subcommand};
use server::layout::Layout;
use server::settings::Settings;
use std::path::PathBuf;
use std::process::ExitCode;

// Rendering a page makes many small, short-lived allocations; profiling the dossier list page
// under load put half of the server's CPU time in glibc's malloc and free. mimalloc serves
// them from per-thread pages.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "dossier", version, about = "Distributed dossier database")]
struct Cli {
    /// Settings file (TOML, the keys in capitals as in the environment). Environment
    /// variables override it. Installed from the Debian package, /etc/dossier/dossier.toml
    /// when not given.
    #[arg(long, env = "DOSSIER_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// What to do; `serve` when omitted (as `cargo leptos serve` runs it).
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web app and the API.
    Serve,
    /// Apply the database migrations (safe to run again).
    Migrate,
    /// Create the built-in groups Administrator, Operator and User (safe to run again).
    CreateGroups,
    /// Create a user.
    CreateUser {
        #[arg(long)]
        username: String,
        /// The password; prefer the environment variable, which stays out of `ps`.
        #[arg(long, env = "DOSSIER_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long, default_value = "User")]
        group: String,
        /// Do nothing if the username exists already.
        #[arg(long)]
        if_missing: bool,
    },
    /// Watch cameras for a server on another machine: take cameras from it, analyse their
    /// streams here, post what they show. The token (of an account in the Video worker group)
    /// comes from the environment, never the command line.
    VideoWorker {
        /// The server's address, e.g. https://dossier.example.org
        #[arg(long, env = "VIDEO_SERVER")]
        server: String,
        /// The most cameras it watches at once (VIDEO_WORKER_CAMERAS when not given).
        #[arg(long)]
        cameras: Option<u32>,
    },
    /// Work on the photos' faces.
    Faces {
        #[command(subcommand)]
        action: FacesCommand,
    },
    /// Import dossiers from a CSV (a row per person: name, and optionally external_key,
    /// comment, active, lists, meta, meta.<field>, photos), their photos from a folder. Rows
    /// with an external key update their dossier when imported again; refused rows are
    /// written to a report with their line and reason. Killed, the same command goes on
    /// where it stopped.
    Import {
        /// The CSV file (UTF-8; `,` or `;` between fields).
        file: PathBuf,
        /// The folder the `photos` column's file names are in.
        #[arg(long)]
        photos: Option<PathBuf>,
        /// Create the lists the rows name that do not exist (else such rows are refused).
        #[arg(long)]
        create_lists: bool,
        /// A watch list every row joins, besides those its `lists` cell names.
        #[arg(long)]
        list: Option<String>,
        /// Where the refused rows are written (import-<id>-refused.csv when not given).
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Add generated demo data: two watch lists and this many dossiers with photos.
    DemoData {
        #[arg(long, default_value_t = 100)]
        dossiers: u32,
        /// A directory with face_recognition's test photos: a dossier with a real face
        /// (biden.jpg) is added from it, its vector computed by the face engine.
        #[arg(long)]
        photos: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum FacesCommand {
    /// Compute the vectors of the photos stored without one (not those replicated from a
    /// Leader), in batches; safe to interrupt and run again.
    Backfill {
        /// Photos per batch (one transaction each).
        #[arg(long, default_value_t = 32)]
        batch_size: i64,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    // Colours only for a terminal: the journal and log files get plain text.
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("dossier: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let layout = Layout::of_this_binary();
    let config = cli.config.or_else(|| layout.config.clone());
    let settings = Settings::load(config.as_deref(), &layout).map_err(|e| e.to_string())?;
    // A video worker elsewhere needs no database: the server is its way in.
    if let Some(Command::VideoWorker { server, cameras }) = cli.command {
        return server::video_worker::run(&settings, &server, cameras).await;
    }
    let pool = server::connect(settings.database_url())
        .await
        .map_err(|e| format!("cannot connect to the database (DATABASE_URL): {e}"))?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => {
            server::MIGRATOR
                .run(&pool)
                .await
                .map_err(|e| format!("migration failed: {e}"))?;
            println!("database migrated");
        }
        Command::CreateGroups => {
            engine::auth::create_groups(&pool)
                .await
                .map_err(|e| e.to_string())?;
            println!("groups Administrator, Operator, User, Camera and Video worker are in place");
        }
        Command::CreateUser {
            username,
            password,
            group,
            if_missing,
        } => {
            let mut db = pool.acquire().await.map_err(|e| e.to_string())?;
            match engine::auth::create_user(&mut db, &username, &password, &group).await {
                Ok(id) => println!("created user {username} (id {id}) in group {group}"),
                Err(e) if if_missing && e.field() == Some("username") && e.status() == 409 => {
                    println!("user {username} exists already")
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Command::DemoData { dossiers, photos } => {
            let added = engine::demo::add(&pool, dossiers)
                .await
                .map_err(|e| e.to_string())?;
            println!("added {added} demo dossiers with generated photos (no faces)");
            if let Some(dir) = photos {
                let engine = server::faces::built_in(&settings, "--photos").await?;
                let model = settings.engine.faces.model().map_err(|e| e.to_string())?;
                let real = engine::demo::add_real_faces(&pool, &model, &engine, &dir)
                    .await
                    .map_err(|e| e.to_string())?;
                println!(
                    "added {real} demo dossiers with real faces from {}",
                    dir.display()
                );
            }
        }
        Command::Faces {
            action: FacesCommand::Backfill { batch_size },
        } => server::faces::backfill(&settings, &pool, batch_size).await?,
        Command::Import {
            file,
            photos,
            create_lists,
            list,
            report,
        } => {
            let ask = server::imports::ImportCommand {
                file,
                photos,
                create_lists,
                list,
                report,
            };
            server::imports::run(&settings, &pool, ask).await?
        }
        Command::Serve => server::serve::serve(settings, &layout, pool).await?,
        Command::VideoWorker { .. } => unreachable!("handled before connecting"),
    }
    Ok(())
}
