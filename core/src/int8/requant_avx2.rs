//! Eight-lane requantization of the fast convolution's output rows (x86_64 AVX2 through
//! `safe_arch`), bit-identical to [`PerChannelQuant::output`] for the channels it accepts.
//!
//! With the micro-kernels fast, the scalar output stage (a 64-bit multiply, a data-dependent
//! rounding and three clamps per output, not inlined) took about a quarter of the 16-channel
//! 3×3 convolution at 256² (144 MACs per output). Within one output row every lane shares the
//! channel's multiplier, shift, bias and clamp, so the stage vectorises with broadcasts.
//!
//! # Why it is the same arithmetic
//!
//! [`RowQuant::new`] accepts a channel only when the vector form needs no saturation:
//!
//! * `bias` with `|bias| ≤ 2³¹ − 1 − bound`, `bound` bounding the exact sum (the caller's
//!   `32 640 · R`): `acc + bias` cannot saturate, so `saturating_add` is a plain add;
//! * `multiplier ≠ i32::MIN`: `SaturatingRoundingDoublingHighMul` cannot saturate, and its
//!   `trunc((a·b + nudge) / 2³¹)` with `nudge = 2³⁰` for `a·b ≥ 0` and `1 − 2³⁰` otherwise
//!   equals `⌊(a·b + 2³⁰) / 2³¹⌋` in both cases (for `a·b < 0`, `trunc(v / d) = ⌈v / d⌉ =
//!   ⌊(v + d − 1) / d⌋` with `v + d − 1 = a·b + 2³⁰`): one 64-bit add and shift per lane, the
//!   result's 32 bits being bits 31–62 of the sum;
//! * `shift ≤ 0` (after the same clamp to `−31..=31`): `RoundingDivideByPOT` by `e = −shift`
//!   is `(x >> e) + (x & mask > (mask >> 1) + [x < 0])`, lane by lane.
//!
//! The remaining `saturating_add(zp_out)` and clamp to the activation range (inside the int8
//! range) give the same result on `clamp(scaled, −512, 512) + zp_out` (beyond ±512 both end at
//! the same bound). Other channels (`shift > 0`, i.e. a multiplier ≥ 1; corrupted parameters)
//! take the scalar [`PerChannelQuant::output`].

use super::quant::PerChannelQuant;
use safe_arch::{
    add_i32_m256i, add_i64_m256i, bitand_m256i, blend_imm_i32_m256i, cmp_gt_mask_i32_m256i, m256i,
    max_i32_m256i, min_i32_m256i, mul_i64_low_bits_m256i, set_splat_i32_m256i, set_splat_i64_m256i,
    shl_imm_u64_m256i, shr_each_i32_m256i, shr_imm_u64_m256i, sub_i32_m256i,
};

/// One channel's output stage as broadcast vectors.
#[derive(Clone, Copy)]
pub(crate) struct RowQuant {
    /// `bias − offset` (wrapping: only the sum with the accumulator must fit).
    add: m256i,
    multiplier: m256i,
    /// The odd lanes' multipliers moved into the even `i32` slots (for the odd products).
    multiplier_odd: m256i,
    exponent: m256i,
    mask: m256i,
    half_mask: m256i,
    output_zp: m256i,
    min: m256i,
    max: m256i,
}

impl RowQuant {
    /// The vector stage of channel `co` for accumulators `acc` whose exact sums are
    /// `acc − offset` with `|acc − offset| ≤ bound`, or `None` where the stage could
    /// saturate (see the module documentation).
    #[inline]
    pub(crate) fn new<const CO: usize>(
        q: &PerChannelQuant<'_, CO>,
        co: usize,
        offset: i32,
        bound: i64,
    ) -> Option<RowQuant> {
        let shift = q.shift[co].clamp(-31, 31);
        let multiplier = q.multiplier[co];
        let bias = q.bias.map_or(0, |b| b[co]);
        if shift > 0 || multiplier == i32::MIN || i64::from(bias).abs() + bound > i32::MAX as i64 {
            return None;
        }
        let mask = ((1i64 << -shift) - 1) as i32;
        Some(RowQuant {
            add: set_splat_i32_m256i(bias.wrapping_sub(offset)),
            multiplier: set_splat_i32_m256i(multiplier),
            multiplier_odd: set_splat_i32_m256i(multiplier),
            exponent: set_splat_i32_m256i(-shift),
            mask: set_splat_i32_m256i(mask),
            half_mask: set_splat_i32_m256i(mask >> 1),
            output_zp: set_splat_i32_m256i(i32::from(q.output_zp)),
            min: set_splat_i32_m256i(i32::from(q.clamp.min)),
            max: set_splat_i32_m256i(i32::from(q.clamp.max)),
        })
    }

    /// The stage of eight consecutive channels `first..first + 8`, one per lane (a linear
    /// layer's outputs for one token), for accumulators `|acc| ≤ bound` (no offset), or `None`
    /// where any of them needs the scalar stage (the conditions of [`RowQuant::new`], lane by
    /// lane; `apply` is lane-wise, so per-lane parameters give each lane its channel's stage).
    #[inline]
    pub(crate) fn lanes<const CO: usize>(
        q: &PerChannelQuant<'_, CO>,
        first: usize,
        bound: i64,
    ) -> Option<RowQuant> {
        let mut add = [0i32; 8];
        let mut multiplier = [0i32; 8];
        let mut exponent = [0i32; 8];
        let mut mask = [0i32; 8];
        let mut half_mask = [0i32; 8];
        for lane in 0..8 {
            let co = first + lane;
            let shift = (*q.shift.get(co)?).clamp(-31, 31);
            let m = *q.multiplier.get(co)?;
            let bias = q.bias.map_or(0, |b| b[co]);
            if shift > 0 || m == i32::MIN || i64::from(bias).abs() + bound > i32::MAX as i64 {
                return None;
            }
            let mk = ((1i64 << -shift) - 1) as i32;
            add[lane] = bias;
            multiplier[lane] = m;
            exponent[lane] = -shift;
            mask[lane] = mk;
            half_mask[lane] = mk >> 1;
        }
        let multiplier = m256i::from(multiplier);
        Some(RowQuant {
            add: m256i::from(add),
            multiplier,
            multiplier_odd: shr_imm_u64_m256i::<32>(multiplier),
            exponent: m256i::from(exponent),
            mask: m256i::from(mask),
            half_mask: m256i::from(half_mask),
            output_zp: set_splat_i32_m256i(i32::from(q.output_zp)),
            min: set_splat_i32_m256i(i32::from(q.clamp.min)),
            max: set_splat_i32_m256i(i32::from(q.clamp.max)),
        })
    }

    /// Eight outputs: `PerChannelQuant::output(co, acc[j] − offset)` as `i32`.
    #[inline]
    pub(crate) fn apply(&self, acc: [i32; 8]) -> [i32; 8] {
        let x = add_i32_m256i(m256i::from(acc), self.add);
        // SaturatingRoundingDoublingHighMul: even lanes, then odd lanes moved down.
        let nudge = set_splat_i64_m256i(1 << 30);
        let even = mul_i64_low_bits_m256i(x, self.multiplier);
        let odd = mul_i64_low_bits_m256i(shr_imm_u64_m256i::<32>(x), self.multiplier_odd);
        let even = shr_imm_u64_m256i::<31>(add_i64_m256i(even, nudge));
        let odd = shl_imm_u64_m256i::<1>(add_i64_m256i(odd, nudge));
        let high = blend_imm_i32_m256i::<0b1010_1010>(even, odd);
        // RoundingDivideByPOT.
        let zero = set_splat_i32_m256i(0);
        let remainder = bitand_m256i(high, self.mask);
        // cmp_gt gives −1 for true: threshold = half_mask + [high < 0].
        let threshold = sub_i32_m256i(self.half_mask, cmp_gt_mask_i32_m256i(zero, high));
        let shifted = shr_each_i32_m256i(high, self.exponent);
        let scaled = sub_i32_m256i(shifted, cmp_gt_mask_i32_m256i(remainder, threshold));
        // Zero point and clamp.
        let bounded = min_i32_m256i(
            max_i32_m256i(scaled, set_splat_i32_m256i(-512)),
            set_splat_i32_m256i(512),
        );
        let y = add_i32_m256i(bounded, self.output_zp);
        <[i32; 8]>::from(min_i32_m256i(max_i32_m256i(y, self.min), self.max))
    }
}
