//! CPM — context pyramid module: a 1×1 reduction, one AGCB per scale (own weights), and a
//! 1×1 fusion of the concatenation [reduced, AGCB₁ … AGCB₄].
//!
//! inter = P / r_c; red = ReLU(BN(Conv1×1(P→inter)(x))); out = ReLU(BN(Conv1×1(5·inter→P)
//! ([red, b₁, b₂, b₃, b₄]))). Four scales, as in every published configuration.

use super::agcb::{Agcb, AgcbParams};
use super::unit::{conv_macs, Act, ConvBiasBnParams, ConvBn};
use crate::arena::{map_bytes, max_of, Scratch};
use crate::error::Error;
use crate::param_struct;
use crate::tensor::Map;

param_struct! {
    /// Parameters of a CPM on `P` channels with `I` inter channels (`IR = I / r_n`,
    /// `I4 = I / 4`, `CAT = 5·I`).
    pub struct CpmParams<'a, const P: usize, const I: usize, const IR: usize, const I4: usize, const CAT: usize> {
        reduce: ConvBiasBnParams<'a, I, P, 1>,
        agcb0: AgcbParams<'a, I, IR, I4> = "agcb.0",
        agcb1: AgcbParams<'a, I, IR, I4> = "agcb.1",
        agcb2: AgcbParams<'a, I, IR, I4> = "agcb.2",
        agcb3: AgcbParams<'a, I, IR, I4> = "agcb.3",
        fuse: ConvBiasBnParams<'a, P, CAT, 1>,
    }
}

/// Branch `k` of the AGCB outputs inside the concatenation buffer.
fn slot<const I: usize, const H: usize, const W: usize>(
    branches: &mut [[[f32; W]; H]],
    k: usize,
) -> Result<&mut Map<I, H, W>, Error> {
    let part = branches
        .get_mut(k * I..(k + 1) * I)
        .ok_or(Error::PlanOverlap)?;
    part.try_into().map_err(|_| Error::PlanOverlap)
}

/// A CPM with scales `S0..S3` on a `P × H × W` map.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpm<
    const P: usize,
    const I: usize,
    const IR: usize,
    const I4: usize,
    const CAT: usize,
    const S0: usize,
    const S1: usize,
    const S2: usize,
    const S3: usize,
    const H: usize,
    const W: usize,
>;

impl<
        const P: usize,
        const I: usize,
        const IR: usize,
        const I4: usize,
        const CAT: usize,
        const S0: usize,
        const S1: usize,
        const S2: usize,
        const S3: usize,
        const H: usize,
        const W: usize,
    > Cpm<P, I, IR, I4, CAT, S0, S1, S2, S3, H, W>
{
    /// The concatenation buffer, then the largest AGCB scratch.
    pub const SCRATCH_BYTES: usize = map_bytes(CAT, H, W)
        + max_of(&[
            Agcb::<I, IR, I4, S0, H, W>::SCRATCH_BYTES,
            Agcb::<I, IR, I4, S1, H, W>::SCRATCH_BYTES,
            Agcb::<I, IR, I4, S2, H, W>::SCRATCH_BYTES,
            Agcb::<I, IR, I4, S3, H, W>::SCRATCH_BYTES,
        ]);
    /// Reduction, four AGCBs, fusion.
    pub const MACS: u64 = conv_macs(P, I, 1, H, W)
        + Agcb::<I, IR, I4, S0, H, W>::MACS
        + Agcb::<I, IR, I4, S1, H, W>::MACS
        + Agcb::<I, IR, I4, S2, H, W>::MACS
        + Agcb::<I, IR, I4, S3, H, W>::MACS
        + conv_macs(CAT, P, 1, H, W);

    /// `y = fuse([reduce(x), AGCB_s(reduce(x)) for s in scales])`.
    pub fn forward(
        p: &CpmParams<'_, P, I, IR, I4, CAT>,
        x: &Map<P, H, W>,
        y: &mut Map<P, H, W>,
        mut scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        const {
            assert!(
                CAT == 5 * I,
                "CPM concatenates the reduction and four AGCBs"
            )
        };
        let cat = scratch.take_map::<CAT, H, W>()?;
        let (red, branches) = cat.split_at_mut(I);
        let red: &mut Map<I, H, W> = red.try_into().map_err(|_| Error::PlanOverlap)?;
        ConvBn::<1, 0>::run_bias(&p.reduce, x, red, Act::Relu);
        let red: &Map<I, H, W> = red;
        Agcb::<I, IR, I4, S0, H, W>::forward(
            &p.agcb0,
            red,
            slot(branches, 0)?,
            scratch.reborrow(),
        )?;
        Agcb::<I, IR, I4, S1, H, W>::forward(
            &p.agcb1,
            red,
            slot(branches, 1)?,
            scratch.reborrow(),
        )?;
        Agcb::<I, IR, I4, S2, H, W>::forward(
            &p.agcb2,
            red,
            slot(branches, 2)?,
            scratch.reborrow(),
        )?;
        Agcb::<I, IR, I4, S3, H, W>::forward(
            &p.agcb3,
            red,
            slot(branches, 3)?,
            scratch.reborrow(),
        )?;
        ConvBn::<1, 0>::run_bias(&p.fuse, cat, y, Act::Relu);
        Ok(())
    }
}
