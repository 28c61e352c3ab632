//! Decoder block of CAFCT-Net: upsample the deeper map ×2 (bilinear, align_corners = false),
//! gate the skip with it ([`super::attention_gate`]; the "without AGs" ablation passes the
//! skip through), then two Conv3×3 (no bias) + BN + ReLU on concat(s, up).
//!
//! The upsampled map and the gated skip are written straight into their channel ranges of the
//! concatenation buffer, so nothing is copied.

use super::attention_gate::{AttentionGate, AttentionGateParams};
use super::unit::{conv_macs, Act, ConvBn, ConvBnParams};
use crate::arena::{map_bytes, max, Scratch};
use crate::error::Error;
use crate::ops::{self, AlignCorners};
use crate::param_struct;
use crate::tensor::{split_channels_mut, Map};

param_struct! {
    /// Parameters of a decoder block: `CS` skip channels (`CSH = CS/2` in the gate), `CU`
    /// channels coming up from below, `CCAT = CS + CU`, `CO` output channels; the gate exists
    /// when `GATE`.
    pub struct DecoderParams<'a, const CS: usize, const CSH: usize, const CU: usize, const CCAT: usize, const CO: usize, const GATE: bool> {
        ag: if GATE AttentionGateParams<'a, CS, CU, CSH>,
        conv1: ConvBnParams<'a, CO, CCAT, 3>,
        conv2: ConvBnParams<'a, CO, CO, 3>,
    }
}

/// A decoder block producing `CO × H × W` from a skip at `H × W` and a deeper map at half
/// the size.
#[derive(Debug, Clone, Copy, Default)]
pub struct Decoder<
    const CS: usize,
    const CSH: usize,
    const CU: usize,
    const CCAT: usize,
    const CO: usize,
    const H: usize,
    const W: usize,
    const GATE: bool,
>;

impl<
        const CS: usize,
        const CSH: usize,
        const CU: usize,
        const CCAT: usize,
        const CO: usize,
        const H: usize,
        const W: usize,
        const GATE: bool,
    > Decoder<CS, CSH, CU, CCAT, CO, H, W, GATE>
{
    /// The concatenation buffer, then the gate's scratch or the middle map.
    pub const SCRATCH_BYTES: usize = map_bytes(CCAT, H, W)
        + max(
            if GATE {
                AttentionGate::<CS, CU, CSH, H, W>::SCRATCH_BYTES
            } else {
                0
            },
            map_bytes(CO, H, W),
        );
    /// The gate (if any) and both 3×3 convolutions.
    pub const MACS: u64 = if GATE {
        AttentionGate::<CS, CU, CSH, H, W>::MACS
    } else {
        0
    } + conv_macs(CCAT, CO, 3, H, W)
        + conv_macs(CO, CO, 3, H, W);

    /// `y = conv2(conv1([AG(skip, up(g)), up(g)]))`.
    pub fn forward<const HI: usize, const WI: usize>(
        p: &DecoderParams<'_, CS, CSH, CU, CCAT, CO, GATE>,
        skip: &Map<CS, H, W>,
        g: &Map<CU, HI, WI>,
        y: &mut Map<CO, H, W>,
        mut scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        const {
            assert!(
                CCAT == CS + CU,
                "the decoder concatenates the skip and the upsampled map"
            );
            assert!(H == 2 * HI && W == 2 * WI, "the decoder upsamples by 2");
        };
        let cat = scratch.take_map::<CCAT, H, W>()?;
        {
            let (s, up) = split_channels_mut::<f32, CS, CU, CCAT, H, W>(cat);
            ops::resize_bilinear(g, up, AlignCorners::False);
            match &p.ag {
                Some(ag) => AttentionGate::<CS, CU, CSH, H, W>::forward(
                    ag,
                    skip,
                    up,
                    s,
                    scratch.reborrow(),
                )?,
                None => s.copy_from_slice(skip),
            }
        }
        let mid = scratch.take_map::<CO, H, W>()?;
        ConvBn::<1, 1>::run(&p.conv1, cat, mid, Act::Relu);
        ConvBn::<1, 1>::run(&p.conv2, mid, y, Act::Relu);
        Ok(())
    }
}
