//! Test-time augmentation by flip averaging (`--tta` in `segment` and `eval`).
//!
//! A slice goes through the network four times — as it is, mirrored left–right, mirrored
//! top–bottom, and both — each output is mirrored back, and the four logit maps are averaged
//! in `f32` in that fixed order (`((id + h) + v) + hv`, then `× 0.25`, which is exact), so
//! the result is deterministic and the same for every engine. The int8 engine hands its
//! logits on dequantized ([`super::engine`]), so for int8 the dequantized logits are averaged.
//! Whether it helps depends on the model: training uses random flips as augmentation, but
//! anatomy is not mirror-symmetric, and on phantoms it lowered Dice (docs/inference.md).

use super::engine::SliceNet;

/// The four flips, in the order they are summed.
pub const FLIPS: [Flip; 4] = [
    Flip {
        horizontal: false,
        vertical: false,
    },
    Flip {
        horizontal: true,
        vertical: false,
    },
    Flip {
        horizontal: false,
        vertical: true,
    },
    Flip {
        horizontal: true,
        vertical: true,
    },
];

/// A mirror of every `height × width` plane: left–right (`horizontal`), top–bottom
/// (`vertical`) or both. Each is its own inverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flip {
    /// Mirror columns (x → w − 1 − x).
    pub horizontal: bool,
    /// Mirror rows (y → h − 1 − y).
    pub vertical: bool,
}

impl Flip {
    /// `src` (planes of `height × width`, any number of them) mirrored into `dst`.
    pub fn apply(self, src: &[f32], height: usize, width: usize, dst: &mut Vec<f32>) {
        dst.clear();
        let plane = height * width;
        if plane == 0 {
            return;
        }
        dst.reserve(src.len());
        for p in src.chunks_exact(plane) {
            for y in 0..height {
                let sy = if self.vertical { height - 1 - y } else { y };
                let row = &p[sy * width..(sy + 1) * width];
                if self.horizontal {
                    dst.extend(row.iter().rev());
                } else {
                    dst.extend_from_slice(row);
                }
            }
        }
    }
}

/// A network whose logits are the flip average of another's.
pub struct Tta<'a> {
    inner: Box<dyn SliceNet + 'a>,
    flipped_input: Vec<f32>,
    raw: Vec<f32>,
    back: Vec<f32>,
}

impl std::fmt::Debug for Tta<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tta")
            .field("inner", &self.inner.describe())
            .finish_non_exhaustive()
    }
}

impl<'a> Tta<'a> {
    /// Wraps `inner`.
    pub fn new(inner: Box<dyn SliceNet + 'a>) -> Self {
        Self {
            inner,
            flipped_input: Vec::new(),
            raw: Vec::new(),
            back: Vec::new(),
        }
    }
}

/// `net` with flip averaging when `tta` is set, else `net` itself.
pub fn maybe_tta<'a>(net: Box<dyn SliceNet + 'a>, tta: bool) -> Box<dyn SliceNet + 'a> {
    if tta {
        Box::new(Tta::new(net))
    } else {
        net
    }
}

impl SliceNet for Tta<'_> {
    fn describe(&self) -> String {
        format!("{} with flip TTA (×4)", self.inner.describe())
    }

    fn input_hw(&self) -> [usize; 2] {
        self.inner.input_hw()
    }

    fn input_channels(&self) -> usize {
        self.inner.input_channels()
    }

    fn output_shape(&self) -> [usize; 3] {
        self.inner.output_shape()
    }

    fn infer(&mut self, input: &[f32], logits: &mut Vec<f32>) -> Result<(), String> {
        let [h, w] = self.inner.input_hw();
        let [_, oh, ow] = self.inner.output_shape();
        if (oh, ow) != (h, w) {
            return Err(format!(
                "{}: flip TTA needs an output of the input's size ({w}×{h}), not {ow}×{oh}",
                self.inner.describe()
            ));
        }
        logits.clear();
        for flip in FLIPS {
            flip.apply(input, h, w, &mut self.flipped_input);
            self.inner.infer(&self.flipped_input, &mut self.raw)?;
            flip.apply(&self.raw, h, w, &mut self.back);
            if logits.is_empty() {
                logits.extend_from_slice(&self.back);
            } else {
                for (sum, v) in logits.iter_mut().zip(&self.back) {
                    *sum += v;
                }
            }
        }
        for v in logits.iter_mut() {
            *v *= 0.25;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_mirror_and_invert() {
        // 2 planes of 2×3.
        let src: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let mut out = Vec::new();
        FLIPS[1].apply(&src, 2, 3, &mut out);
        assert_eq!(out, [2., 1., 0., 5., 4., 3., 8., 7., 6., 11., 10., 9.]);
        FLIPS[2].apply(&src, 2, 3, &mut out);
        assert_eq!(out, [3., 4., 5., 0., 1., 2., 9., 10., 11., 6., 7., 8.]);
        FLIPS[3].apply(&src, 2, 3, &mut out);
        assert_eq!(out, [5., 4., 3., 2., 1., 0., 11., 10., 9., 8., 7., 6.]);
        for f in FLIPS {
            let mut once = Vec::new();
            let mut twice = Vec::new();
            f.apply(&src, 2, 3, &mut once);
            f.apply(&once, 2, 3, &mut twice);
            assert_eq!(twice, src);
        }
    }

    /// A "network" whose logit at (y, x) is `10·y + x + input`: not flip-symmetric, so the
    /// average can be derived by hand.
    struct Ramp;
    impl SliceNet for Ramp {
        fn describe(&self) -> String {
            "ramp".into()
        }
        fn input_hw(&self) -> [usize; 2] {
            [2, 2]
        }
        fn input_channels(&self) -> usize {
            1
        }
        fn output_shape(&self) -> [usize; 3] {
            [1, 2, 2]
        }
        fn infer(&mut self, input: &[f32], logits: &mut Vec<f32>) -> Result<(), String> {
            logits.clear();
            logits.extend(
                input
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (10 * (i / 2) + i % 2) as f32 + v),
            );
            Ok(())
        }
    }

    #[test]
    fn averages_the_mirrored_back_outputs() {
        // Each output pixel sees the input pixel it came from (mirrored back) plus the ramp at
        // the mirrored position: the ramp averages to its mean 5.5 everywhere.
        let mut t = Tta::new(Box::new(Ramp));
        let mut out = Vec::new();
        t.infer(&[1.0, 2.0, 3.0, 4.0], &mut out).unwrap();
        assert_eq!(out, [6.5, 7.5, 8.5, 9.5]);
        assert_eq!(t.describe(), "ramp with flip TTA (×4)");
    }
}
