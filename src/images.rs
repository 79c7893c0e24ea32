//! Profile images: type by magic bytes (PNG, JPEG, WebP, GIF — never SVG), decoder limits set
//! before decoding (no decompression bombs), EXIF orientation applied, then centre-cropped
//! and re-encoded to fixed-size PNGs. Re-encoding drops EXIF, GPS and any polyglot payload.

use std::io::Cursor;

use image::imageops::{self, FilterType};
use image::{DynamicImage, GenericImageView, ImageDecoder, ImageFormat, ImageReader, Limits};

use crate::error::{ApiError, ErrorCode};

pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;
/// Sizes every avatar is stored at, largest first.
pub const SIZES: [u32; 2] = [256, 64];
/// The pixel budget: a 16-megapixel photo (4096 × 4096, or a 12 MP phone photo) is plenty
/// for a 256 px avatar. Checked from the header, before a single pixel is decoded.
pub const MAX_PIXELS: u64 = 4096 * 4096;
const MAX_SIDE: u32 = 8192;
/// What decoding the largest allowed image may allocate: 16 MP of 8-bit RGBA is 64 MiB, so
/// 16-bit images that large are refused rather than decoded into 128 MiB.
const MAX_ALLOC: u64 = 80 * 1024 * 1024;
/// Decodes that run at once, server-wide; more uploads wait for a turn.
pub const MAX_CONCURRENT_DECODES: usize = 2;

fn unsupported() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::ImageTypeUnsupported,
        "the profile image must be a PNG, JPEG, WebP or GIF file",
    )
}

fn invalid(detail: impl std::fmt::Display) -> ApiError {
    ApiError::validation(
        "file",
        ErrorCode::ImageInvalid,
        format!("the image could not be read: {detail}"),
    )
}

fn too_many_pixels(w: u32, h: u32) -> ApiError {
    ApiError::validation(
        "file",
        ErrorCode::ImageTooManyPixels,
        format!(
            "the image is {w} × {h} pixels; a profile image may have at most {} megapixels and {MAX_SIDE} pixels a side",
            MAX_PIXELS / 1_000_000
        ),
    )
}

/// The centre square of `img` at `size` × `size`. Large images are first area-averaged from a
/// view of the decoded pixels to twice the size (`thumbnail`: integer sums, no float copy of
/// the whole image as `resize` makes), then smoothed down; small ones are resized directly.
fn fill_square(img: &DynamicImage, size: u32) -> DynamicImage {
    let (w, h) = (img.width(), img.height());
    let side = w.min(h);
    let (x, y) = ((w - side) / 2, (h - side) / 2);
    if side <= size * 2 {
        return img.resize_to_fill(size, size, FilterType::Triangle);
    }
    let near = size * 2;
    let shrunk = match img {
        DynamicImage::ImageRgba8(b) => {
            DynamicImage::ImageRgba8(imageops::thumbnail(&*b.view(x, y, side, side), near, near))
        }
        DynamicImage::ImageRgb8(b) => {
            DynamicImage::ImageRgb8(imageops::thumbnail(&*b.view(x, y, side, side), near, near))
        }
        DynamicImage::ImageLuma8(b) => {
            DynamicImage::ImageLuma8(imageops::thumbnail(&*b.view(x, y, side, side), near, near))
        }
        DynamicImage::ImageLumaA8(b) => {
            DynamicImage::ImageLumaA8(imageops::thumbnail(&*b.view(x, y, side, side), near, near))
        }
        // 16-bit and float images: rare, and bounded by MAX_ALLOC like every decode.
        other => other.resize_to_fill(near, near, FilterType::Triangle),
    };
    shrunk.resize_exact(size, size, FilterType::Triangle)
}

/// Decodes an upload into square PNGs of `SIZES`. CPU-heavy: call on the blocking pool,
/// holding one of the `MAX_CONCURRENT_DECODES` permits. Peak memory is the decoded image
/// (at most `MAX_ALLOC`) plus small buffers: resizing happens before any rotation or copy.
pub fn process_avatar(bytes: &[u8]) -> Result<Vec<(u32, Vec<u8>)>, ApiError> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::ImageTooLarge,
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
    let mut decoder = reader.into_decoder().map_err(|e| match e {
        image::ImageError::Limits(_) => too_many_pixels(0, 0),
        other => invalid(other),
    })?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        return Err(invalid("it has no pixels"));
    }
    if u64::from(w) * u64::from(h) > MAX_PIXELS || w > MAX_SIDE || h > MAX_SIDE {
        return Err(too_many_pixels(w, h));
    }
    let orientation = decoder.orientation().map_err(invalid)?;
    // For a GIF this is the first frame.
    let img = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(_) => too_many_pixels(w, h),
        other => invalid(other),
    })?;
    // Shrink the centre square straight from the decoded pixels (no full-size copy), then
    // turn the small result the way the camera meant it.
    let mut square = fill_square(&img, SIZES[0]);
    drop(img);
    square.apply_orientation(orientation);
    SIZES
        .iter()
        .map(|&size| {
            let resized = if size == SIZES[0] {
                square.to_rgba8()
            } else {
                square
                    .resize_exact(size, size, FilterType::Triangle)
                    .to_rgba8()
            };
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

    /// A 1 × 1 PNG whose header claims `w` × `h` pixels, with a valid header checksum.
    fn claims(w: u32, h: u32) -> Vec<u8> {
        let mut fake = png(1, 1);
        fake[16..20].copy_from_slice(&w.to_be_bytes());
        fake[20..24].copy_from_slice(&h.to_be_bytes());
        let crc = crc32fast::hash(&fake[12..29]);
        fake[29..33].copy_from_slice(&crc.to_be_bytes());
        fake
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
    fn large_images_keep_their_centre_square() {
        // 3000 x 1000: red, then the centre 1000 columns green, then red.
        let img = image::RgbImage::from_fn(3000, 1000, |x, _| {
            if (1000..2000).contains(&x) {
                image::Rgb([0, 200, 0])
            } else {
                image::Rgb([200, 0, 0])
            }
        });
        let mut bytes = Vec::new();
        img.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        for (size, png) in process_avatar(&bytes).unwrap() {
            let out = image::load_from_memory(&png).unwrap().to_rgba8();
            assert_eq!(out.dimensions(), (size, size));
            for (x, y) in [(0, 0), (size - 1, size / 2), (size / 2, size / 2)] {
                let p = out.get_pixel(x, y);
                assert!(p[1] > 150 && p[0] < 60, "pixel ({x},{y}) of {size}: {p:?}");
            }
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
        let bomb = claims(100_000, 100_000);
        assert_eq!(
            process_avatar(&bomb).unwrap_err().code,
            "image_too_many_pixels"
        );
    }

    #[test]
    fn the_pixel_budget_is_checked_before_decoding() {
        // 8000 × 8000 compresses to a few hundred kB but would decode to 256 MB.
        let big = claims(8000, 8000);
        let err = process_avatar(&big).unwrap_err();
        assert_eq!(err.code, "image_too_many_pixels", "{}", err.message);
        // A long panorama within the side limit but over the pixel budget.
        let wide = claims(8192, 2100);
        assert_eq!(
            process_avatar(&wide).unwrap_err().code,
            "image_too_many_pixels"
        );
        // The largest allowed image is still accepted.
        let out = process_avatar(&png(4096, 4096)).unwrap();
        assert_eq!(out.len(), 2);
    }
}
