//! P11: the face engine on real photos. Detecting and describing one photo of up to 2 Mpx (the
//! engine alone, from decoded pixels, one photo at a time), against decoding the same JPEG in
//! the same run; and the backfill's rate over a database of real photos, with every core.

use crate::cluster::{BenchResult, Cluster};
use face_engine::Engine;
use image::RgbImage;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The photos measured: every test photo of face_recognition that shows one whole face.
const PHOTOS: &[&str] = &[
    "obama.jpg",
    "obama2.jpg",
    "obama3.jpg",
    "biden.jpg",
    "32bit.png",
];
/// Photos are scaled down to at most this many pixels first: the goal is stated for 2 Mpx.
const MAX_PIXELS: f64 = 2_000_000.0;

#[derive(Debug, Serialize)]
pub struct Faces {
    pub photos: usize,
    pub samples: usize,
    pub megapixels: Vec<f64>,
    /// Detection and description of one photo.
    pub analysis: Timing,
    /// Decoding the same photo (as JPEG of the same size), the baseline.
    pub decode: Timing,
    pub p50_ratio: f64,
    pub backfill_photos: u64,
    pub backfill_seconds: f64,
    pub backfill_per_second: f64,
    pub workers: usize,
}

/// Runs P11 with the models in `models` and the photos in `photos_dir`.
pub async fn faces(
    cluster: &Cluster,
    models: &Path,
    photos_dir: &Path,
    rounds: usize,
    backfill_photos: u64,
) -> BenchResult<Faces> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let engine = Arc::new(
        Engine::load(models, workers)
            .map_err(|e| format!("{e}: run scripts/install-tools.sh first"))?,
    );
    let pictures = pictures(photos_dir)?;
    let jpegs: Vec<Vec<u8>> = pictures.iter().map(jpeg).collect::<BenchResult<_>>()?;

    let (mut analysis, mut decode) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        for (picture, bytes) in pictures.iter().zip(&jpegs) {
            let t = Instant::now();
            let found = engine.analyse(picture);
            analysis.push(t.elapsed());
            if found.len() != 1 {
                return Err(format!("a test photo showed {} faces, not one", found.len()).into());
            }
            let t = Instant::now();
            image::load_from_memory(bytes)?;
            decode.push(t.elapsed());
        }
    }
    let analysis = Timing::of(&mut analysis);
    let decode = Timing::of(&mut decode);
    let (seconds, summary) = backfill(cluster, &engine, &jpegs, backfill_photos, workers).await?;
    if summary != backfill_photos {
        return Err(format!("the backfill described {summary} of {backfill_photos} photos").into());
    }
    Ok(Faces {
        photos: pictures.len(),
        samples: analysis.count,
        megapixels: pictures
            .iter()
            .map(|p| f64::from(p.width()) * f64::from(p.height()) / 1e6)
            .collect(),
        p50_ratio: analysis.p50_ms / decode.p50_ms,
        analysis,
        decode,
        backfill_photos,
        backfill_seconds: seconds,
        backfill_per_second: backfill_photos as f64 / seconds,
        workers,
    })
}

/// The test photos, each at most 2 Mpx.
fn pictures(photos_dir: &Path) -> BenchResult<Vec<RgbImage>> {
    let mut pictures = Vec::new();
    for name in PHOTOS {
        let picture = image::open(photos_dir.join(name))
            .map_err(|e| {
                format!(
                    "{}: {e}: run scripts/face-data.sh",
                    photos_dir.join(name).display()
                )
            })?
            .to_rgb8();
        pictures.push(at_most_2_mpx(picture));
    }
    Ok(pictures)
}

/// The test photos as the backfill measures them: JPEGs of at most 2 Mpx.
pub(crate) fn test_jpegs(photos_dir: &Path) -> BenchResult<Vec<Vec<u8>>> {
    pictures(photos_dir)?.iter().map(jpeg).collect()
}

/// The `n`th of `count` distinct photos made from `jpegs`: one pixel changed, so that each is
/// an image of its own.
pub(crate) fn distinct(jpegs: &[Vec<u8>], n: u64) -> BenchResult<Vec<u8>> {
    let mut picture = image::load_from_memory(&jpegs[n as usize % jpegs.len()])?.to_rgb8();
    picture.put_pixel(0, 0, image::Rgb([n as u8, (n >> 8) as u8, 7]));
    jpeg(&picture)
}

fn at_most_2_mpx(picture: RgbImage) -> RgbImage {
    let pixels = f64::from(picture.width()) * f64::from(picture.height());
    if pixels <= MAX_PIXELS {
        return picture;
    }
    let scale = (MAX_PIXELS / pixels).sqrt();
    let (w, h) = (
        (f64::from(picture.width()) * scale) as u32,
        (f64::from(picture.height()) * scale) as u32,
    );
    image::imageops::resize(&picture, w, h, image::imageops::FilterType::Triangle)
}

fn jpeg(picture: &RgbImage) -> BenchResult<Vec<u8>> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90).encode_image(picture)?;
    Ok(bytes)
}

/// A database of `count` photos without vectors (the test photos, each made distinct by one
/// changed pixel so that every photo is its own image), then the backfill over it, timed.
pub(crate) async fn backfill(
    cluster: &Cluster,
    engine: &Arc<Engine>,
    jpegs: &[Vec<u8>],
    count: u64,
    workers: usize,
) -> BenchResult<(f64, u64)> {
    let pool = cluster.prepare("faces").await?;
    let list = crate::data::watch_list(&pool, "Bench: faces").await?;
    let mut images = Vec::new();
    for n in 0..count {
        images.push(engine::images::process_image(distinct(jpegs, n)?).await?);
    }
    let mut tx = pool.begin().await?;
    engine::images::insert_images(&mut tx, &images.iter().collect::<Vec<_>>()).await?;
    let hashes: Vec<Vec<u8>> = images.iter().map(|i| i.sha256.clone()).collect();
    sqlx::query(
        "WITH d AS (INSERT INTO dossiers (name) SELECT format('Face %s', n) FROM generate_series(1, $1) n RETURNING id),
              m AS (INSERT INTO dossier_watch_lists (watch_list_id, dossier_id) SELECT $2, id FROM d)
         INSERT INTO photos (dossier_id, image_sha256)
         SELECT d.id, h FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM d) d
         JOIN UNNEST($3::bytea[]) WITH ORDINALITY AS t(h, n) ON t.n = d.n",
    )
    .bind(count as i64)
    .bind(list)
    .bind(&hashes)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let t = Instant::now();
    let summary = engine::faces::backfill::run(
        &pool,
        engine.clone(),
        face_engine::MODEL_NAME,
        32,
        workers,
        |_| {},
    )
    .await?;
    let seconds = t.elapsed().as_secs_f64();
    pool.close().await;
    cluster.drop_database("faces").await?;
    Ok((seconds, summary.described))
}

/// Percentiles of a set of timings.
#[derive(Debug, Serialize)]
pub struct Timing {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Timing {
    fn of(samples: &mut [Duration]) -> Self {
        samples.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let at = |q: f64| ms(samples[((samples.len() - 1) as f64 * q).round() as usize]);
        Self {
            count: samples.len(),
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}
