//! The benchmark's data, generated deterministically from a seed: dossiers with one ~8 KB JPEG
//! (distinct bytes, so distinct content hashes) and one face vector of the built-in model's length (128 floats) each, written in
//! batches straight into a Leader's database (its triggers run, so the change log is real).

use crate::cluster::BenchResult;
use engine::images::{insert_images, ProcessedImage};
use image::codecs::jpeg::JpegEncoder;
use image::{ImageBuffer, Rgb};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// The installation's own model, as a default installation has it: vectors of its length.
pub const FACE_MODEL: &str = face_engine::MODEL_NAME;
pub const VECTOR_LENGTH: usize = face_engine::VECTOR_LENGTH;
const BATCH: usize = 1000;
/// Base pictures; each dossier's photo is one of them made unique (see `Photos::jpeg`).
const BASE_IMAGES: u64 = 16;

const FIRST: [&str; 16] = [
    "Anna", "Boris", "Carla", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kira",
    "Luca", "Maria", "Nils", "Olga", "Pavel",
];
const LAST: [&str; 16] = [
    "Adler", "Berg", "Costa", "Dahl", "Evans", "Fischer", "Garcia", "Horvat", "Ivanova", "Jensen",
    "Kowalski", "Larsen", "Moreau", "Novak", "Olsen", "Petrov",
];

/// A small deterministic generator (SplitMix64): the same seed gives the same data on every
/// machine, which a library RNG does not promise across its versions.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The display name of generated dossier `n`: a first and last name (so that a name filter
/// selects a realistic share) and the number (so that names are unique).
pub fn name(n: u64) -> String {
    format!(
        "{} {} {n:07}",
        FIRST[(n % 16) as usize],
        LAST[((n / 16) % 16) as usize]
    )
}

/// The face vector of dossier `n`: a photo of the person numbered `n`, face-like (people's
/// photos cluster as dlib's model clusters them; see `face_index::synthetic`).
pub fn vector(n: u64, seed: u64) -> Vec<f32> {
    photo_of(n, seed, 0)
}

/// Photo `k` of person `n`: near their other photos, far from everyone else's.
pub fn photo_of(n: u64, seed: u64, k: u64) -> Vec<f32> {
    let person = seed ^ n.wrapping_mul(0x2545_F491_4F6C_DD1D);
    let centre = face_index::synthetic::Faces::new(person, VECTOR_LENGTH).identity();
    face_index::synthetic::Faces::new(
        person ^ (k + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        VECTOR_LENGTH,
    )
    .photo(&centre)
}

fn vector_literal(v: &[f32]) -> String {
    let mut s = String::with_capacity(v.len() * 12);
    s.push('{');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&x.to_string());
    }
    s.push('}');
    s
}

/// The base pictures, encoded once; photos are derived from them.
pub struct Photos {
    base: Vec<Base>,
}

struct Base {
    jpeg: Vec<u8>,
    thumbnail: Vec<u8>,
    width: u32,
    height: u32,
}

impl Photos {
    pub async fn new(seed: u64) -> BenchResult<Self> {
        let mut base = Vec::new();
        for i in 0..BASE_IMAGES {
            let jpeg = portrait(seed.wrapping_add(i));
            // The thumbnail is made by the product's own upload code, as for a real upload.
            let processed = engine::images::process_image(jpeg.clone()).await?;
            base.push(Base {
                jpeg,
                thumbnail: processed.thumbnail,
                width: processed.width,
                height: processed.height,
            });
        }
        Ok(Self { base })
    }

    pub fn average_jpeg_bytes(&self) -> usize {
        self.base.iter().map(|b| b.jpeg.len()).sum::<usize>() / self.base.len()
    }

    /// The photo of dossier `n`: a base picture with a JPEG comment segment naming `n` right
    /// after the start-of-image marker. Still a valid JPEG, with its own content hash.
    pub fn image(&self, n: u64, variant: u32) -> ProcessedImage {
        let base = &self.base[(n % BASE_IMAGES) as usize];
        let comment = format!("bench dossier {n} photo {variant}");
        let len = (comment.len() + 2) as u16;
        let mut data = Vec::with_capacity(base.jpeg.len() + comment.len() + 4);
        data.extend_from_slice(&base.jpeg[..2]);
        data.extend_from_slice(&[0xFF, 0xFE]);
        data.extend_from_slice(&len.to_be_bytes());
        data.extend_from_slice(comment.as_bytes());
        data.extend_from_slice(&base.jpeg[2..]);
        ProcessedImage {
            sha256: Sha256::digest(&data).to_vec(),
            content_type: "image/jpeg",
            data,
            thumbnail: base.thumbnail.clone(),
            width: base.width,
            height: base.height,
        }
    }
}

/// A 128×128 picture with a face-like disc over textured noise, tuned to encode to about 8 KB.
fn portrait(seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let (r0, g0, b0) = (
        rng.below(200) as u8,
        rng.below(200) as u8,
        rng.below(200) as u8,
    );
    let img = ImageBuffer::from_fn(128, 128, |x, y| {
        let noise = (rng.below(56)) as u8;
        let (dx, dy) = (x as i32 - 64, y as i32 - 58);
        if dx * dx + dy * dy < 1300 {
            Rgb([200u8.saturating_add(noise / 2), 160 + noise, 130 + noise])
        } else {
            Rgb([r0 + noise, g0 + noise, b0 + noise])
        }
    });
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, 88)
        .encode_image(&img)
        .expect("encoding a JPEG in memory cannot fail");
    bytes
}

/// Creates a watch list and returns its id.
pub async fn watch_list<'e>(db: impl sqlx::PgExecutor<'e>, name: &str) -> BenchResult<i64> {
    Ok(
        sqlx::query_scalar("INSERT INTO watch_lists (name) VALUES ($1) RETURNING id")
            .bind(name)
            .fetch_one(db)
            .await?,
    )
}

/// Adds dossiers numbered `first..first + count`, each with one photo and vector, to `list`;
/// every tenth also joins `also` (lists share dossiers, as real ones do).
pub async fn add_dossiers(
    pool: &PgPool,
    photos: &Photos,
    seed: u64,
    list: i64,
    also: Option<i64>,
    first: u64,
    count: u64,
) -> BenchResult<()> {
    let mut n = first;
    while n < first + count {
        let end = (n + BATCH as u64).min(first + count);
        let numbers: Vec<u64> = (n..end).collect();
        let names: Vec<String> = numbers.iter().map(|&i| name(i)).collect();
        let comments: Vec<String> = numbers
            .iter()
            .map(|i| format!("generated for the benchmark, case {i}"))
            .collect();
        let active: Vec<bool> = numbers.iter().map(|i| i % 10 != 0).collect();
        let metas: Vec<serde_json::Value> = numbers
            .iter()
            .map(|i| serde_json::json!({"case": format!("B-{i:07}"), "source": "bench"}))
            .collect();
        let images: Vec<ProcessedImage> = numbers.iter().map(|&i| photos.image(i, 0)).collect();
        let vectors: Vec<String> = numbers
            .iter()
            .map(|&i| vector_literal(&vector(i, seed)))
            .collect();

        let mut tx = pool.begin().await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "INSERT INTO dossiers (name, comment, active, meta)
             SELECT n, c, a, m FROM UNNEST($1::text[], $2::text[], $3::bool[], $4::jsonb[])
                  WITH ORDINALITY AS u(n, c, a, m, o) ORDER BY o
             RETURNING id",
        )
        .bind(&names)
        .bind(&comments)
        .bind(&active)
        .bind(&metas)
        .fetch_all(&mut *tx)
        .await?;
        add_photos(&mut tx, &ids, &images, &vectors).await?;
        sqlx::query(
            "INSERT INTO dossier_watch_lists (watch_list_id, dossier_id) SELECT $1, UNNEST($2::bigint[])",
        )
        .bind(list)
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
        if let Some(other) = also {
            let shared: Vec<i64> = ids.iter().step_by(10).copied().collect();
            sqlx::query(
                "INSERT INTO dossier_watch_lists (watch_list_id, dossier_id) SELECT $1, UNNEST($2::bigint[])",
            )
            .bind(other)
            .bind(&shared)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        n = end;
    }
    Ok(())
}

/// Stores the images and gives dossier `ids[i]` the photo `images[i]` with vector `vectors[i]`.
async fn add_photos(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    ids: &[i64],
    images: &[ProcessedImage],
    vectors: &[String],
) -> BenchResult<()> {
    insert_images(tx, &images.iter().collect::<Vec<_>>()).await?;
    let hashes: Vec<&[u8]> = images.iter().map(|i| i.sha256.as_slice()).collect();
    sqlx::query(
        "INSERT INTO photos (dossier_id, image_sha256, face_vector, face_model)
         SELECT d, h, v::real[], $4 FROM UNNEST($1::bigint[], $2::bytea[], $3::text[]) AS u(d, h, v)",
    )
    .bind(ids)
    .bind(&hashes)
    .bind(vectors)
    .bind(FACE_MODEL)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What a round of changes did, for the report and the convergence check.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Changes {
    pub edits: usize,
    pub deletions: usize,
    pub removals: usize,
    pub new_photos: usize,
}

impl Changes {
    pub fn total(&self) -> usize {
        self.edits + self.deletions + self.removals + self.new_photos
    }
}

/// Changes `count` distinct dossiers of `list` on the Leader, as operators would: 40 % edited,
/// 20 % deleted, 20 % removed from the list, 20 % given a new photo.
pub async fn change(
    pool: &PgPool,
    photos: &Photos,
    list: i64,
    count: usize,
    round: u32,
    seed: u64,
) -> BenchResult<Changes> {
    let members: Vec<i64> = sqlx::query_scalar(
        "SELECT dossier_id FROM dossier_watch_lists WHERE watch_list_id = $1 ORDER BY dossier_id",
    )
    .bind(list)
    .fetch_all(pool)
    .await?;
    if members.len() < count {
        return Err(format!(
            "list {list} has {} dossiers, fewer than {count}",
            members.len()
        )
        .into());
    }
    let mut rng = Rng::new(seed ^ (u64::from(round) << 32) ^ list as u64);
    let mut picked = std::collections::BTreeSet::new();
    while picked.len() < count {
        picked.insert(members[rng.below(members.len() as u64) as usize]);
    }
    let mut picked: Vec<i64> = picked.into_iter().collect();
    // Shuffle so that each kind of change lands anywhere in the list.
    for i in (1..picked.len()).rev() {
        picked.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let edits = count * 2 / 5;
    let deletions = count / 5;
    let removals = count / 5;
    let new_photos = count - edits - deletions - removals;
    let (edit, rest) = picked.split_at(edits);
    let (delete, rest) = rest.split_at(deletions);
    let (remove, add_photo) = rest.split_at(removals);

    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE dossiers SET name = left(name, 200) || ' r' || $2, comment = 'edited in round ' || $2,
                meta = meta || jsonb_build_object('round', $2::int)
         WHERE id = ANY($1)",
    )
    .bind(edit)
    .bind(round as i32)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM dossiers WHERE id = ANY($1)")
        .bind(delete)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "DELETE FROM dossier_watch_lists WHERE watch_list_id = $1 AND dossier_id = ANY($2)",
    )
    .bind(list)
    .bind(remove)
    .execute(&mut *tx)
    .await?;
    let images: Vec<ProcessedImage> = add_photo
        .iter()
        .map(|&id| photos.image(id as u64, round + 1))
        .collect();
    let vectors: Vec<String> = add_photo
        .iter()
        .map(|&id| vector_literal(&vector(id as u64 + u64::from(round) * 1_000_003, seed)))
        .collect();
    add_photos(&mut tx, add_photo, &images, &vectors).await?;
    tx.commit().await?;
    Ok(Changes {
        edits,
        deletions,
        removals,
        new_photos,
    })
}

/// A big dossier table for the list page (P5), loaded in bulk: the page reads names, lists and
/// the first photo's hash, so the photos share a few images and carry no vectors. Triggers are
/// skipped for the load (`session_replication_role`): this installation replicates nothing.
pub async fn bulk_dossiers(pool: &PgPool, photos: &Photos, count: u64) -> BenchResult<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await?;
    let list_a = watch_list(&mut *tx, "Bench: wanted").await?;
    let list_b = watch_list(&mut *tx, "Bench: visitors").await?;
    let images: Vec<ProcessedImage> = (0..BASE_IMAGES).map(|i| photos.image(i, 0)).collect();
    insert_images(&mut tx, &images.iter().collect::<Vec<_>>()).await?;
    let hashes: Vec<&[u8]> = images.iter().map(|i| i.sha256.as_slice()).collect();
    let first: Vec<&str> = FIRST.to_vec();
    let last: Vec<&str> = LAST.to_vec();
    sqlx::query(
        "INSERT INTO dossiers (name, comment, active, meta)
         SELECT ($1::text[])[1 + n % 16] || ' ' || ($2::text[])[1 + (n / 16) % 16] || ' ' || lpad(n::text, 7, '0'),
                'generated for the benchmark', n % 10 <> 0,
                jsonb_build_object('case', 'B-' || lpad(n::text, 7, '0'))
         FROM generate_series(0, $3 - 1) AS n",
    )
    .bind(&first)
    .bind(&last)
    .bind(count as i64)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO dossier_watch_lists (watch_list_id, dossier_id)
         SELECT CASE WHEN id % 3 = 0 THEN $2 ELSE $1 END, id FROM dossiers",
    )
    .bind(list_a)
    .bind(list_b)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO photos (dossier_id, image_sha256)
         SELECT id, ($1::bytea[])[1 + id % array_length($1::bytea[], 1)] FROM dossiers",
    )
    .bind(&hashes)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    sqlx::query("VACUUM ANALYZE").execute(pool).await?;
    Ok(())
}
