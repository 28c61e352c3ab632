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
    let (ya, yb) = crate::tensor::split_channels_mut::<T, CA, CB, C, H, W>(y);
    ya.copy_from_slice(a);
    yb.copy_from_slice(b);
}
