//! Cameras watched for real: the `dossier` binary, FFmpeg, the face engine, and a real RTSP
//! server (Debian's GStreamer, `scripts/rtsp-server.py`) serving the demo video made from the
//! test photos (`scripts/demo-video.sh`): Obama passes twice with a gap, Biden once.

use super::video_worker_token;
use crate::helpers::{drop_database, fresh_database, test_photo, TestApp};
use crate::process::{data_dir, free_address, wait_for, Server};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An RTSP server serving a clip of `data/demo-video` in a loop at `rtsp://127.0.0.1:PORT/cam`.
struct Rtsp(Child);

impl Rtsp {
    fn start(clip: &str, port: u16) -> Self {
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/rtsp-server.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(port.to_string())
            .arg(data_dir("demo-video").join(clip))
            .stdout(Stdio::piped())
            .spawn()
            .expect(
                "run scripts/install-tools.sh: Debian's python3-gi and GStreamer's RTSP server",
            );
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the RTSP server did not start");
        Self(child)
    }
}

impl Drop for Rtsp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    free_address().rsplit_once(':').unwrap().1.parse().unwrap()
}

/// What a real installation with the built-in engine needs besides the tests' settings.
fn with_engine<'a>(more: &[(&'a str, &'a str)]) -> Vec<(&'a str, String)> {
    let mut env = vec![
        ("FACE_MODEL", face_engine::MODEL_NAME.to_string()),
        ("FACE_VECTOR_LENGTH", String::new()),
        (
            "FACE_MODELS_DIR",
            data_dir("face-models").to_string_lossy().to_string(),
        ),
        ("RUST_LOG", "info".to_string()),
    ];
    env.extend(more.iter().map(|(k, v)| (*k, v.to_string())));
    env
}

fn pairs<'a>(env: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn call(server: &Server, endpoint: &str, token: &str, body: Value) -> Value {
    let answer = reqwest::Client::new()
        .post(format!("{}/api/{endpoint}", server.base))
        .header("Authorization", format!("Token {token}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "{endpoint}: {}",
        answer.status()
    );
    answer.json().await.unwrap()
}

struct Status {
    state: String,
    detail: Option<String>,
    worker: Option<String>,
    next_retry: bool,
}

async fn status(db: &PgPool, camera: i64) -> Status {
    let (state, detail, worker, next_retry): (String, Option<String>, Option<String>, bool) = sqlx::query_as(
        "SELECT state, detail, CASE WHEN leased_until > now() THEN leased_by END, next_retry_at IS NOT NULL
         FROM camera_status WHERE camera_id = $1",
    )
    .bind(camera)
    .fetch_one(db)
    .await
    .unwrap();
    Status {
        state,
        detail,
        worker,
        next_retry,
    }
}

async fn wait_for_state(db: &PgPool, camera: i64, state: &str, limit: Duration) -> Status {
    wait_for(&format!("the camera to be {state}"), limit, || async {
        status(db, camera).await.state == state
    })
    .await;
    status(db, camera).await
}

#[sqlx::test(migrations = "../migrations")]
async fn a_camera_makes_one_event_per_person_seen_and_says_when_its_stream_fails(pool: PgPool) {
    let (db, url) = fresh_database(&pool).await;
    let app = TestApp::with_faces(db.clone()).await;
    let list = app.watch_list("Wanted").await;
    let obama = app.dossier("Barack Obama", &[list]).await;
    let id = obama.to_string();
    let photo = test_photo("obama.jpg");
    let uploaded = app
        .upload(
            &app.operator,
            &[("dossier_id", id.as_bytes()), ("image", &photo)],
        )
        .await;
    assert_eq!(
        uploaded.status,
        200,
        "{}",
        String::from_utf8_lossy(&uploaded.body)
    );

    let port = free_port();
    let rtsp = Rtsp::start("people.mp4", port);
    let env = with_engine(&[]);
    let server = Server::start(&url, &free_address(), &pairs(&env));
    server.ready().await;
    let camera = call(
        &server,
        "cameras/create",
        &app.admin,
        json!({"name": "entrance", "url": format!("rtsp://127.0.0.1:{port}/cam"), "enabled": true}),
    )
    .await
    .as_i64()
    .unwrap();
    let streaming = wait_for_state(&db, camera, "streaming", Duration::from_secs(30)).await;
    assert!(streaming.worker.is_some());

    // The clip lasts 30 s and loops: its three people make their events by 23 s or so.
    wait_for("three events", Duration::from_secs(40), || async {
        app.count("events").await >= 3
    })
    .await;
    drop(rtsp);
    type Event = (i64, Option<i64>, Option<i64>, bool, bool, f32, f64);
    let events: Vec<Event> = sqlx::query_as(
        "SELECT id, dossier_id, camera_id, face_jpeg IS NOT NULL, frame_jpeg IS NOT NULL, quality,
                extract(epoch FROM last_seen_at - captured_at)::float8
         FROM events ORDER BY captured_at",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let log = server.log();
    eprintln!("events: {events:?}");
    assert_eq!(events.len(), 3, "{events:?}\n{log}");
    let matched: Vec<Option<i64>> = events.iter().map(|e| e.1).collect();
    assert_eq!(
        matched,
        [Some(obama), Some(obama), None],
        "Obama twice, then a stranger"
    );
    for (id, _, on, face, frame, quality, lasted) in &events {
        assert_eq!(*on, Some(camera), "event {id}");
        assert!(*face && *frame, "event {id} keeps its face and its frame");
        assert!(
            *quality >= 0.3,
            "event {id}: its best shot passed the gate ({quality})"
        );
        // The person is in view for three seconds; a loaded machine skips frames (the analysis
        // takes the latest), so the first and last frames they are found in may come late
        // and early, but the event spans more than its first shot.
        assert!(
            *lasted >= 1.0,
            "event {id} spans the person's three seconds, not {lasted:.1} s"
        );
    }

    // The stream stops: the status says so, with the error and the next try.
    let failed = wait_for_state(&db, camera, "failed", Duration::from_secs(10)).await;
    assert!(
        failed.detail.as_deref().is_some_and(|d| !d.is_empty()),
        "failed without a reason"
    );
    assert!(failed.next_retry);

    // It comes back (nobody in front of it now): streaming again, and no event twice.
    let _back = Rtsp::start("empty.mp4", port);
    wait_for_state(&db, camera, "streaming", Duration::from_secs(40)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(app.count("events").await, 3);
    let snapshot = reqwest::Client::new()
        .get(format!("{}/cameras/{camera}/snapshot", server.base))
        .header("Authorization", format!("Token {}", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(snapshot.status(), 200);
    assert_eq!(&snapshot.bytes().await.unwrap()[..2], &[0xFF, 0xD8]);
    drop(server);
    drop_database(&pool, db, &url).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_dead_video_worker_loses_its_camera_to_another_within_the_lease(pool: PgPool) {
    let (db, url) = fresh_database(&pool).await;
    let app = TestApp::new(db.clone()).await;
    let token = video_worker_token(&app).await;
    let port = free_port();
    let _rtsp = Rtsp::start("empty.mp4", port);
    // The server watches no camera itself: two workers elsewhere do.
    let env = with_engine(&[("VIDEO_WORKER_CAMERAS", "0")]);
    let server = Server::start(&url, &free_address(), &pairs(&env));
    server.ready().await;
    let camera = call(
        &server,
        "cameras/create",
        &app.admin,
        json!({"name": "yard", "url": format!("rtsp://127.0.0.1:{port}/cam"), "enabled": true}),
    )
    .await
    .as_i64()
    .unwrap();
    let workers = [
        Server::video_worker(&server.base, &token, &[]),
        Server::video_worker(&server.base, &token, &[]),
    ];
    let first = wait_for_state(&db, camera, "streaming", Duration::from_secs(30)).await;
    let holder = first.worker.clone().unwrap();
    let (dead, alive): (Vec<Server>, Vec<Server>) = workers
        .into_iter()
        .partition(|w| holder.contains(&format!("/{}/", w.pid())));
    assert_eq!(
        dead.len(),
        1,
        "the holder {holder} is one of the two workers"
    );
    dead.into_iter().next().unwrap().kill9();
    let killed = Instant::now();

    wait_for(
        "the other worker to take the camera",
        Duration::from_secs(40),
        || async {
            let now = status(&db, camera).await;
            now.state == "streaming" && now.worker.as_ref().is_some_and(|w| *w != holder)
        },
    )
    .await;
    let took = killed.elapsed();
    // The lease (15 s), the next renewal (4 s) and the stream's first frame.
    assert!(took < Duration::from_secs(25), "taken over after {took:?}");

    // A worker stopped with SIGTERM gives its camera up: none holds it until the other...
    // there is no other now; the camera waits.
    let (status_code, _, log) = alive
        .into_iter()
        .next()
        .unwrap()
        .sigterm(Duration::from_secs(25))
        .await;
    assert!(status_code.success(), "{log}");
    let after = status(&db, camera).await;
    assert_eq!(
        (after.state.as_str(), after.worker),
        ("waiting", None),
        "{log}"
    );
    drop(server);
    drop_database(&pool, db, &url).await;
}
