//! Images: stored once per content hash, with a thumbnail, shared by every photo (and every
//! replica) that shows the same bytes. Decoding and thumbnailing run on the blocking pool.

use crate::error::{Error, Result};
use image::{metadata::Orientation, DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Postgres, Transaction};
use std::io::Cursor;

/// Longest side of a thumbnail, in pixels.
const THUMBNAIL_SIZE: u32 = 160;

pub struct ProcessedImage {
    pub sha256: Vec<u8>,
    pub content_type: &'static str,
    pub data: Vec<u8>,
    pub thumbnail: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// The most pixels an image may have. Checked from the header, before decoding: a small file
/// can declare 20000×20000 pixels and would take 1.6 GB to decode.
pub const MAX_PIXELS: u64 = 40_000_000;

/// An image decoded and turned upright (as its EXIF orientation says a camera held it).
pub struct Decoded {
    pub content_type: &'static str,
    pub picture: DynamicImage,
}

/// Checks that the bytes are an image we accept and makes its thumbnail. CPU-heavy, so it
/// runs on the blocking pool.
pub async fn process_image(data: Vec<u8>) -> Result<ProcessedImage> {
    tokio::task::spawn_blocking(move || {
        let decoded = decode(&data)?;
        processed(data, &decoded)
    })
    .await
    .map_err(|_| Error::internal())?
}

/// Decodes an image of a format we accept, refusing one of more than [`MAX_PIXELS`] before
/// decoding it. Blocking.
pub fn decode(data: &[u8]) -> Result<Decoded> {
    let not_an_image = || Error::invalid("image", "is not a JPEG, PNG, WebP or GIF image");
    let format = image::guess_format(data).map_err(|_| not_an_image())?;
    let content_type = match format {
        ImageFormat::Jpeg => "image/jpeg",
        ImageFormat::Png => "image/png",
        ImageFormat::WebP => "image/webp",
        ImageFormat::Gif => "image/gif",
        _ => return Err(not_an_image()),
    };
    let undecodable =
        |e: image::ImageError| Error::invalid("image", format!("could not be decoded: {e}"));
    let mut decoder = ImageReader::with_format(Cursor::new(data), format)
        .into_decoder()
        .map_err(undecodable)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(Error::invalid(
            "image",
            format!(
                "is {width}×{height} pixels; at most {} megapixels are accepted",
                MAX_PIXELS / 1_000_000
            ),
        ));
    }
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4 * 2);
    decoder.set_limits(limits).map_err(undecodable)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut picture = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    picture.apply_orientation(orientation);
    Ok(Decoded {
        content_type,
        picture,
    })
}

/// The image to store for `data`, decoded as `decoded`: its hash, size and thumbnail. Blocking.
pub fn processed(data: Vec<u8>, decoded: &Decoded) -> Result<ProcessedImage> {
    let picture = &decoded.picture;
    Ok(ProcessedImage {
        sha256: Sha256::digest(&data).to_vec(),
        content_type: decoded.content_type,
        width: picture.width(),
        height: picture.height(),
        thumbnail: thumbnail(picture)?,
        data,
    })
}

/// A JPEG of at most [`THUMBNAIL_SIZE`] pixels a side. Small pictures are not blown up: their
/// thumbnail is the picture itself.
pub fn thumbnail(picture: &DynamicImage) -> Result<Vec<u8>> {
    jpeg_within(picture, THUMBNAIL_SIZE)
}

/// A JPEG of the picture scaled to at most `side` pixels a side (never enlarged).
pub fn jpeg_within(picture: &DynamicImage, side: u32) -> Result<Vec<u8>> {
    let thumb = if picture.width() > side || picture.height() > side {
        picture.thumbnail(side, side).to_rgb8()
    } else {
        picture.to_rgb8()
    };
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
        .encode_image(&thumb)
        .map_err(|e| {
            tracing::error!(error = %e, "thumbnail encoding failed");
            Error::internal()
        })?;
    Ok(jpeg)
}

/// Stores images unless their hash is stored already (the bytes are then identical), in
/// one statement however many there are.
pub async fn insert_images(
    tx: &mut Transaction<'_, Postgres>,
    images: &[&ProcessedImage],
) -> Result<()> {
    if images.is_empty() {
        return Ok(());
    }
    let hashes: Vec<&[u8]> = images.iter().map(|i| i.sha256.as_slice()).collect();
    let types: Vec<&str> = images.iter().map(|i| i.content_type).collect();
    let data: Vec<&[u8]> = images.iter().map(|i| i.data.as_slice()).collect();
    let thumbnails: Vec<&[u8]> = images.iter().map(|i| i.thumbnail.as_slice()).collect();
    let widths: Vec<i32> = images.iter().map(|i| i.width as i32).collect();
    let heights: Vec<i32> = images.iter().map(|i| i.height as i32).collect();
    sqlx::query!(
        "INSERT INTO images (sha256, content_type, data, thumbnail, width, height)
         SELECT * FROM UNNEST($1::bytea[], $2::text[], $3::bytea[], $4::bytea[], $5::int[], $6::int[])
         ON CONFLICT (sha256) DO NOTHING",
        &hashes as &[&[u8]],
        &types as &[&str],
        &data as &[&[u8]],
        &thumbnails as &[&[u8]],
        &widths,
        &heights,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes those of these images that no photo uses any more. Callers name the images of
/// the photos they removed, so the check is an index probe per image, not a scan of all.
pub async fn delete_unused_images(
    tx: &mut Transaction<'_, Postgres>,
    hashes: &[Vec<u8>],
) -> Result<()> {
    if hashes.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "DELETE FROM images i WHERE i.sha256 = ANY($1)
           AND NOT EXISTS (SELECT 1 FROM photos p WHERE p.image_sha256 = i.sha256)",
        hashes
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What of an image is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rendition {
    Full,
    Thumbnail,
    /// The face the engine found in it, or the thumbnail when it found none (or the photo came
    /// from a Leader, which sends vectors, not face crops).
    Face,
}

/// The bytes of a rendition of the image with this hex hash, with their content type.
pub async fn image_bytes(
    pool: &PgPool,
    sha256_hex: &str,
    rendition: Rendition,
) -> Result<Option<(String, Vec<u8>)>> {
    let Ok(sha) = hex::decode(sha256_hex) else {
        return Ok(None);
    };
    let (thumbnail, face) = match rendition {
        Rendition::Full => (false, false),
        Rendition::Thumbnail => (true, false),
        Rendition::Face => (true, true),
    };
    // CASE reads only the branch it takes, so only one of the out-of-line columns is fetched.
    let row = sqlx::query!(
        r#"SELECT CASE WHEN $2 THEN 'image/jpeg' ELSE content_type END AS "content_type!",
                  CASE WHEN $3 THEN coalesce(
                           (SELECT f.jpeg FROM photos p JOIN face_thumbnails f ON f.photo_id = p.id
                            WHERE p.image_sha256 = $1 LIMIT 1), thumbnail)
                       WHEN $2 THEN thumbnail ELSE data END AS "bytes!"
           FROM images WHERE sha256 = $1"#,
        sha,
        thumbnail,
        face
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.content_type, r.bytes)))
}
