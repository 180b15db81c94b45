//! Generated demo data, for trying the product and for tests that need volume: two watch
//! lists and N dossiers spread over them, each with a photo drawn from a few generated
//! images (stored once each, as real uploads would be).

use crate::error::Result;
use crate::faces::gate::EnrolmentGate;
use crate::images::{insert_images, process_image};
use image::{ImageBuffer, Rgb};
use sqlx::PgPool;

const LISTS: &[(&str, &str)] = &[("Demo: wanted", "#d62728"), ("Demo: VIP guests", "#2ca02c")];
const IMAGES: u32 = 6;

/// A small PNG: a coloured face-like disc on a plain background, distinct per seed.
pub fn portrait(seed: u32) -> Vec<u8> {
    let hue = (seed * 53 % 255) as u8;
    let img = ImageBuffer::from_fn(96, 96, |x, y| {
        let (dx, dy) = (x as i32 - 48, y as i32 - 44);
        if dx * dx + dy * dy < 900 {
            Rgb([230, 190u8.wrapping_add(hue / 4), 160])
        } else {
            Rgb([hue, 90, 255 - hue])
        }
    });
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .expect("encoding a PNG in memory cannot fail");
    bytes
}

/// Adds `count` dossiers (one batch of statements, not a query per dossier).
pub async fn add(pool: &PgPool, count: u32) -> Result<u64> {
    let mut images = Vec::new();
    for seed in 0..IMAGES {
        images.push(process_image(portrait(seed)).await?);
    }
    let mut tx = pool.begin().await?;
    for (name, color) in LISTS {
        sqlx::query(
            "INSERT INTO watch_lists (name, color) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(color)
        .execute(&mut *tx)
        .await?;
    }
    insert_images(&mut tx, &images.iter().collect::<Vec<_>>()).await?;
    let hashes: Vec<Vec<u8>> = images.iter().map(|i| i.sha256.clone()).collect();
    let list_names: Vec<&str> = LISTS.iter().map(|(n, _)| *n).collect();
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO dossiers (name, comment, active, meta)
         SELECT format('Demo person %s', lpad(n::text, 6, '0')), 'generated demo dossier',
                n % 10 <> 0, jsonb_build_object('demo', true, 'n', n)
         FROM generate_series(1, $1) AS n
         RETURNING id",
    )
    .bind(count as i64)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO dossier_watch_lists (watch_list_id, dossier_id)
         SELECT w.id, d FROM UNNEST($1::bigint[]) AS d
         JOIN watch_lists w ON w.name = ($2::text[])[1 + d % array_length($2::text[], 1)]",
    )
    .bind(&ids)
    .bind(&list_names)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO photos (dossier_id, image_sha256)
         SELECT d, ($2::bytea[])[1 + d % array_length($2::bytea[], 1)] FROM UNNEST($1::bigint[]) AS d",
    )
    .bind(&ids)
    .bind(&hashes)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ids.len() as u64)
}

/// Demo dossiers with real faces (face_recognition's test photos), in the "wanted" list, their
/// vectors computed by the engine as an upload's would be. The photos of Barack Obama are left
/// out on purpose: they are the ones to try the product with (add one to a dossier, search by
/// another), and a demo dossier with one of them would compete with the one being tried.
const REAL_FACES: &[(&str, &str)] = &[("Joe Biden", "biden.jpg")];

/// Adds the [`REAL_FACES`] found in `dir` that are not there yet; returns how many.
pub async fn add_real_faces(
    pool: &PgPool,
    model: &crate::faces::FaceModel,
    engine: &std::sync::Arc<face_engine::Engine>,
    dir: &std::path::Path,
) -> Result<u64> {
    use crate::photos::{store, NewPhoto};
    use domain::photos::UploadFields;
    let mut added = 0;
    for (name, file) in REAL_FACES {
        let Ok(bytes) = std::fs::read(dir.join(file)) else {
            continue;
        };
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM dossiers WHERE name = $1)")
                .bind(name)
                .fetch_one(pool)
                .await?;
        if exists {
            continue;
        }
        let mut tx = pool.begin().await?;
        let dossier: i64 = sqlx::query_scalar(
            "INSERT INTO dossiers (name, comment) VALUES ($1, 'demo dossier with a real photo') RETURNING id",
        )
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO dossier_watch_lists (watch_list_id, dossier_id)
             SELECT id, $1 FROM watch_lists WHERE name = $2",
        )
        .bind(dossier)
        .bind(LISTS[0].0)
        .execute(&mut *tx)
        .await?;
        let fields = UploadFields {
            dossier_id: Some(dossier.to_string()),
            image: Some(bytes),
            ..Default::default()
        };
        let photo = NewPhoto::parse(fields, model, Some(engine), &EnrolmentGate::default()).await?;
        store::insert(&mut tx, photo).await?;
        tx.commit().await?;
        added += 1;
    }
    Ok(added)
}
