//! The frames FFmpeg writes to its standard output, one binary PPM (`P6`) after another: a
//! short text header with the frame's size, then its RGB bytes. Each frame says its own size,
//! so a stream that changes resolution is read as it is.

use image::RgbImage;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// The largest frame read: 8K. A larger header is garbage, not a frame.
const MAX_SIDE: u32 = 8192;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PpmError {
    /// The output ended, between frames: the decoder stopped.
    #[error("the decoder's output ended")]
    Ended,
    #[error("the decoder sent something that is not a frame: {0}")]
    NotAFrame(String),
    #[error("reading the decoder's output failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The next frame of `input`.
pub async fn read_frame<R: AsyncBufRead + Unpin>(input: &mut R) -> Result<RgbImage, PpmError> {
    let magic = match token(input).await? {
        Some(magic) => magic,
        None => return Err(PpmError::Ended),
    };
    if magic != "P6" {
        return Err(PpmError::NotAFrame(format!("header {magic:?}, not P6")));
    }
    let mut numbers = [0u32; 3];
    for n in &mut numbers {
        let text = token(input)
            .await?
            .ok_or_else(|| PpmError::NotAFrame("a header cut short".into()))?;
        *n = text
            .parse()
            .map_err(|_| PpmError::NotAFrame(format!("{text:?} in the header is not a number")))?;
    }
    let [width, height, max] = numbers;
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE || max != 255 {
        return Err(PpmError::NotAFrame(format!(
            "a {width}×{height} frame of {max} levels"
        )));
    }
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    input
        .read_exact(&mut pixels)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => PpmError::NotAFrame("a frame cut short".into()),
            _ => PpmError::Io(e),
        })?;
    Ok(RgbImage::from_raw(width, height, pixels).expect("the buffer holds width × height pixels"))
}

/// The next header token; the one whitespace byte after the last token (before the pixels) is
/// consumed with it, as the format says. `None` at the end of the input before any token.
async fn token<R: AsyncBufRead + Unpin>(input: &mut R) -> Result<Option<String>, PpmError> {
    let mut text = Vec::new();
    loop {
        let mut byte = [0u8];
        if input.read(&mut byte).await? == 0 {
            return if text.is_empty() {
                Ok(None)
            } else {
                Err(PpmError::NotAFrame("a header cut short".into()))
            };
        }
        match byte[0] {
            b'#' if text.is_empty() => {
                let mut comment = Vec::new();
                input.read_until(b'\n', &mut comment).await?;
            }
            b if b.is_ascii_whitespace() => {
                if !text.is_empty() {
                    break;
                }
            }
            b if text.len() < 16 => text.push(b),
            _ => return Err(PpmError::NotAFrame("a header token too long".into())),
        }
    }
    Ok(Some(String::from_utf8_lossy(&text).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ppm(width: u32, height: u32, fill: u8) -> Vec<u8> {
        let mut bytes = format!("P6\n{width} {height}\n255\n").into_bytes();
        bytes.extend(std::iter::repeat_n(fill, (width * height * 3) as usize));
        bytes
    }

    #[tokio::test]
    async fn frames_follow_each_other_and_may_change_size() {
        let mut bytes = ppm(4, 2, 7);
        bytes.extend(b"P6 # a comment\n3 5 255\n");
        bytes.extend([9u8; 45]);
        let mut input = &bytes[..];
        let first = read_frame(&mut input).await.unwrap();
        assert_eq!((first.width(), first.height()), (4, 2));
        assert_eq!(first.get_pixel(3, 1).0, [7, 7, 7]);
        let second = read_frame(&mut input).await.unwrap();
        assert_eq!((second.width(), second.height()), (3, 5));
        assert!(matches!(read_frame(&mut input).await, Err(PpmError::Ended)));
    }

    #[tokio::test]
    async fn garbage_and_cut_frames_are_told_apart_from_the_end() {
        let mut garbage = &b"GIF89a not a frame"[..];
        assert!(matches!(
            read_frame(&mut garbage).await,
            Err(PpmError::NotAFrame(_))
        ));
        let bytes = ppm(10, 10, 1);
        let mut cut = &bytes[..bytes.len() - 5];
        assert!(matches!(
            read_frame(&mut cut).await,
            Err(PpmError::NotAFrame(_))
        ));
        let mut huge = &b"P6\n100000 2\n255\n"[..];
        assert!(matches!(
            read_frame(&mut huge).await,
            Err(PpmError::NotAFrame(_))
        ));
    }
}
