//! NonLocal(C, r): self-attention over all pixels, added to the input through a learnable γ.
//!
//! q, k = Conv1×1(C→C/r, bias), v = Conv1×1(C→C, bias); E = QᵀK (no 1/√d scaling),
//! A = softmax over keys, out = V·Aᵀ; returns γ·out + x. γ starts at 0, so a freshly
//! initialised block is the identity.

use super::attention::{attention_macs, region_attention, Qkv};
use super::unit::conv_macs;
use crate::arena::{f32_bytes, map_bytes, Scratch};
use crate::error::Error;
use crate::ops::Conv2d;
use crate::param_struct;
use crate::params::{ConvBias, Gate};
use crate::tensor::{Flat, Map};

param_struct! {
    /// Parameters of a non-local block with `CR = C / r` query/key channels.
    pub struct NonLocalParams<'a, const C: usize, const CR: usize> {
        q: ConvBias<'a, CR, C, 1>,
        k: ConvBias<'a, CR, C, 1>,
        v: ConvBias<'a, C, C, 1>,
        gamma: Gate<'a>,
    }
}

/// A non-local block on a `C × H × W` map with `CR` query/key channels.
#[derive(Debug, Clone, Copy, Default)]
pub struct NonLocal<const C: usize, const CR: usize, const H: usize, const W: usize>;

impl<const C: usize, const CR: usize, const H: usize, const W: usize> NonLocal<C, CR, H, W> {
    /// q, k, v planes plus one row of scores.
    pub const SCRATCH_BYTES: usize = map_bytes(2 * CR + C, H, W) + f32_bytes(H * W);
    /// Projections plus attention products.
    pub const MACS: u64 = conv_macs(C, 2 * CR + C, 1, H, W) + attention_macs(H * W, CR, C);

    /// Computes the q, k, v projections of `x` into scratch and returns them (the caller
    /// takes its own score row, sized for the regions it attends over).
    pub(crate) fn project<'s>(
        p: &NonLocalParams<'_, C, CR>,
        x: &Map<C, H, W>,
        s: &mut Scratch<'s>,
    ) -> Result<Qkv<'s>, Error> {
        let q = s.take_map::<CR, H, W>()?;
        let k = s.take_map::<CR, H, W>()?;
        let v = s.take_map::<C, H, W>()?;
        Conv2d::<1, 0>::forward(x, p.q.weight, Some(p.q.bias), q);
        Conv2d::<1, 0>::forward(x, p.k.weight, Some(p.k.bias), k);
        Conv2d::<1, 0>::forward(x, p.v.weight, Some(p.v.bias), v);
        let (q, k, v): (&'s Map<CR, H, W>, &'s Map<CR, H, W>, &'s Map<C, H, W>) = (q, k, v);
        Ok(Qkv {
            q: q.flat(),
            k: k.flat(),
            v: v.flat(),
            cr: CR,
            c: C,
            h: H,
            w: W,
        })
    }

    /// `y = γ · attention(x) + x`.
    pub fn forward(
        p: &NonLocalParams<'_, C, CR>,
        x: &Map<C, H, W>,
        y: &mut Map<C, H, W>,
        mut scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        const { assert!(CR >= 1 && CR <= C, "non-local needs 1 <= C/r <= C") };
        let qkv = Self::project(p, x, &mut scratch)?;
        let row = scratch.take_f32(H * W)?;
        let gamma = p.gamma.get();
        let (xf, yf) = (x.flat(), y.flat_mut());
        region_attention(&qkv, 0..H, 0..W, row, |c, n, a| {
            let i = c * H * W + n;
            yf[i] = gamma * a + xf[i];
        })?;
        Ok(())
    }
}
