//! AGCB — attention-guided context block: patch-wise non-local attention gated by a global
//! GNFM, as in AGPCNet's `AGCB_Patch`.
//!
//! g = GNFM(x) (C × S × S); the map is cut into an S × S grid with step ⌊H/S⌋ (the last row
//! and column of patches take the remainder); every patch goes through **one shared**
//! NonLocal(C, r_n) and is multiplied by g[:, i, j]; the reassembled context goes through
//! BN(Conv3×3(C→C, pad 1, bias)); the block returns ReLU(γ·ctx + x). γ starts at 0, so a
//! freshly initialised AGCB is ReLU(x).

use super::attention::{attention_macs, region_attention};
use super::gnfm::{Gnfm, GnfmParams};
use super::nonlocal::{NonLocal, NonLocalParams};
use super::unit::{conv_macs, Act, ConvBiasBnParams, ConvBn};
use crate::arena::{f32_bytes, map_bytes, max, Scratch};
use crate::error::Error;
use crate::ops;
use crate::param_struct;
use crate::params::Gate;
use crate::tensor::{Flat, Map};
use core::ops::Range;

param_struct! {
    /// Parameters of an AGCB on `C` channels (`CR = C / r_n`, `C4 = C / 4`).
    pub struct AgcbParams<'a, const C: usize, const CR: usize, const C4: usize> {
        gnfm: GnfmParams<'a, C, C4>,
        nonlocal: NonLocalParams<'a, C, CR>,
        conv: ConvBiasBnParams<'a, C, C, 3>,
        gamma: Gate<'a>,
    }
}

/// Rows (or columns) of patch `i` of an `s`-patch grid over `len` pixels.
pub const fn patch_range(i: usize, s: usize, len: usize) -> Range<usize> {
    let step = len / s;
    let end = if i + 1 == s { len } else { (i + 1) * step };
    i * step..end
}

/// Pixels of the largest patch (the last one, which takes the remainder).
pub const fn largest_patch(s: usize, h: usize, w: usize) -> usize {
    let (lh, lw) = (h - (s - 1) * (h / s), w - (s - 1) * (w / s));
    lh * lw
}

/// Attention products summed over every patch of the grid.
const fn grid_attention_macs(s: usize, h: usize, w: usize, cr: usize, c: usize) -> u64 {
    let mut total = 0;
    let mut i = 0;
    while i < s {
        let mut j = 0;
        while j < s {
            let (r, q) = (patch_range(i, s, h), patch_range(j, s, w));
            total += attention_macs((r.end - r.start) * (q.end - q.start), cr, c);
            j += 1;
        }
        i += 1;
    }
    total
}

/// AGCB with an `S × S` patch grid on a `C × H × W` map.
#[derive(Debug, Clone, Copy, Default)]
pub struct Agcb<
    const C: usize,
    const CR: usize,
    const C4: usize,
    const S: usize,
    const H: usize,
    const W: usize,
>;

impl<
        const C: usize,
        const CR: usize,
        const C4: usize,
        const S: usize,
        const H: usize,
        const W: usize,
    > Agcb<C, CR, C4, S, H, W>
{
    /// The gate, then either the GNFM's scratch or (context map + q, k, v + one score row).
    pub const SCRATCH_BYTES: usize = map_bytes(C, S, S)
        + max(
            Gnfm::<C, C4, S, H, W>::SCRATCH_BYTES,
            map_bytes(C, H, W) + map_bytes(2 * CR + C, H, W) + f32_bytes(largest_patch(S, H, W)),
        );
    /// GNFM, q/k/v projections, patch attention and the 3×3 context convolution.
    pub const MACS: u64 = Gnfm::<C, C4, S, H, W>::MACS
        + conv_macs(C, 2 * CR + C, 1, H, W)
        + grid_attention_macs(S, H, W, CR, C)
        + conv_macs(C, C, 3, H, W);

    /// `y = ReLU(γ · BN(conv3×3(patchwise_nonlocal(x) ⊙ g)) + x)`.
    pub fn forward(
        p: &AgcbParams<'_, C, CR, C4>,
        x: &Map<C, H, W>,
        y: &mut Map<C, H, W>,
        mut scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        const {
            assert!(
                S >= 1 && S <= H && S <= W,
                "AGCB scale must not exceed the map size"
            );
            assert!(CR >= 1 && CR <= C, "AGCB non-local needs 1 <= C/r <= C");
        };
        let g = scratch.take_map::<C, S, S>()?;
        Gnfm::<C, C4, S, H, W>::forward(&p.gnfm, x, g, scratch.reborrow())?;

        let context = scratch.take_map::<C, H, W>()?;
        {
            let mut s = scratch.reborrow();
            let qkv = NonLocal::<C, CR, H, W>::project(&p.nonlocal, x, &mut s)?;
            let row = s.take_f32(largest_patch(S, H, W))?;
            let gamma_nl = p.nonlocal.gamma.get();
            let (xf, cf) = (x.flat(), context.flat_mut());
            // (i, j) names a grid cell: it picks the patch's pixel ranges and its gate.
            #[allow(clippy::needless_range_loop)]
            for i in 0..S {
                for j in 0..S {
                    let gate = |c: usize| g[c][i][j];
                    region_attention(
                        &qkv,
                        patch_range(i, S, H),
                        patch_range(j, S, W),
                        row,
                        |c, n, a| {
                            let at = c * H * W + n;
                            cf[at] = (gamma_nl * a + xf[at]) * gate(c);
                        },
                    )?;
                }
            }
        }
        ConvBn::<1, 1>::run_bias(&p.conv, context, y, Act::None);
        let gamma = p.gamma.get();
        for (o, xi) in y.flat_mut().iter_mut().zip(x.flat()) {
            *o = gamma * *o + *xi;
        }
        ops::relu(y);
        Ok(())
    }
}
