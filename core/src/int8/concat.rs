//! Requantization of a tensor to another scale, and concatenation along channels with each
//! input requantized to the output's common scale.
//!
//! TFLite's int8 `Concatenation` requires all inputs to share the output's scale and zero
//! point; where calibration gives them different ranges the converter inserts a
//! `Requantize`/`Quantize` op in front. Here that rescale is fused into the concatenation:
//! `y = M · (x − zp_in) + zp_out` with `M = s_in / s_out` ([`Rescale`]), one requantization per
//! element — within 1 LSB of "dequantize → quantize to the output scale". Factors near 1 have
//! small right shifts, so TFLite's double rounding (see [`super::quant`]) is visible here: a
//! few % of elements land one LSB from the correctly rounded value. An input already at the
//! output's parameters is copied exactly.
//!
//! For more than two inputs, or to let producers write in place, requantize each input into its
//! channel range of the output with [`requantize`] and [`crate::tensor::channels_mut`].

use super::quant::{saturate_i8, Requant};
use crate::tensor::{Flat, Map};

/// Moves an int8 tensor from one quantization to another: `y = M·(x − zp_in) + zp_out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rescale {
    /// Zero point of the input.
    pub input_zp: i8,
    /// Zero point of the output.
    pub output_zp: i8,
    /// `s_in / s_out`.
    pub requant: Requant,
}

impl Rescale {
    /// Parameters that leave a tensor unchanged.
    pub const IDENTITY: Self = Self {
        input_zp: 0,
        output_zp: 0,
        requant: Requant::IDENTITY,
    };

    /// Whether this copies values unchanged (equal zero points, multiplier exactly 1).
    pub const fn is_identity(&self) -> bool {
        self.input_zp == self.output_zp && self.requant.is_identity()
    }

    /// One element.
    #[inline]
    pub const fn apply(&self, x: i8) -> i8 {
        let v = self.requant.apply(x as i32 - self.input_zp as i32);
        saturate_i8(v.saturating_add(self.output_zp as i32))
    }
}

/// `y = rescale(x)` for two tensors of the same shape.
pub fn requantize<T: Flat<Elem = i8>>(x: &T, q: &Rescale, y: &mut T) {
    if q.is_identity() {
        y.flat_mut().copy_from_slice(x.flat());
        return;
    }
    for (o, v) in y.flat_mut().iter_mut().zip(x.flat()) {
        *o = q.apply(*v);
    }
}

/// `x = rescale(x)` in place.
pub fn requantize_in_place(x: &mut impl Flat<Elem = i8>, q: &Rescale) {
    if q.is_identity() {
        return;
    }
    for v in x.flat_mut() {
        *v = q.apply(*v);
    }
}

/// `y = [rescale_a(a); rescale_b(b)]` along channels (`C == CA + CB`, equal H, W — checked at
/// compile time).
pub fn concat2<const CA: usize, const CB: usize, const C: usize, const H: usize, const W: usize>(
    a: &Map<CA, H, W, i8>,
    qa: &Rescale,
    b: &Map<CB, H, W, i8>,
    qb: &Rescale,
    y: &mut Map<C, H, W, i8>,
) {
    const { assert!(CA + CB == C, "concat output channels must equal CA + CB") };
    let (ya, yb) = crate::tensor::split_channels_mut::<i8, CA, CB, C, H, W>(y);
    requantize(a, qa, ya);
    requantize(b, qb, yb);
}
