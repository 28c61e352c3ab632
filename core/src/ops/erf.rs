//! `erf` for GELU: `libm::erff`'s arithmetic without its branches, so a compiler vectorises a
//! loop of it — and the same bits as `libm::erff` for every input (tested).
//!
//! `libm::erff` (FreeBSD's `s_erff.c`) picks one of five rational approximations by the
//! magnitude of `x`, and for `1.25 ≤ |x| < 6` calls `libm::expf` twice; called per element of a
//! map, its branches mispredict and nothing vectorises. Here every approximation is computed
//! and the one `libm` would take is selected, each with exactly `libm`'s operations in
//! `libm`'s order (f32, no fused multiply–add), so the selected value is bit for bit
//! `libm`'s. [`expf_reduced`] is `libm::expf` (FreeBSD's `e_expf.c`) in the same form, for the
//! arguments `erff` gives it (`|x| < 37`: no overflow, no subnormal result).

// libm's constants, by their bit patterns (as its source comments give them).
const ERX: f32 = f32::from_bits(0x3f58_560b);
const EFX8: f32 = f32::from_bits(0x3f83_75d4);
const PP0: f32 = f32::from_bits(0x3e03_75d4);
const PP1: f32 = f32::from_bits(0xbea6_6beb);
const PP2: f32 = f32::from_bits(0xbce9_528f);
const PP3: f32 = f32::from_bits(0xbbbd_1489);
const PP4: f32 = f32::from_bits(0xb7c7_56b1);
const QQ1: f32 = f32::from_bits(0x3ecb_bbce);
const QQ2: f32 = f32::from_bits(0x3d85_2a63);
const QQ3: f32 = f32::from_bits(0x3ba6_8116);
const QQ4: f32 = f32::from_bits(0x390a_ee49);
const QQ5: f32 = f32::from_bits(0xb684_e21a);
const PA0: f32 = f32::from_bits(0xbb1a_cdc6);
const PA1: f32 = f32::from_bits(0x3ed4_6805);
const PA2: f32 = f32::from_bits(0xbebe_9208);
const PA3: f32 = f32::from_bits(0x3ea2_fe54);
const PA4: f32 = f32::from_bits(0xbde3_1cc2);
const PA5: f32 = f32::from_bits(0x3d11_51b3);
const PA6: f32 = f32::from_bits(0xbb0d_f9c0);
const QA1: f32 = f32::from_bits(0x3dd9_f331);
const QA2: f32 = f32::from_bits(0x3f0a_5785);
const QA3: f32 = f32::from_bits(0x3d93_1ae7);
const QA4: f32 = f32::from_bits(0x3e01_3307);
const QA5: f32 = f32::from_bits(0x3c5f_6e13);
const QA6: f32 = f32::from_bits(0x3c44_5aa3);
const RA0: f32 = f32::from_bits(0xbc21_a093);
const RA1: f32 = f32::from_bits(0xbf31_a0b7);
const RA2: f32 = f32::from_bits(0xc128_f022);
const RA3: f32 = f32::from_bits(0xc279_8057);
const RA4: f32 = f32::from_bits(0xc322_658c);
const RA5: f32 = f32::from_bits(0xc338_9ae7);
const RA6: f32 = f32::from_bits(0xc2a2_932b);
const RA7: f32 = f32::from_bits(0xc11d_077e);
const SA1: f32 = f32::from_bits(0x419d_35ce);
const SA2: f32 = f32::from_bits(0x4309_a863);
const SA3: f32 = f32::from_bits(0x43d9_486f);
const SA4: f32 = f32::from_bits(0x4421_58c9);
const SA5: f32 = f32::from_bits(0x43d6_810b);
const SA6: f32 = f32::from_bits(0x42d9_451f);
const SA7: f32 = f32::from_bits(0x40d2_3f7c);
const SA8: f32 = f32::from_bits(0xbd77_7f97);
const RB0: f32 = f32::from_bits(0xbc21_a092);
const RB1: f32 = f32::from_bits(0xbf4c_9dd4);
const RB2: f32 = f32::from_bits(0xc18e_104b);
const RB3: f32 = f32::from_bits(0xc320_a2ea);
const RB4: f32 = f32::from_bits(0xc41f_6441);
const RB5: f32 = f32::from_bits(0xc480_230b);
const RB6: f32 = f32::from_bits(0xc3f1_c275);
const SB1: f32 = f32::from_bits(0x41f2_b459);
const SB2: f32 = f32::from_bits(0x43a2_e571);
const SB3: f32 = f32::from_bits(0x44c0_1759);
const SB4: f32 = f32::from_bits(0x4547_fdbb);
const SB5: f32 = f32::from_bits(0x451f_90ce);
const SB6: f32 = f32::from_bits(0x43ed_43a7);
const SB7: f32 = f32::from_bits(0xc1b3_8712);

/// `libm::erff(x)`, bit for bit, without branches.
#[inline(always)]
pub(crate) fn erff(x: f32) -> f32 {
    erff_ranges::<true, true>(x)
}

/// Whether `|x|` lies in `erff`'s middle range, `0.84375 ≤ |x| < 1.25`.
#[inline(always)]
pub(crate) fn in_mid_range(x: f32) -> bool {
    (0x3f58_0000..0x3fa0_0000).contains(&(x.to_bits() & 0x7fff_ffff))
}

/// Whether `|x|` lies in `erff`'s two `expf` ranges, `1.25 ≤ |x| < 6`.
#[inline(always)]
pub(crate) fn in_tail_range(x: f32) -> bool {
    (0x3fa0_0000..0x40c0_0000).contains(&(x.to_bits() & 0x7fff_ffff))
}

/// [`erff`] computing the middle range's rational only if `MID` and the two `expf` ranges'
/// only if `TAIL`: the same bits as [`erff`] for every `x` outside the ranges left out
/// ([`in_mid_range`], [`in_tail_range`]); for `x` inside one, a meaningless value. Why: the
/// branch-free form pays for all five ranges per element; a run of elements that needs fewer
/// can skip the others (the `expf` ranges are most of the cost).
#[inline(always)]
pub(crate) fn erff_ranges<const MID: bool, const TAIL: bool>(x: f32) -> f32 {
    let bits = x.to_bits();
    let negative = bits >> 31 != 0;
    let ix = bits & 0x7fff_ffff;
    let ax = f32::from_bits(ix);
    // |x| < 2⁻²⁸.
    let tiny = 0.125 * (8.0 * x + EFX8 * x);
    // |x| < 0.84375.
    let z = x * x;
    let r = PP0 + z * (PP1 + z * (PP2 + z * (PP3 + z * PP4)));
    let s = 1.0 + z * (QQ1 + z * (QQ2 + z * (QQ3 + z * (QQ4 + z * QQ5))));
    let small = x + x * (r / s);
    // 0.84375 ≤ |x| < 1.25: erfc = 1 − erx − P/Q.
    let erfc_mid = if MID {
        let s1 = ax - 1.0;
        let p = PA0 + s1 * (PA1 + s1 * (PA2 + s1 * (PA3 + s1 * (PA4 + s1 * (PA5 + s1 * PA6)))));
        let q = 1.0 + s1 * (QA1 + s1 * (QA2 + s1 * (QA3 + s1 * (QA4 + s1 * (QA5 + s1 * QA6)))));
        1.0 - ERX - p / q
    } else {
        0.0
    };
    let erfc_tail = if TAIL {
        // 1.25 ≤ |x| < 1/0.35 (ra/sa) and 1/0.35 ≤ |x| < 6 (rb/sb).
        let s2 = 1.0 / (ax * ax);
        let ra = RA0
            + s2 * (RA1
                + s2 * (RA2 + s2 * (RA3 + s2 * (RA4 + s2 * (RA5 + s2 * (RA6 + s2 * RA7))))));
        let sa = 1.0
            + s2 * (SA1
                + s2 * (SA2
                    + s2 * (SA3 + s2 * (SA4 + s2 * (SA5 + s2 * (SA6 + s2 * (SA7 + s2 * SA8)))))));
        let rb = RB0 + s2 * (RB1 + s2 * (RB2 + s2 * (RB3 + s2 * (RB4 + s2 * (RB5 + s2 * RB6)))));
        let sb = 1.0
            + s2 * (SB1
                + s2 * (SB2 + s2 * (SB3 + s2 * (SB4 + s2 * (SB5 + s2 * (SB6 + s2 * SB7))))));
        let (rr, ss) = if ix < 0x4036_db6d { (ra, sa) } else { (rb, sb) };
        let zt = f32::from_bits(ix & 0xffff_e000);
        expf_reduced(-zt * zt - 0.5625) * expf_reduced((zt - ax) * (zt + ax) + rr / ss) / ax
    } else {
        0.0
    };
    let erfc = if ix < 0x3fa0_0000 {
        erfc_mid
    } else {
        erfc_tail
    };
    // |x| ≥ 6: 1 − 2⁻¹²⁰.
    let magnitude = if ix < 0x40c0_0000 {
        1.0 - erfc
    } else {
        1.0 - f32::from_bits(0x0380_0000)
    };
    let large = if negative { -magnitude } else { magnitude };
    // NaN stays NaN, ±∞ gives ±1.
    let special = 1.0 - 2.0 * f32::from(u8::from(negative)) + 1.0 / x;
    if ix >= 0x7f80_0000 {
        special
    } else if ix < 0x3180_0000 {
        tiny
    } else if ix < 0x3f58_0000 {
        small
    } else {
        large
    }
}

/// `libm::expf(x)`, bit for bit, for `|x| < 87` (no overflow or underflow handling), without
/// branches: `x = k·ln 2 + r` (`k` by libm's rounding), a degree-2 rational for `e^r`, times
/// `2^k` (exact: the result is normal).
#[inline(always)]
fn expf_reduced(x: f32) -> f32 {
    const LN2_HI: f32 = f32::from_bits(0x3f31_7200);
    const LN2_LO: f32 = f32::from_bits(0x35bf_be8e);
    const INV_LN2: f32 = f32::from_bits(0x3fb8_aa3b);
    const P1: f32 = f32::from_bits(0x3e2a_aa8f); // 0xaaaa8f.0p-26
    const P2: f32 = f32::from_bits(0xbb35_5215); // -0xb55215.0p-32
    let bits = x.to_bits();
    let negative = bits >> 31 != 0;
    let hx = bits & 0x7fff_ffff;
    let half = if negative { -0.5 } else { 0.5 };
    let k_far = (INV_LN2 * x + half) as i32;
    let k_near = if negative { -1 } else { 1 };
    // |x| > ln 2 / 2: reduce (by ±1 up to 1.5 ln 2, by the rounded quotient beyond).
    let reduce = hx > 0x3eb1_7218;
    let k = if !reduce {
        0
    } else if hx > 0x3f85_1592 {
        k_far
    } else {
        k_near
    };
    let kf = k as f32;
    let hi = if reduce { x - kf * LN2_HI } else { x };
    let lo = if reduce { kf * LN2_LO } else { 0.0 };
    let xr = if reduce { hi - lo } else { x };
    let xx = xr * xr;
    let c = xr - xx * (P1 + xx * P2);
    let y = 1.0 + (xr * c / (2.0 - c) - lo + hi);
    let scale = f32::from_bits(((k.clamp(-126, 127) + 127) as u32) << 23);
    // |x| ≤ 2⁻¹⁴: 1 + x.
    if hx > 0x3900_0000 {
        y * scale
    } else {
        1.0 + x
    }
}

#[cfg(test)]
mod tests {
    use super::{erff, expf_reduced};

    fn check(x: f32) {
        let (got, want) = (erff(x), libm::erff(x));
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "erff({x:e} = {:#010x}): {got:e}, libm {want:e}",
            x.to_bits()
        );
    }

    /// Every 61st f32 bit pattern (all signs, exponents and NaN/∞), and every value of the
    /// ranges' edges ± 4096 ulp: the same bits as `libm::erff`.
    #[test]
    fn erff_matches_libm_bit_for_bit() {
        let mut b: u64 = 0;
        while b <= u64::from(u32::MAX) {
            check(f32::from_bits(b as u32));
            b += 61;
        }
        for edge in [
            0x3180_0000u32,
            0x3f58_0000,
            0x3fa0_0000,
            0x4036_db6d,
            0x40c0_0000,
            0x7f80_0000,
        ] {
            for sign in [0, 0x8000_0000] {
                for b in edge - 4096..=edge.saturating_add(4096).min(0x7fff_ffff) {
                    check(f32::from_bits(b | sign));
                }
            }
        }
        for x in [
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            6.0,
            -6.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ] {
            check(x);
        }
    }

    /// Every f32 bit pattern (about a minute in a release build): `cargo test --release -p
    /// hepaseg-core erff_matches_libm_everywhere -- --ignored`.
    #[test]
    #[ignore = "exhaustive over 2^32 inputs: about a minute in release, far longer in debug"]
    fn erff_matches_libm_everywhere() {
        for b in 0..=u32::MAX {
            check(f32::from_bits(b));
        }
    }

    /// `expf` over the arguments `erff` gives it (|x| < 37) and beyond, to ±80: libm's bits.
    #[test]
    fn expf_matches_libm_bit_for_bit() {
        let mut x = -80.0f32;
        while x < 80.0 {
            for y in [x, -x, x * 1e-3, x * 1e-6] {
                let (got, want) = (expf_reduced(y), libm::expf(y));
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "expf({y:e}): {got:e}, libm {want:e}"
                );
            }
            x += 0.000_61;
        }
    }
}
