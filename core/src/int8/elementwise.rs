//! Element-wise add and multiply of two int8 tensors with different quantization, with the
//! same channel (`[i8; C]`) and pixel (`Map<1, H, W>`) broadcasts as [`crate::ops`], and a
//! standalone ReLU.
//!
//! * **Add** is TFLite's int8 `Add` (reference `integer_ops::AddElementwise`): each input,
//!   offset by its zero point, is shifted left by [`ADD_LEFT_SHIFT`] = 20 bits and rescaled by
//!   its own multiplier (`s_x / (2·max(s_a, s_b))`, below 1/2), the two are summed in `i32`, and
//!   the sum is rescaled to the output (`2·max(s_a, s_b) / (2^20 · s_out)`). The 20 bits of
//!   headroom make the input roundings (and the output multiplier's double rounding, whose
//!   right shift is ≈ 20) negligible, so the result is the exact sum rounded once: within 1
//!   LSB of "dequantize → add → quantize", and in the tests always equal to it.
//! * **Mul** is TFLite's int8 `Mul`: `(a − za)(b − zb)` is exact in `i32` and one
//!   requantization by `s_a·s_b / s_out` rounds it: within 1 LSB, equal to the reference
//!   except near ties (double rounding, see [`super::quant`]).
//!
//! Both end with the output zero point and a fused [`Clamp`], as in TFLite.

use super::quant::{Clamp, Requant};
use crate::tensor::{Flat, Map};

/// TFLite's `left_shift` for 8-bit `Add`: inputs are multiplied by `2^20` before their
/// (below-one) rescaling, keeping 20 fractional bits through the sum.
pub const ADD_LEFT_SHIFT: i32 = 20;

/// Parameters of `out = a + b` (TFLite's `ArithmeticParams` for int8 `Add`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddQuant {
    /// Zero point of `a`.
    pub a_zp: i8,
    /// Zero point of `b`.
    pub b_zp: i8,
    /// Zero point of the output.
    pub output_zp: i8,
    /// Bits both inputs are shifted left by before rescaling ([`ADD_LEFT_SHIFT`]; clamped to
    /// `0..=23` so `255 · 2^left_shift` cannot overflow).
    pub left_shift: i32,
    /// `s_a / (2·max(s_a, s_b))`.
    pub a: Requant,
    /// `s_b / (2·max(s_a, s_b))`.
    pub b: Requant,
    /// `2·max(s_a, s_b) / (2^left_shift · s_out)`.
    pub output: Requant,
    /// Fused activation range.
    pub clamp: Clamp,
}

impl AddQuant {
    /// One output element.
    #[inline]
    pub const fn add(&self, a: i8, b: i8) -> i8 {
        self.finish(self.a_term(a).saturating_add(self.b_term(b)))
    }

    /// The left shift, clamped to `0..=23`.
    const fn shift(&self) -> i32 {
        if self.left_shift < 0 {
            0
        } else if self.left_shift > 23 {
            23
        } else {
            self.left_shift
        }
    }

    /// `a`'s rescaled term of the sum. |x − zp| ≤ 255, so `· 2^ls` ≤ 255 · 2^23 < 2^31.
    #[inline]
    const fn a_term(&self, a: i8) -> i32 {
        self.a.apply((a as i32 - self.a_zp as i32) << self.shift())
    }

    /// `b`'s rescaled term of the sum.
    #[inline]
    const fn b_term(&self, b: i8) -> i32 {
        self.b.apply((b as i32 - self.b_zp as i32) << self.shift())
    }

    /// The output from the sum of both terms.
    #[inline]
    const fn finish(&self, sum: i32) -> i8 {
        self.clamp
            .apply(self.output.apply(sum).saturating_add(self.output_zp as i32))
    }
}

/// Both inputs' rescaled terms for all 256 values of an `i8`, computed once per call: the
/// input-side rescalings of an add depend on one byte each, so over a whole map they are two
/// table reads instead of two 64-bit multiply-and-round steps per element. The same function
/// values, so the same bits as [`AddQuant::add`] (tested).
struct AddTable<'q> {
    q: &'q AddQuant,
    a: [i32; 256],
    b: [i32; 256],
}

impl<'q> AddTable<'q> {
    fn new(q: &'q AddQuant) -> Self {
        let value = |i: usize| (i as u8) as i8;
        AddTable {
            q,
            a: core::array::from_fn(|i| q.a_term(value(i))),
            b: core::array::from_fn(|i| q.b_term(value(i))),
        }
    }

    #[inline]
    fn add(&self, a: i8, b: i8) -> i8 {
        self.q
            .finish(self.a[usize::from(a as u8)].saturating_add(self.b[usize::from(b as u8)]))
    }

    /// The output stage as eight-lane AVX2 arithmetic, when it is exactly [`AddQuant::finish`]:
    /// the two terms' sum cannot saturate (so the scalar `saturating_add` is a plain add) and
    /// [`RowQuant`] accepts the output requantization (it is `PerChannelQuant::output` with no
    /// bias, which `finish` is; see `requant_avx2`).
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    fn vector_stage(&self) -> Option<super::requant_avx2::RowQuant> {
        let largest = |t: &[i32; 256]| t.iter().map(|v| i64::from(*v).abs()).max().unwrap_or(0);
        let bound = largest(&self.a) + largest(&self.b);
        if bound > i64::from(i32::MAX) {
            return None;
        }
        let pq = super::quant::PerChannelQuant {
            input_zp: 0,
            output_zp: self.q.output_zp,
            multiplier: &[self.q.output.multiplier],
            shift: &[self.q.output.shift],
            bias: None,
            clamp: self.q.clamp,
        };
        super::requant_avx2::RowQuant::new(&pq, 0, 0, bound)
    }

    /// `a = a + b` over the common length.
    fn add_slices(&self, a: &mut [i8], b: &[i8]) {
        let n = a.len().min(b.len());
        let (a, b) = (&mut a[..n], &b[..n]);
        #[allow(unused_mut)]
        let mut done = 0;
        #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
        if let Some(stage) = self.vector_stage() {
            for (ac, bc) in a.chunks_exact_mut(8).zip(b.chunks_exact(8)) {
                let sums: [i32; 8] = core::array::from_fn(|j| {
                    self.a[usize::from(ac[j] as u8)] + self.b[usize::from(bc[j] as u8)]
                });
                // Outputs are clamped into the int8 range: the narrowing is exact.
                for (o, v) in ac.iter_mut().zip(stage.apply(sums)) {
                    *o = v as i8;
                }
            }
            done = n / 8 * 8;
        }
        for (x, y) in a[done..].iter_mut().zip(&b[done..]) {
            *x = self.add(*x, *y);
        }
    }
}

/// Parameters of `out = a · b` (TFLite's `ArithmeticParams` for int8 `Mul`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MulQuant {
    /// Zero point of `a`.
    pub a_zp: i8,
    /// Zero point of `b`.
    pub b_zp: i8,
    /// Zero point of the output.
    pub output_zp: i8,
    /// `s_a · s_b / s_out`.
    pub requant: Requant,
    /// Fused activation range.
    pub clamp: Clamp,
}

impl MulQuant {
    /// One output element.
    #[inline]
    pub const fn mul(&self, a: i8, b: i8) -> i8 {
        // |(a − za)(b − zb)| ≤ 255², exact in i32.
        let p = (a as i32 - self.a_zp as i32) * (b as i32 - self.b_zp as i32);
        self.clamp
            .apply(self.requant.apply(p).saturating_add(self.output_zp as i32))
    }
}

/// `a = a + b` (in place on `a`; the result has the output quantization of `q`).
pub fn add<T: Flat<Elem = i8>>(a: &mut T, b: &T, q: &AddQuant) {
    add_slices(a.flat_mut(), b.flat(), q);
}

/// `a = a + b` over slices (the common length).
fn add_slices(a: &mut [i8], b: &[i8], q: &AddQuant) {
    AddTable::new(q).add_slices(a, b);
}

/// `out = a + b`.
pub fn add_into<T: Flat<Elem = i8>>(a: &T, b: &T, q: &AddQuant, out: &mut T) {
    let t = AddTable::new(q);
    for ((o, x), y) in out.flat_mut().iter_mut().zip(a.flat()).zip(b.flat()) {
        *o = t.add(*x, *y);
    }
}

/// `a = a · b` (in place on `a`).
pub fn mul<T: Flat<Elem = i8>>(a: &mut T, b: &T, q: &MulQuant) {
    for (x, y) in a.flat_mut().iter_mut().zip(b.flat()) {
        *x = q.mul(*x, *y);
    }
}

/// `out = a · b`.
pub fn mul_into<T: Flat<Elem = i8>>(a: &T, b: &T, q: &MulQuant, out: &mut T) {
    for ((o, x), y) in out.flat_mut().iter_mut().zip(a.flat()).zip(b.flat()) {
        *o = q.mul(*x, *y);
    }
}

/// `x[c, h, w] = x[c, h, w] + v[c]` (a C×1×1 operand broadcast over pixels; `v` is `b` of `q`).
pub fn add_channel<const C: usize, const H: usize, const W: usize>(
    x: &mut Map<C, H, W, i8>,
    v: &[i8; C],
    q: &AddQuant,
) {
    let t = AddTable::new(q);
    for (plane, b) in x.iter_mut().zip(v) {
        let bt = t.b[usize::from(*b as u8)];
        for p in plane.flat_mut() {
            *p = q.finish(t.a[usize::from(*p as u8)].saturating_add(bt));
        }
    }
}

/// `x[c, h, w] = x[c, h, w] · v[c]` (squeeze-excitation; `v` is `b` of `q`).
pub fn mul_channel<const C: usize, const H: usize, const W: usize>(
    x: &mut Map<C, H, W, i8>,
    v: &[i8; C],
    q: &MulQuant,
) {
    for (plane, s) in x.iter_mut().zip(v) {
        for p in plane.flat_mut() {
            *p = q.mul(*p, *s);
        }
    }
}

/// `x[c, h, w] = x[c, h, w] + p[0, h, w]` (a 1×H×W operand broadcast over channels).
pub fn add_pixel<const C: usize, const H: usize, const W: usize>(
    x: &mut Map<C, H, W, i8>,
    p: &Map<1, H, W, i8>,
    q: &AddQuant,
) {
    let t = AddTable::new(q);
    for plane in x.iter_mut() {
        t.add_slices(plane.flat_mut(), p[0].flat());
    }
}

/// `x[c, h, w] = x[c, h, w] · p[0, h, w]` (attention gates; `p` is `b` of `q`).
pub fn mul_pixel<const C: usize, const H: usize, const W: usize>(
    x: &mut Map<C, H, W, i8>,
    p: &Map<1, H, W, i8>,
    q: &MulQuant,
) {
    for plane in x.iter_mut() {
        mul(plane, &p[0], q);
    }
}

/// A standalone ReLU: `x = max(x, zero_point)` (the real value 0 is the zero point; input
/// and output share their quantization, so this is exact). Prefer fusing it into the
/// producer's [`Clamp`].
pub fn relu(x: &mut impl Flat<Elem = i8>, zero_point: i8) {
    for v in x.flat_mut() {
        *v = (*v).max(zero_point);
    }
}
