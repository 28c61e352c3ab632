//! PNG slices and masks: decoding to `[0, 1]` intensities and boolean masks, and 8-bit output.
//!
//! The Kaggle lits-png files come in several flavours (grey or RGB, 8 or 16 bit, masks as 0/1 or
//! 0/255), so the decoder normalises all of them: an image becomes the mean of its colour
//! channels over the format's maximum (alpha ignored); a mask pixel is foreground when any
//! colour channel is non-zero (alpha ignored, so an opaque mask is not all foreground).

use super::atomic::write_atomic;
use super::error::DataError;
use super::window::{u16_to_unit, u8_to_unit};
use image::{DynamicImage, ImageEncoder, ImageFormat};
use std::path::Path;

/// A decoded PNG as plain samples: `width × height × channels`, `colour` of which carry colour.
struct Samples<'a, T> {
    data: &'a [T],
    channels: usize,
    colour: usize,
}

/// Reads and decodes the PNG at `path`.
fn decode(path: &Path) -> Result<DynamicImage, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::read(path, e))?;
    image::load_from_memory_with_format(&bytes, ImageFormat::Png).map_err(|e| {
        DataError::CorruptPng {
            path: path.to_path_buf(),
            detail: e.to_string(),
        }
    })
}

/// Per-pixel mean of the colour channels over `max`.
fn mean_colour<T: Copy + Into<u32>>(
    s: Samples<'_, T>,
    max: f32,
    unit: impl Fn(T) -> f32,
) -> Vec<f32> {
    if s.colour == 1 {
        return s
            .data
            .iter()
            .step_by(s.channels)
            .map(|&v| unit(v))
            .collect();
    }
    s.data
        .chunks_exact(s.channels)
        .map(|px| {
            let sum: u32 = px[..s.colour].iter().map(|&v| v.into()).sum();
            sum as f32 / (s.colour as f32 * max)
        })
        .collect()
}

/// Per-pixel "any colour channel non-zero".
fn any_colour<T: Copy + Into<u32>>(s: Samples<'_, T>) -> Vec<bool> {
    s.data
        .chunks_exact(s.channels)
        .map(|px| px[..s.colour].iter().any(|&v| v.into() > 0))
        .collect()
}

fn unsupported(path: &Path, img: &DynamicImage) -> DataError {
    DataError::UnsupportedPng {
        path: path.to_path_buf(),
        format: format!("{:?}", img.color()),
    }
}

/// Decodes a CT slice PNG to `(width, height, intensities in [0, 1])`.
///
/// 8-bit and 16-bit grey (with or without alpha) and RGB(A) are accepted; float PNGs are not.
pub fn read_image(path: &Path) -> Result<(usize, usize, Vec<f32>), DataError> {
    let img = decode(path)?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let pixels = match &img {
        DynamicImage::ImageLuma8(b) => mean_colour(samples(b.as_raw(), 1, 1), 255.0, u8_to_unit),
        DynamicImage::ImageLumaA8(b) => mean_colour(samples(b.as_raw(), 2, 1), 255.0, u8_to_unit),
        DynamicImage::ImageRgb8(b) => mean_colour(samples(b.as_raw(), 3, 3), 255.0, u8_to_unit),
        DynamicImage::ImageRgba8(b) => mean_colour(samples(b.as_raw(), 4, 3), 255.0, u8_to_unit),
        DynamicImage::ImageLuma16(b) => {
            mean_colour(samples(b.as_raw(), 1, 1), 65535.0, u16_to_unit)
        }
        DynamicImage::ImageLumaA16(b) => {
            mean_colour(samples(b.as_raw(), 2, 1), 65535.0, u16_to_unit)
        }
        DynamicImage::ImageRgb16(b) => mean_colour(samples(b.as_raw(), 3, 3), 65535.0, u16_to_unit),
        DynamicImage::ImageRgba16(b) => {
            mean_colour(samples(b.as_raw(), 4, 3), 65535.0, u16_to_unit)
        }
        other => return Err(unsupported(path, other)),
    };
    Ok((w, h, pixels))
}

/// Decodes a mask PNG to `(width, height, foreground flags)`; any non-zero colour is foreground,
/// so 0/1, 0/255, grey and RGB masks all work.
pub fn read_mask(path: &Path) -> Result<(usize, usize, Vec<bool>), DataError> {
    let img = decode(path)?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mask = match &img {
        DynamicImage::ImageLuma8(b) => any_colour(samples(b.as_raw(), 1, 1)),
        DynamicImage::ImageLumaA8(b) => any_colour(samples(b.as_raw(), 2, 1)),
        DynamicImage::ImageRgb8(b) => any_colour(samples(b.as_raw(), 3, 3)),
        DynamicImage::ImageRgba8(b) => any_colour(samples(b.as_raw(), 4, 3)),
        DynamicImage::ImageLuma16(b) => any_colour(samples(b.as_raw(), 1, 1)),
        DynamicImage::ImageLumaA16(b) => any_colour(samples(b.as_raw(), 2, 1)),
        DynamicImage::ImageRgb16(b) => any_colour(samples(b.as_raw(), 3, 3)),
        DynamicImage::ImageRgba16(b) => any_colour(samples(b.as_raw(), 4, 3)),
        other => return Err(unsupported(path, other)),
    };
    Ok((w, h, mask))
}

fn samples<T>(data: &[T], channels: usize, colour: usize) -> Samples<'_, T> {
    Samples {
        data,
        channels,
        colour,
    }
}

/// Encodes `pixels` (`width × height`, row-major) as an 8-bit grey PNG.
pub fn encode_grey8(width: usize, height: usize, pixels: &[u8]) -> Result<Vec<u8>, String> {
    let (w, h) = (
        u32::try_from(width).map_err(|e| e.to_string())?,
        u32::try_from(height).map_err(|e| e.to_string())?,
    );
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(pixels, w, h, image::ExtendedColorType::L8)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// Writes `pixels` as an 8-bit grey PNG at `path`, atomically.
pub fn write_grey8(
    path: &Path,
    width: usize,
    height: usize,
    pixels: &[u8],
) -> Result<(), DataError> {
    let bytes = encode_grey8(width, height, pixels).map_err(|detail| DataError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(detail),
    })?;
    write_atomic(path, |w| w.write_all(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    static N: AtomicU32 = AtomicU32::new(0);

    fn tmp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "hepaseg-png-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn grey8_round_trip() {
        let p = tmp("a.png");
        write_grey8(&p, 3, 2, &[0, 51, 255, 1, 2, 3]).unwrap();
        let (w, h, img) = read_image(&p).unwrap();
        assert_eq!((w, h), (3, 2));
        assert_eq!(img[1], 0.2);
        assert_eq!(img[2], 1.0);
        let (_, _, m) = read_mask(&p).unwrap();
        assert_eq!(m, vec![false, true, true, true, true, true]);
    }

    #[test]
    fn rgb_and_16bit_and_alpha() {
        let p = tmp("rgb.png");
        let rgb = image::RgbImage::from_raw(2, 1, vec![0, 0, 0, 30, 60, 90]).unwrap();
        rgb.save(&p).unwrap();
        let (_, _, img) = read_image(&p).unwrap();
        assert!((img[1] - 60.0 / 255.0).abs() < 1e-6);
        let (_, _, m) = read_mask(&p).unwrap();
        assert_eq!(m, vec![false, true]);

        let p = tmp("g16.png");
        let g =
            image::ImageBuffer::<image::Luma<u16>, _>::from_raw(2, 1, vec![0u16, 65535]).unwrap();
        g.save(&p).unwrap();
        assert_eq!(read_image(&p).unwrap().2, vec![0.0, 1.0]);

        let p = tmp("la.png");
        let la = image::GrayAlphaImage::from_raw(2, 1, vec![0, 255, 1, 255]).unwrap();
        la.save(&p).unwrap();
        assert_eq!(read_mask(&p).unwrap().2, vec![false, true]);
    }

    #[test]
    fn corrupt_png_names_file() {
        let p = tmp("bad.png");
        write_grey8(&p, 8, 8, &[7; 64]).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        let e = read_image(&p).unwrap_err();
        assert!(matches!(e, DataError::CorruptPng { .. }), "{e}");
        assert!(e.to_string().contains("bad.png"), "{e}");
        std::fs::write(&p, b"not a png at all").unwrap();
        assert!(matches!(read_mask(&p), Err(DataError::CorruptPng { .. })));
        let missing = tmp("missing.png");
        assert!(matches!(read_image(&missing), Err(DataError::Io { .. })));
    }
}
