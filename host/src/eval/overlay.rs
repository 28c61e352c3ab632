//! Overlay pictures: a CT slice in grey with masks blended on top, as RGB PNGs.
//!
//! Colours are chosen to be told apart at a glance and to keep working for the common
//! red–green deficiency through brightness: agreement (true positive) is bright yellow,
//! missed truth (false negative) green, spurious prediction (false positive) red. `segment`,
//! which has no ground truth, shows its prediction red and, with a liver model, the liver in a
//! faint blue.

use crate::data::atomic::write_atomic;
use crate::data::DataError;
use image::ImageEncoder;
use std::path::Path;

/// True positive: prediction and ground truth agree.
pub const TP: [u8; 3] = [255, 230, 0];
/// False negative: ground truth the prediction missed.
pub const FN: [u8; 3] = [0, 220, 60];
/// False positive: prediction outside the ground truth.
pub const FP: [u8; 3] = [255, 40, 40];
/// The liver region of a cascade.
pub const LIVER: [u8; 3] = [60, 120, 255];

/// An RGB picture under construction.
#[derive(Debug, Clone)]
pub struct Canvas {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Canvas {
    /// A grey picture of `grey` (`width × height`, values in `[0, 1]`, clipped); black when
    /// `grey` is `None` (no CT at hand).
    pub fn grey(width: usize, height: usize, grey: Option<&[f32]>) -> Self {
        let n = width * height;
        let mut rgb = Vec::with_capacity(3 * n);
        for i in 0..n {
            let v = grey.and_then(|g| g.get(i)).copied().unwrap_or(0.0);
            let v = if v.is_nan() {
                0
            } else {
                (v.clamp(0.0, 1.0) * 255.0).round() as u8
            };
            rgb.extend_from_slice(&[v, v, v]);
        }
        Self { width, height, rgb }
    }

    /// A `width × height` picture of one colour (a plot's background).
    pub fn filled(width: usize, height: usize, colour: [u8; 3]) -> Self {
        Self {
            width,
            height,
            rgb: colour.repeat(width * height),
        }
    }

    /// `[width, height]`.
    pub fn size(&self) -> [usize; 2] {
        [self.width, self.height]
    }

    /// Sets pixel `(x, y)`; outside the picture nothing happens (drawing clips).
    pub fn put(&mut self, x: i64, y: i64, colour: [u8; 3]) {
        if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height {
            return;
        }
        let i = 3 * (y as usize * self.width + x as usize);
        self.rgb[i..i + 3].copy_from_slice(&colour);
    }

    /// The colour of pixel `(x, y)` (`None` outside).
    pub fn get(&self, x: usize, y: usize) -> Option<[u8; 3]> {
        (x < self.width && y < self.height).then(|| {
            let i = 3 * (y * self.width + x);
            [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
        })
    }

    /// Blends `colour` with weight `alpha` over every pixel where `mask` is set.
    pub fn tint(&mut self, mask: &[bool], colour: [u8; 3], alpha: f32) {
        for (px, &m) in self.rgb.chunks_exact_mut(3).zip(mask) {
            if m {
                for (c, &t) in px.iter_mut().zip(&colour) {
                    *c = (f32::from(*c) * (1.0 - alpha) + f32::from(t) * alpha).round() as u8;
                }
            }
        }
    }

    /// Prediction against ground truth: TP yellow, FN green, FP red.
    pub fn compare(&mut self, pred: &[bool], gt: &[bool], alpha: f32) {
        let pick = |want: (bool, bool)| -> Vec<bool> {
            pred.iter().zip(gt).map(|(&p, &g)| (p, g) == want).collect()
        };
        self.tint(&pick((true, true)), TP, alpha);
        self.tint(&pick((false, true)), FN, alpha);
        self.tint(&pick((true, false)), FP, alpha);
    }

    /// The RGB bytes, row-major.
    pub fn rgb(&self) -> &[u8] {
        &self.rgb
    }

    /// Writes the picture as an 8-bit RGB PNG, atomically.
    pub fn write_png(&self, path: &Path) -> Result<(), DataError> {
        let too_big = |_| DataError::Write {
            path: path.to_path_buf(),
            source: std::io::Error::other("image too large for PNG"),
        };
        let w = u32::try_from(self.width).map_err(too_big)?;
        let h = u32::try_from(self.height).map_err(too_big)?;
        let mut bytes = Vec::new();
        image::codecs::png::PngEncoder::new(&mut bytes)
            .write_image(&self.rgb, w, h, image::ExtendedColorType::Rgb8)
            .map_err(|e| DataError::Write {
                path: path.to_path_buf(),
                source: std::io::Error::other(e.to_string()),
            })?;
        write_atomic(path, |out| out.write_all(&bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_by_agreement() {
        let mut c = Canvas::grey(4, 1, Some(&[0.0, 0.5, 1.0, 2.0]));
        assert_eq!(&c.rgb()[..6], &[0, 0, 0, 128, 128, 128]);
        assert_eq!(&c.rgb()[9..], &[255, 255, 255]); // clipped
        c.compare(
            &[true, false, true, false],
            &[true, true, false, false],
            1.0,
        );
        assert_eq!(&c.rgb()[0..3], &TP);
        assert_eq!(&c.rgb()[3..6], &FN);
        assert_eq!(&c.rgb()[6..9], &FP);
        assert_eq!(&c.rgb()[9..], &[255, 255, 255]);
        let mut b = Canvas::grey(1, 1, None);
        b.tint(&[true], [200, 100, 0], 0.5);
        assert_eq!(b.rgb(), &[100, 50, 0]);
    }
}
