//! Concatenation along channels.
//!
//! Where a network can, it writes each producer straight into its channel range of the
//! concatenation buffer ([`crate::tensor::channels_mut`]) and copies nothing; `concat2` is for
//! operands that already exist.

use crate::tensor::Map;

/// `y = [a; b]` along channels (`C == CA + CB`, and equal H, W — both checked at compile time).
pub fn concat2<
    T: Copy,
    const CA: usize,
    const CB: usize,
    const C: usize,
    const H: usize,
    const W: usize,
>(
    a: &Map<CA, H, W, T>,
    b: &Map<CB, H, W, T>,
    y: &mut Map<C, H, W, T>,
) {
    // Checked here (not left to `split_channels_mut`) so a wrong wiring is reported once, at
    // the caller's `concat2` call, in concat's own words.
    const { assert!(CA + CB == C, "concat output channels must equal CA + CB") };
    let (ya, yb) = y.split_at_mut(CA);
    ya.copy_from_slice(a);
    yb.copy_from_slice(b);
}
