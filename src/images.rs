//! Profile images: type by magic bytes (PNG, JPEG, WebP, GIF — never SVG), decoder limits set
//! before decoding (no decompression bombs), EXIF orientation applied, then centre-cropped
//! and re-encoded to fixed-size PNGs. Re-encoding drops EXIF, GPS and any polyglot payload.

use std::io::Cursor;

use image::{imageops::FilterType, DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use crate::error::ApiError;

pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;
/// Sizes every avatar is stored at, largest first.
pub const SIZES: [u32; 2] = [256, 64];
const MAX_SIDE: u32 = 8192;
const MAX_ALLOC: u64 = 256 * 1024 * 1024;

fn unsupported() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "image_type_unsupported",
        "the profile image must be a PNG, JPEG, WebP or GIF file",
    )
}

fn invalid(detail: impl std::fmt::Display) -> ApiError {
    ApiError::validation(
        "file",
        "image_invalid",
        format!("the image could not be read: {detail}"),
    )
}

/// Decodes an upload into square PNGs of `SIZES`. CPU-heavy: call on the blocking pool.
pub fn process_avatar(bytes: &[u8]) -> Result<Vec<(u32, Vec<u8>)>, ApiError> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "image_too_large",
            "the profile image may be at most 5 MiB",
        ));
    }
    let format = image::guess_format(bytes).map_err(|_| unsupported())?;
    if !matches!(
        format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif
    ) {
        return Err(unsupported());
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(invalid)?;
    let orientation = decoder.orientation().map_err(invalid)?;
    // For a GIF this is the first frame.
    let mut img = DynamicImage::from_decoder(decoder).map_err(invalid)?;
    img.apply_orientation(orientation);
    let (w, h) = (img.width(), img.height());
    if w == 0 || h == 0 {
        return Err(invalid("it has no pixels"));
    }
    let side = w.min(h);
    let square = img.crop_imm((w - side) / 2, (h - side) / 2, side, side);
    SIZES
        .iter()
        .map(|&size| {
            let resized = square
                .resize_exact(size, size, FilterType::Triangle)
                .to_rgba8();
            let mut out = Vec::new();
            resized
                .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
                .map_err(invalid)?;
            Ok((size, out))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_pixel(w, h, image::Rgba([200, 10, 10, 255]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn crops_and_resizes_to_square_pngs() {
        let out = process_avatar(&png(300, 120)).unwrap();
        assert_eq!(out.len(), 2);
        for (size, bytes) in out {
            let img = image::load_from_memory(&bytes).unwrap();
            assert_eq!((img.width(), img.height()), (size, size));
            assert_eq!(image::guess_format(&bytes).unwrap(), ImageFormat::Png);
        }
    }

    #[test]
    fn refuses_other_types_and_garbage() {
        assert_eq!(
            process_avatar(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>")
                .unwrap_err()
                .code,
            "image_type_unsupported"
        );
        assert_eq!(
            process_avatar(b"hello, this is text").unwrap_err().code,
            "image_type_unsupported"
        );
        let mut truncated = png(50, 50);
        truncated.truncate(40);
        assert_eq!(
            process_avatar(&truncated).unwrap_err().code,
            "image_invalid"
        );
        assert_eq!(
            process_avatar(&vec![0u8; MAX_UPLOAD_BYTES + 1])
                .unwrap_err()
                .code,
            "image_too_large"
        );
    }

    #[test]
    fn refuses_decompression_bombs_before_decoding() {
        // A valid PNG header claiming 100000 x 100000 pixels.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert_eq!(process_avatar(&bomb).unwrap_err().code, "image_invalid");
    }
}
