//! One slice through a network: resize to the network's input, run, threshold, resize the mask
//! back to the slice.
//!
//! The preprocessing is the training pipeline's ([`crate::data::prepare`]): bilinear resampling
//! with half-pixel centres for the image, nearest neighbour for the mask on the way back, so a
//! mask lines up with its slice pixel for pixel.

use super::engine::SliceNet;
use crate::data::resample::{resize_bilinear, resize_nearest};
use std::time::Instant;

/// The network input for `width × height` planes of `[0, 1]` intensities (one slice, or a
/// slice and its neighbours for a 2.5D network), each resized alike.
pub fn preprocess(image: &[f32], width: usize, height: usize, input_hw: [usize; 2]) -> Vec<f32> {
    let plane = (width * height).max(1);
    let mut out = Vec::with_capacity(image.len() / plane * input_hw[0] * input_hw[1]);
    for p in image.chunks_exact(plane) {
        out.extend(resize_bilinear(p, width, height, input_hw[1], input_hw[0]));
    }
    out
}

/// Foreground at network resolution: logit > `threshold` for a one-channel output (threshold
/// 0 is probability 0.5); for several channels, the arg-max channel is not 0 (background).
pub fn foreground(logits: &[f32], shape: [usize; 3], threshold: f32) -> Vec<bool> {
    let [c, h, w] = shape;
    let plane = h * w;
    if c <= 1 {
        return logits.iter().take(plane).map(|&v| v > threshold).collect();
    }
    (0..plane)
        .map(|i| {
            let best = (0..c)
                .max_by(|&a, &b| logits[a * plane + i].total_cmp(&logits[b * plane + i]))
                .unwrap_or(0);
            best != 0
        })
        .collect()
}

/// Reusable buffers and the running time of one network over many slices.
#[derive(Debug, Default)]
pub struct Runner {
    logits: Vec<f32>,
    /// Seconds spent per slice (preprocess + forward + threshold + resize back).
    pub seconds: Vec<f64>,
}

impl Runner {
    /// A runner with no slices yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The mask of one slice at its own size. `image` holds the network's input channels as
    /// `width × height` planes: the slice, or for a 2.5D network the slice and its neighbours
    /// ([`crate::data::stack`]).
    pub fn mask(
        &mut self,
        net: &mut dyn SliceNet,
        image: &[f32],
        width: usize,
        height: usize,
        threshold: f32,
    ) -> Result<Vec<bool>, String> {
        let start = Instant::now();
        let k = net.input_channels();
        if image.len() != k * width * height {
            return Err(format!(
                "{} takes {k} slice(s) of {width}×{height} per input, given {} values",
                net.describe(),
                image.len()
            ));
        }
        let hw = net.input_hw();
        let input = preprocess(image, width, height, hw);
        net.infer(&input, &mut self.logits)?;
        if let Some(bad) = self.logits.iter().find(|v| !v.is_finite()) {
            return Err(format!(
                "{} produced a non-finite logit ({bad}); the blob's weights are unusable",
                net.describe()
            ));
        }
        let small = foreground(&self.logits, net.output_shape(), threshold);
        let [_, oh, ow] = net.output_shape();
        let mask = resize_nearest(&small, ow, oh, width, height);
        self.seconds.push(start.elapsed().as_secs_f64());
        Ok(mask)
    }

    /// Mean milliseconds per slice.
    pub fn ms_per_slice(&self) -> f64 {
        if self.seconds.is_empty() {
            0.0
        } else {
            1000.0 * self.seconds.iter().sum::<f64>() / self.seconds.len() as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_and_argmax() {
        assert_eq!(
            foreground(&[-1.0, 0.0, 0.5], [1, 1, 3], 0.0),
            [false, false, true]
        );
        assert_eq!(
            foreground(&[-1.0, 0.0, 0.5], [1, 1, 3], -2.0),
            [true, true, true]
        );
        // Two channels: background logits then foreground logits.
        assert_eq!(
            foreground(&[1.0, 4.0, 2.0, 3.0], [2, 1, 2], 0.0),
            [true, false]
        );
    }
}
