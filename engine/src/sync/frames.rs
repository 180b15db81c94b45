//! How the Leader sends a batch of images (`POST /sync/leader/images`): raw bytes, no JSON or
//! base64 to inflate megabytes of pictures. Each image is its 32-byte SHA-256, then four
//! fields, each a big-endian u32 length and that many bytes: content type, "WxH", the image,
//! its thumbnail. The reader checks every hash against the bytes it got.

use crate::images::ProcessedImage;
use sha2::{Digest, Sha256};

/// One stored image as the Leader frames it.
pub struct Frame<'a> {
    pub sha256: &'a [u8],
    pub content_type: &'a str,
    pub width: i32,
    pub height: i32,
    pub data: &'a [u8],
    pub thumbnail: &'a [u8],
}

/// Appends one image's frame.
pub fn write(out: &mut Vec<u8>, frame: Frame<'_>) {
    out.extend_from_slice(frame.sha256);
    let size = format!("{}x{}", frame.width, frame.height);
    for field in [
        frame.content_type.as_bytes(),
        size.as_bytes(),
        frame.data,
        frame.thumbnail,
    ] {
        out.extend_from_slice(&(field.len() as u32).to_be_bytes());
        out.extend_from_slice(field);
    }
}

/// Reads a batch of frames; `None` if any frame is cut short, malformed, of a type we do not
/// store, or not the image its hash names.
pub fn read(mut body: &[u8]) -> Option<Vec<ProcessedImage>> {
    fn field<'a>(body: &mut &'a [u8]) -> Option<&'a [u8]> {
        let len = u32::from_be_bytes(body.get(..4)?.try_into().ok()?) as usize;
        let value = body.get(4..4usize.checked_add(len)?)?;
        *body = &body[4 + len..];
        Some(value)
    }
    let mut out = Vec::new();
    while !body.is_empty() {
        let sha = body.get(..32)?.to_vec();
        body = &body[32..];
        let content_type = std::str::from_utf8(field(&mut body)?).ok()?;
        let size = std::str::from_utf8(field(&mut body)?).ok()?;
        let (width, height) = size.split_once('x')?;
        let data = field(&mut body)?.to_vec();
        let thumbnail = field(&mut body)?.to_vec();
        if Sha256::digest(&data).as_slice() != sha.as_slice() {
            return None;
        }
        let content_type = match content_type {
            "image/jpeg" => "image/jpeg",
            "image/png" => "image/png",
            "image/webp" => "image/webp",
            "image/gif" => "image/gif",
            _ => return None,
        };
        out.push(ProcessedImage {
            sha256: sha,
            content_type,
            data,
            thumbnail,
            width: width.parse().ok()?,
            height: height.parse().ok()?,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(data: &[u8], content_type: &str) -> Vec<u8> {
        let sha = Sha256::digest(data);
        let mut out = Vec::new();
        write(
            &mut out,
            Frame {
                sha256: &sha,
                content_type,
                width: 640,
                height: 480,
                data,
                thumbnail: b"thumb",
            },
        );
        out
    }

    #[test]
    fn frames_round_trip() {
        let mut body = framed(b"first image", "image/png");
        body.extend(framed(b"second image", "image/jpeg"));
        let images = read(&body).expect("well-formed frames");
        assert_eq!(images.len(), 2);
        assert_eq!(images[0].data, b"first image");
        assert_eq!(images[0].content_type, "image/png");
        assert_eq!((images[0].width, images[0].height), (640, 480));
        assert_eq!(images[1].thumbnail, b"thumb");
        assert_eq!(read(&[]).map(|v| v.len()), Some(0));
    }

    #[test]
    fn damaged_frames_are_refused() {
        let body = framed(b"an image", "image/png");
        // Cut short anywhere.
        for end in [1, 31, 33, body.len() - 1] {
            assert!(read(&body[..end]).is_none(), "cut at {end}");
        }
        // Bytes that are not what the hash names.
        let mut tampered = body.clone();
        let last = tampered.len() - 10;
        tampered[last] ^= 1;
        assert!(read(&tampered).is_none());
        // A type this installation does not store.
        assert!(read(&framed(b"x", "text/html")).is_none());
        // A length far past the end.
        let mut huge = body[..32].to_vec();
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(read(&huge).is_none());
    }
}
