//! CAFCT-Net (SPEC §2.2; our reconstruction — no public code exists).
//!
//! ```text
//! input K×S×S ─┬─ CNN branch:  stem Conv3×3(K→C, s2)+BN+ReLU, BasicBlock(C)        → L1  C  × S/2
//!              │               BasicBlock(C_{l−1}→C_l, s2) + BasicBlock(C_l)        → L2..L4
//!              └─ transformer: Conv7×7(K→C, s2, p3)+LN, blocks, LN                 → L1  C  × S/2
//!                              Conv3×3(C_{l−1}→C_l, s2, p1)+LN, blocks, LN          → L2..L4
//! levels L1..L4 at S/2, S/4, S/8, S/16 with channels (C, 2C, 4C, 4C);
//! per level: AFF(concat(cnn, trans)) → fused L_l;
//! ASPP(fused L4) → g; for l = 3, 2, 1: g = Decoder(AG(fused L_l, up(g)), up(g)), up = bilinear
//! ×2 (align_corners = false); bilinear ×2 to S × S; head Conv3×3(C→C)+BN+ReLU, Conv1×1(C→1).
//! ```
//!
//! Transformer stages (PVT-v2 style): depths (1, 1, 2, 2), heads (1, 2, 4, 4), spatial
//! reduction (8, 4, 2, 1), Mix-FFN ratio 4. Ablations (paper Table 4) are preset switches:
//! `transformer: false` replaces the transformer branch by a second CNN branch of the same
//! shape with its own weights (`cnn2.*`); `aff: false` fuses by plain concat + Conv1×1 + BN +
//! ReLU (the AFF's `fuse` unit alone); `aspp: false` uses Conv1×1(C4→C4) + BN + ReLU; `ag:
//! false` passes the skips through ungated.
//!
//! K is 1; a 2.5D preset (`in_channels: K`) takes K adjacent slices (the centre one in the
//! middle channel) and differs from its 2D preset only in the input channels of the two
//! first convolutions (`cnn.stem` and `trans.stage1.embed`, or `cnn2.stem`).
//!
//! # Parameter names (table order = read order = forward order)
//!
//! | prefix | what |
//! | --- | --- |
//! | `cnn.stem`, `cnn.level1.0`, `cnn.level{2,3,4}.{0,1}` | CNN branch (BasicBlocks) |
//! | `trans.stage{1..4}.embed`, `.block{0,1}.{norm1,attn,norm2,ffn}`, `.norm` | transformer |
//! | `cnn2.…` | second CNN branch (ablation without transformer), same layout as `cnn` |
//! | `aff.{0..3}` | fusion at L1..L4 (`squeeze`, `excite`, `fuse`) |
//! | `aspp.convs.{0..4}`, `aspp.project` | ASPP (torchvision names); `aspp.{conv,bn}` without |
//! | `decoder.{0,1,2}` | decoder blocks at L3, L2, L1 (execution order): `ag.{w_x,w_g,psi}`, `conv1`, `conv2` |
//! | `head.conv`, `head.out` | segmentation head |
//!
//! # Memory
//!
//! Each level's two branch outputs live in one concatenation buffer `Z_l` (CNN in the first
//! `C_l` channels, transformer in the last), read in place by the next level of both branches
//! and consumed by that level's AFF as soon as both branches have moved on. Attention is
//! computed one query row at a time, the Mix-FFN and the head stream their hidden channels,
//! and the decoder writes the upsampled map and the gated skip straight into its concat
//! buffer.

use crate::arena::{map_bytes, max, Scratch};
use crate::blocks::basic_block::{BasicBlock, BasicBlockParams};
use crate::blocks::unit::{conv_macs, Act, ConvBn, ConvBnParams};
use crate::error::Error;
use crate::nets::BlockInfo;
use crate::tensor::Map;

/// Level 1 of a CNN branch: stem Conv3×3(K→C, stride 2, pad 1, no bias)+BN+ReLU, then one
/// BasicBlock(C), from `K × H × W` to `C × HO × WO` (K input channels: 1, or the slices of a
/// 2.5D preset).
#[derive(Debug, Clone, Copy, Default)]
pub struct CnnStem<
    const K: usize,
    const C: usize,
    const H: usize,
    const W: usize,
    const HO: usize,
    const WO: usize,
>;

impl<
        const K: usize,
        const C: usize,
        const H: usize,
        const W: usize,
        const HO: usize,
        const WO: usize,
    > CnnStem<K, C, H, W, HO, WO>
{
    /// The stem's output, then the BasicBlock's scratch.
    pub const SCRATCH_BYTES: usize =
        map_bytes(C, HO, WO) + BasicBlock::<C, C, 1, HO, WO>::SCRATCH_BYTES;
    /// The stem convolution alone.
    pub const STEM_MACS: u64 = conv_macs(K, C, 3, HO, WO);
    /// The BasicBlock alone.
    pub const BLOCK_MACS: u64 = BasicBlock::<C, C, 1, HO, WO>::MACS;

    /// `y = BasicBlock(stem(x))`.
    pub fn forward(
        stem: &ConvBnParams<'_, C, K, 3>,
        block: &BasicBlockParams<'_, C, C, false>,
        x: &Map<K, H, W>,
        y: &mut Map<C, HO, WO>,
        mut scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        let mid = scratch.take_map::<C, HO, WO>()?;
        ConvBn::<2, 1>::run(stem, x, mid, Act::Relu);
        BasicBlock::<C, C, 1, HO, WO>::forward(block, mid, y, scratch.reborrow())
    }
}

/// Levels 2..4 of a CNN branch: BasicBlock(CI→CO, stride 2) + BasicBlock(CO).
#[derive(Debug, Clone, Copy, Default)]
pub struct CnnLevel<
    const CI: usize,
    const CO: usize,
    const H: usize,
    const W: usize,
    const HO: usize,
    const WO: usize,
>;

impl<
        const CI: usize,
        const CO: usize,
        const H: usize,
        const W: usize,
        const HO: usize,
        const WO: usize,
    > CnnLevel<CI, CO, H, W, HO, WO>
{
    /// The first block's output, then the larger BasicBlock scratch.
    pub const SCRATCH_BYTES: usize = map_bytes(CO, HO, WO)
        + max(
            BasicBlock::<CI, CO, 2, H, W>::SCRATCH_BYTES,
            BasicBlock::<CO, CO, 1, HO, WO>::SCRATCH_BYTES,
        );
    /// Both BasicBlocks.
    pub const MACS: u64 =
        BasicBlock::<CI, CO, 2, H, W>::MACS + BasicBlock::<CO, CO, 1, HO, WO>::MACS;

    /// `y = block1(block0(x))`.
    pub fn forward(
        block0: &BasicBlockParams<'_, CI, CO, true>,
        block1: &BasicBlockParams<'_, CO, CO, false>,
        x: &Map<CI, H, W>,
        y: &mut Map<CO, HO, WO>,
        mut scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        let mid = scratch.take_map::<CO, HO, WO>()?;
        BasicBlock::<CI, CO, 2, H, W>::forward(block0, x, mid, scratch.reborrow())?;
        BasicBlock::<CO, CO, 1, HO, WO>::forward(block1, mid, y, scratch.reborrow())
    }
}

/// Joins per-branch block summaries into one array of `N` rows (a compile-time error if
/// the parts do not add up to `N`).
pub const fn join_blocks<const N: usize>(parts: &[&[BlockInfo]]) -> [BlockInfo; N] {
    let mut out = [BlockInfo {
        name: "",
        output: [0; 3],
        macs: 0,
    }; N];
    let (mut k, mut i) = (0, 0);
    while i < parts.len() {
        let mut j = 0;
        while j < parts[i].len() {
            out[k] = parts[i][j];
            k += 1;
            j += 1;
        }
        i += 1;
    }
    assert!(k == N, "block summary size mismatch");
    out
}

/// Expands a CAFCT-Net preset into a module holding the concrete network type `Net`, its
/// parameter struct, memory plan and figures.
///
/// ```ignore
/// cafct_net! {
///     /// The published size.
///     pub mod cafct_paper {
///         preset: "paper", base: 32, input: 256,
///         depths: [1, 1, 2, 2], heads: [1, 2, 4, 4], sr: [8, 4, 2, 1], aspp_rates: [6, 12, 18],
///         transformer: true, aff: true, aspp: true, ag: true,
///     }
/// }
/// ```
///
/// An optional `in_channels: K,` after `input` makes a 2.5D preset (K input channels;
/// default 1).
#[macro_export]
macro_rules! cafct_net {
    (
        $(#[$meta:meta])*
        $vis:vis mod $m:ident {
            preset: $preset:literal,
            base: $c:expr,
            input: $size:expr,
            $(in_channels: $k:expr,)?
            depths: [$d1:expr, $d2:expr, $d3:expr, $d4:expr],
            heads: [$h1:expr, $h2:expr, $h3:expr, $h4:expr],
            sr: [$sr1:expr, $sr2:expr, $sr3:expr, $sr4:expr],
            aspp_rates: [$r1:expr, $r2:expr, $r3:expr],
            transformer: $trans:expr,
            aff: $aff:expr,
            aspp: $aspp:expr,
            ag: $ag:expr $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis mod $m {
            #![allow(clippy::too_many_lines)]
            use $crate::arena::{map_bytes, Scratch};
            use $crate::blocks::aff::{Aff, AffParams};
            use $crate::blocks::aspp::{Aspp, AsppParams};
            use $crate::blocks::basic_block::BasicBlockParams;
            use $crate::blocks::decoder::{Decoder, DecoderParams};
            use $crate::blocks::seg_head::{SegHead, SegHeadParams};
            use $crate::blocks::transformer::{TransformerStage, TransformerStageParams};
            use $crate::blocks::unit::{conv_macs, Act, ConvBn, ConvBnParams};
            use $crate::error::Error;
            use $crate::nets::cafct::{join_blocks, CnnLevel, CnnStem};
            use $crate::nets::{arena_words, view, BlockInfo};
            use $crate::ops::{self, AlignCorners};
            use $crate::params::{Cursor, ParamSource, ParamSpec, ReadParams};
            use $crate::plan::{Buffer, Plan};
            use $crate::tensor::{channels, channels_mut, Flat, Map};

            /// Preset name.
            pub const PRESET: &str = $preset;
            /// Base width C (channels of level 1).
            pub const C: usize = $c;
            /// Input height and width.
            pub const SIZE: usize = $size;
            /// Input channels: 1, or k adjacent slices for a 2.5D preset.
            pub const IN_CHANNELS: usize = $crate::nets::in_channels(&[$($k)?]);
            /// Transformer blocks per stage.
            pub const DEPTHS: [usize; 4] = [$d1, $d2, $d3, $d4];
            /// Attention heads per stage.
            pub const HEADS: [usize; 4] = [$h1, $h2, $h3, $h4];
            /// Spatial reduction of keys/values per stage.
            pub const SR: [usize; 4] = [$sr1, $sr2, $sr3, $sr4];
            /// ASPP atrous rates.
            pub const ASPP_RATES: [usize; 3] = [$r1, $r2, $r3];
            /// Whether the transformer branch is present (ablation: a second CNN branch).
            pub const WITH_TRANSFORMER: bool = $trans;
            /// Whether the fusions are AFFs (ablation: plain concat + 1×1).
            pub const WITH_AFF: bool = $aff;
            /// Whether the ASPP is present (ablation: a 1×1 unit).
            pub const WITH_ASPP: bool = $aspp;
            /// Whether the skips are gated (ablation: plain skips).
            pub const WITH_AG: bool = $ag;
            const WITHOUT_TRANSFORMER: bool = !WITH_TRANSFORMER;
            const WITHOUT_ASPP: bool = !WITH_ASPP;

            /// Channels of levels L1..L4.
            pub const CHANNELS: [usize; 4] = [C, 2 * C, 4 * C, 4 * C];
            const C1: usize = CHANNELS[0];
            const C2: usize = CHANNELS[1];
            const C3: usize = CHANNELS[2];
            const C4: usize = CHANNELS[3];
            const H1: usize = SIZE / 2;
            const H2: usize = SIZE / 4;
            const H3: usize = SIZE / 8;
            const H4: usize = SIZE / 16;
            const N1: usize = H1 * H1;
            const N2: usize = H2 * H2;
            const N3: usize = H3 * H3;
            const N4: usize = H4 * H4;
            // concatenation / kv widths 2·C_l, AFF squeeze 2·C_l/4, Mix-FFN hidden 4·C_l
            const Z1: usize = 2 * C1;
            const Z2: usize = 2 * C2;
            const Z3: usize = 2 * C3;
            const Z4: usize = 2 * C4;
            const Q1: usize = Z1 / 4;
            const Q2: usize = Z2 / 4;
            const Q3: usize = Z3 / 4;
            const Q4: usize = Z4 / 4;
            const M1: usize = 4 * C1;
            const M2: usize = 4 * C2;
            const M3: usize = 4 * C3;
            const M4: usize = 4 * C4;
            const SR1: usize = SR[0];
            const SR2: usize = SR[1];
            const SR3: usize = SR[2];
            const SR4: usize = SR[3];
            const HK1: usize = H1 / SR1;
            const HK2: usize = H2 / SR2;
            const HK3: usize = H3 / SR3;
            const HK4: usize = H4 / SR4;
            const NK1: usize = HK1 * HK1;
            const NK2: usize = HK2 * HK2;
            const NK3: usize = HK3 * HK3;
            const NK4: usize = HK4 * HK4;
            const RED1: bool = SR1 > 1;
            const RED2: bool = SR2 > 1;
            const RED3: bool = SR3 > 1;
            const RED4: bool = SR4 > 1;
            const HD1: usize = HEADS[0];
            const HD2: usize = HEADS[1];
            const HD3: usize = HEADS[2];
            const HD4: usize = HEADS[3];
            const DP1: usize = DEPTHS[0];
            const DP2: usize = DEPTHS[1];
            const DP3: usize = DEPTHS[2];
            const DP4: usize = DEPTHS[3];
            const DEEP1: bool = DP1 == 2;
            const DEEP2: bool = DP2 == 2;
            const DEEP3: bool = DP3 == 2;
            const DEEP4: bool = DP4 == 2;
            const R1: usize = ASPP_RATES[0];
            const R2: usize = ASPP_RATES[1];
            const R3: usize = ASPP_RATES[2];
            const CAT: usize = 5 * C4;
            // attention-gate widths C_l/2 and decoder concatenations C_l + C_up
            const G1: usize = C1 / 2;
            const G2: usize = C2 / 2;
            const G3: usize = C3 / 2;
            const DC3: usize = C3 + C4;
            const DC2: usize = C2 + C3;
            const DC1: usize = C1 + C2;

            const _: () = {
                assert!(SIZE.is_multiple_of(16) && SIZE >= 16, "CAFCT-Net input size must be a multiple of 16 (four stride-2 levels)");
                assert!(C >= 2 && C.is_multiple_of(2), "CAFCT-Net base width must be even (AFF squeeze 2C/4, AG C/2)");
                assert!(IN_CHANNELS >= 1, "CAFCT-Net needs at least one input channel");
                assert!(
                    SR1 >= 1 && SR2 >= 1 && SR3 >= 1 && SR4 >= 1,
                    "spatial reductions must be >= 1"
                );
                assert!(
                    H1.is_multiple_of(SR1) && H2.is_multiple_of(SR2) && H3.is_multiple_of(SR3) && H4.is_multiple_of(SR4),
                    "every level's map (input/2, /4, /8, /16) must be divisible by its spatial reduction"
                );
                assert!(
                    HD1 >= 1 && HD2 >= 1 && HD3 >= 1 && HD4 >= 1
                        && C1.is_multiple_of(HD1) && C2.is_multiple_of(HD2) && C3.is_multiple_of(HD3) && C4.is_multiple_of(HD4),
                    "every level's channels must be divisible by its number of heads"
                );
                assert!(
                    (DP1 == 1 || DP1 == 2) && (DP2 == 1 || DP2 == 2) && (DP3 == 1 || DP3 == 2) && (DP4 == 1 || DP4 == 2),
                    "transformer depths must be 1 or 2"
                );
                assert!(R1 >= 1 && R2 >= 1 && R3 >= 1, "ASPP rates must be >= 1");
            };

            type Stem = CnnStem<IN_CHANNELS, C1, SIZE, SIZE, H1, H1>;
            type Level2 = CnnLevel<C1, C2, H1, H1, H2, H2>;
            type Level3 = CnnLevel<C2, C3, H2, H2, H3, H3>;
            type Level4 = CnnLevel<C3, C4, H3, H3, H4, H4>;
            type Stage1 = TransformerStage<IN_CHANNELS, C1, M1, HD1, 7, 3, SR1, DP1, SIZE, SIZE, H1, H1, HK1, HK1, NK1>;
            type Stage2 = TransformerStage<C1, C2, M2, HD2, 3, 1, SR2, DP2, H1, H1, H2, H2, HK2, HK2, NK2>;
            type Stage3 = TransformerStage<C2, C3, M3, HD3, 3, 1, SR3, DP3, H2, H2, H3, H3, HK3, HK3, NK3>;
            type Stage4 = TransformerStage<C3, C4, M4, HD4, 3, 1, SR4, DP4, H3, H3, H4, H4, HK4, HK4, NK4>;
            type Aff1 = Aff<C1, Z1, Q1, H1, H1, WITH_AFF>;
            type Aff2 = Aff<C2, Z2, Q2, H2, H2, WITH_AFF>;
            type Aff3 = Aff<C3, Z3, Q3, H3, H3, WITH_AFF>;
            type Aff4 = Aff<C4, Z4, Q4, H4, H4, WITH_AFF>;
            type AsppBlock = Aspp<C4, C4, CAT, R1, R2, R3, H4, H4>;
            type Dec3 = Decoder<C3, G3, C4, DC3, C3, H3, H3, WITH_AG>;
            type Dec2 = Decoder<C2, G2, C3, DC2, C2, H2, H2, WITH_AG>;
            type Dec1 = Decoder<C1, G1, C2, DC1, C1, H1, H1, WITH_AG>;
            type Head = SegHead<C1, SIZE, SIZE>;

            $crate::param_struct! {
                /// A CNN branch (the second one, `cnn2`, of the ablation without transformer
                /// has the same layout).
                pub struct CnnParams<'a> {
                    stem: ConvBnParams<'a, C1, IN_CHANNELS, 3>,
                    level1: BasicBlockParams<'a, C1, C1, false> = "level1.0",
                    level2_0: BasicBlockParams<'a, C1, C2, true> = "level2.0",
                    level2_1: BasicBlockParams<'a, C2, C2, false> = "level2.1",
                    level3_0: BasicBlockParams<'a, C2, C3, true> = "level3.0",
                    level3_1: BasicBlockParams<'a, C3, C3, false> = "level3.1",
                    level4_0: BasicBlockParams<'a, C3, C4, true> = "level4.0",
                    level4_1: BasicBlockParams<'a, C4, C4, false> = "level4.1",
                }
            }

            $crate::param_struct! {
                /// The transformer branch.
                pub struct TransParams<'a> {
                    stage1: TransformerStageParams<'a, IN_CHANNELS, C1, Z1, M1, 7, SR1, RED1, DEEP1>,
                    stage2: TransformerStageParams<'a, C1, C2, Z2, M2, 3, SR2, RED2, DEEP2>,
                    stage3: TransformerStageParams<'a, C2, C3, Z3, M3, 3, SR3, RED3, DEEP3>,
                    stage4: TransformerStageParams<'a, C3, C4, Z4, M4, 3, SR4, RED4, DEEP4>,
                }
            }

            $crate::param_struct! {
                /// Every parameter of the network, in table order.
                pub struct Params<'a> {
                    cnn: CnnParams<'a>,
                    trans: if WITH_TRANSFORMER TransParams<'a>,
                    cnn2: if WITHOUT_TRANSFORMER CnnParams<'a>,
                    aff0: AffParams<'a, Z1, Q1, C1, WITH_AFF> = "aff.0",
                    aff1: AffParams<'a, Z2, Q2, C2, WITH_AFF> = "aff.1",
                    aff2: AffParams<'a, Z3, Q3, C3, WITH_AFF> = "aff.2",
                    aff3: AffParams<'a, Z4, Q4, C4, WITH_AFF> = "aff.3",
                    aspp: if WITH_ASPP AsppParams<'a, C4, C4, CAT>,
                    aspp_plain: if WITHOUT_ASPP ConvBnParams<'a, C4, C4, 1> = "aspp",
                    decoder0: DecoderParams<'a, C3, G3, C4, DC3, C3, WITH_AG> = "decoder.0",
                    decoder1: DecoderParams<'a, C2, G2, C3, DC2, C2, WITH_AG> = "decoder.1",
                    decoder2: DecoderParams<'a, C1, G1, C2, DC1, C1, WITH_AG> = "decoder.2",
                    head: SegHeadParams<'a, C1>,
                }
            }

            /// Rows of the parameter table.
            pub const PARAM_ROWS: usize = Params::COUNT;
            /// The parameter table.
            pub const TABLE: [ParamSpec; PARAM_ROWS] = $crate::param_table!(Params<'static>, PARAM_ROWS);

            // Activation buffers (first..last step that uses them).
            const BZ1: usize = 0; // [cnn L1; second L1]     0..4
            const BZ2: usize = 1; // [cnn L2; second L2]     2..7
            const BZ3: usize = 2; // [cnn L3; second L3]     5..10
            const BZ4: usize = 3; // [cnn L4; second L4]     8..11
            const BF1: usize = 4; // fused L1                4..15
            const BF2: usize = 5; // fused L2                7..14
            const BF3: usize = 6; // fused L3               10..13
            const BF4: usize = 7; // fused L4               11..12
            const BA: usize = 8; // ASPP out                12..13
            const BD3: usize = 9; // decoder at L3          13..14
            const BD2: usize = 10; // decoder at L2         14..15
            const BD1: usize = 11; // decoder at L1         15..16
            const BUP: usize = 12; // upsampled to S × S    16..17
            const BOUT: usize = 13; // logits               17
            const T0: usize = 14; // step k's scratch is buffer T0 + k

            const fn second_scratch(stage: usize, cnn: usize) -> usize {
                if WITH_TRANSFORMER { stage } else { cnn }
            }

            /// The memory plan.
            pub const PLAN: Plan<32> = Plan::new([
                Buffer::new(map_bytes(Z1, H1, H1), 0, 4),
                Buffer::new(map_bytes(Z2, H2, H2), 2, 7),
                Buffer::new(map_bytes(Z3, H3, H3), 5, 10),
                Buffer::new(map_bytes(Z4, H4, H4), 8, 11),
                Buffer::new(map_bytes(C1, H1, H1), 4, 15),
                Buffer::new(map_bytes(C2, H2, H2), 7, 14),
                Buffer::new(map_bytes(C3, H3, H3), 10, 13),
                Buffer::new(map_bytes(C4, H4, H4), 11, 12),
                Buffer::new(map_bytes(C4, H4, H4), 12, 13),
                Buffer::new(map_bytes(C3, H3, H3), 13, 14),
                Buffer::new(map_bytes(C2, H2, H2), 14, 15),
                Buffer::new(map_bytes(C1, H1, H1), 15, 16),
                Buffer::new(map_bytes(C1, SIZE, SIZE), 16, 17),
                Buffer::new(map_bytes(1, SIZE, SIZE), 17, 17),
                Buffer::new(Stem::SCRATCH_BYTES, 0, 0),
                Buffer::new(second_scratch(Stage1::SCRATCH_BYTES, Stem::SCRATCH_BYTES), 1, 1),
                Buffer::new(Level2::SCRATCH_BYTES, 2, 2),
                Buffer::new(second_scratch(Stage2::SCRATCH_BYTES, Level2::SCRATCH_BYTES), 3, 3),
                Buffer::new(Aff1::SCRATCH_BYTES, 4, 4),
                Buffer::new(Level3::SCRATCH_BYTES, 5, 5),
                Buffer::new(second_scratch(Stage3::SCRATCH_BYTES, Level3::SCRATCH_BYTES), 6, 6),
                Buffer::new(Aff2::SCRATCH_BYTES, 7, 7),
                Buffer::new(Level4::SCRATCH_BYTES, 8, 8),
                Buffer::new(second_scratch(Stage4::SCRATCH_BYTES, Level4::SCRATCH_BYTES), 9, 9),
                Buffer::new(Aff3::SCRATCH_BYTES, 10, 10),
                Buffer::new(Aff4::SCRATCH_BYTES, 11, 11),
                Buffer::new(if WITH_ASPP { AsppBlock::SCRATCH_BYTES } else { 0 }, 12, 12),
                Buffer::new(Dec3::SCRATCH_BYTES, 13, 13),
                Buffer::new(Dec2::SCRATCH_BYTES, 14, 14),
                Buffer::new(Dec1::SCRATCH_BYTES, 15, 15),
                Buffer::new(0, 16, 16),
                Buffer::new(Head::SCRATCH_BYTES, 17, 17),
            ]);
            const _: () = assert!(PLAN.is_sound(), "memory plan overlaps live buffers");

            const CNN_BLOCKS: [BlockInfo; 5] = [
                BlockInfo { name: "cnn.stem", output: [C1, H1, H1], macs: Stem::STEM_MACS },
                BlockInfo { name: "cnn.level1", output: [C1, H1, H1], macs: Stem::BLOCK_MACS },
                BlockInfo { name: "cnn.level2", output: [C2, H2, H2], macs: Level2::MACS },
                BlockInfo { name: "cnn.level3", output: [C3, H3, H3], macs: Level3::MACS },
                BlockInfo { name: "cnn.level4", output: [C4, H4, H4], macs: Level4::MACS },
            ];
            const CNN2_BLOCKS: [BlockInfo; 5] = [
                BlockInfo { name: "cnn2.stem", output: [C1, H1, H1], macs: Stem::STEM_MACS },
                BlockInfo { name: "cnn2.level1", output: [C1, H1, H1], macs: Stem::BLOCK_MACS },
                BlockInfo { name: "cnn2.level2", output: [C2, H2, H2], macs: Level2::MACS },
                BlockInfo { name: "cnn2.level3", output: [C3, H3, H3], macs: Level3::MACS },
                BlockInfo { name: "cnn2.level4", output: [C4, H4, H4], macs: Level4::MACS },
            ];
            const TRANS_BLOCKS: [BlockInfo; 4] = [
                BlockInfo { name: "trans.stage1", output: [C1, H1, H1], macs: Stage1::MACS },
                BlockInfo { name: "trans.stage2", output: [C2, H2, H2], macs: Stage2::MACS },
                BlockInfo { name: "trans.stage3", output: [C3, H3, H3], macs: Stage3::MACS },
                BlockInfo { name: "trans.stage4", output: [C4, H4, H4], macs: Stage4::MACS },
            ];
            const TAIL_BLOCKS: [BlockInfo; 10] = [
                BlockInfo { name: "aff.0", output: [C1, H1, H1], macs: Aff1::MACS },
                BlockInfo { name: "aff.1", output: [C2, H2, H2], macs: Aff2::MACS },
                BlockInfo { name: "aff.2", output: [C3, H3, H3], macs: Aff3::MACS },
                BlockInfo { name: "aff.3", output: [C4, H4, H4], macs: Aff4::MACS },
                BlockInfo {
                    name: "aspp",
                    output: [C4, H4, H4],
                    macs: if WITH_ASPP { AsppBlock::MACS } else { conv_macs(C4, C4, 1, H4, H4) },
                },
                BlockInfo { name: "decoder.0", output: [C3, H3, H3], macs: Dec3::MACS },
                BlockInfo { name: "decoder.1", output: [C2, H2, H2], macs: Dec2::MACS },
                BlockInfo { name: "decoder.2", output: [C1, H1, H1], macs: Dec1::MACS },
                BlockInfo { name: "upsample", output: [C1, SIZE, SIZE], macs: 0 },
                BlockInfo { name: "head", output: [1, SIZE, SIZE], macs: Head::MACS },
            ];
            /// Rows of the per-block summary.
            pub const BLOCK_ROWS: usize = 5 + if WITH_TRANSFORMER { 4 } else { 5 } + 10;
            /// Per-block summary.
            pub const BLOCKS: [BlockInfo; BLOCK_ROWS] = join_blocks(&[
                &CNN_BLOCKS,
                if WITH_TRANSFORMER { &TRANS_BLOCKS } else { &CNN2_BLOCKS },
                &TAIL_BLOCKS,
            ]);

            /// The network.
            #[derive(Debug, Clone, Copy, Default)]
            pub struct Net;

            impl Net {
                /// Runs the f32 forward pass; the logits (`1 × S × S`) live in `arena`.
                pub fn forward<'a, S: ParamSource + ?Sized>(
                    params: &S,
                    input: &Map<IN_CHANNELS, SIZE, SIZE>,
                    arena: &'a mut [u8],
                ) -> Result<&'a Map<1, SIZE, SIZE>, Error> {
                    if !input.flat().iter().all(|v| v.is_finite()) {
                        return Err(Error::NonFiniteInput);
                    }
                    let p = Params::read(&mut Cursor::new(params))?;
                    let a = arena_words(arena)?;
                    if a.len() * 4 < PLAN.total {
                        return Err(Error::ArenaTooSmall { needed: PLAN.total, available: a.len() * 4 });
                    }
                    // Level 1: both branches from the input, then (after level 2) the fusion.
                    {
                        let [z, t] = PLAN.regions(a, [BZ1, T0])?;
                        let z = view::<Z1, H1, H1>(z)?;
                        Stem::forward(&p.cnn.stem, &p.cnn.level1, input, channels_mut::<_, 0, C1, Z1, H1, H1>(z), Scratch::from_f32(t))?;
                    }
                    {
                        let [z, t] = PLAN.regions(a, [BZ1, T0 + 1])?;
                        let y = channels_mut::<_, C1, C1, Z1, H1, H1>(view::<Z1, H1, H1>(z)?);
                        match (&p.trans, &p.cnn2) {
                            (Some(tr), _) => Stage1::forward::<Z1, N1, RED1, DEEP1>(&tr.stage1, input, y, Scratch::from_f32(t))?,
                            (None, Some(c2)) => Stem::forward(&c2.stem, &c2.level1, input, y, Scratch::from_f32(t))?,
                            (None, None) => return Err(Error::PlanOverlap),
                        }
                    }
                    // Level 2.
                    {
                        let [zi, zo, t] = PLAN.regions(a, [BZ1, BZ2, T0 + 2])?;
                        let x = channels::<_, 0, C1, Z1, H1, H1>(view::<Z1, H1, H1>(zi)?);
                        let y = channels_mut::<_, 0, C2, Z2, H2, H2>(view::<Z2, H2, H2>(zo)?);
                        Level2::forward(&p.cnn.level2_0, &p.cnn.level2_1, x, y, Scratch::from_f32(t))?;
                    }
                    {
                        let [zi, zo, t] = PLAN.regions(a, [BZ1, BZ2, T0 + 3])?;
                        let x = channels::<_, C1, C1, Z1, H1, H1>(view::<Z1, H1, H1>(zi)?);
                        let y = channels_mut::<_, C2, C2, Z2, H2, H2>(view::<Z2, H2, H2>(zo)?);
                        match (&p.trans, &p.cnn2) {
                            (Some(tr), _) => Stage2::forward::<Z2, N2, RED2, DEEP2>(&tr.stage2, x, y, Scratch::from_f32(t))?,
                            (None, Some(c2)) => Level2::forward(&c2.level2_0, &c2.level2_1, x, y, Scratch::from_f32(t))?,
                            (None, None) => return Err(Error::PlanOverlap),
                        }
                    }
                    {
                        let [z, f, t] = PLAN.regions(a, [BZ1, BF1, T0 + 4])?;
                        Aff1::forward(&p.aff0, view(z)?, view(f)?, Scratch::from_f32(t))?;
                    }
                    // Level 3.
                    {
                        let [zi, zo, t] = PLAN.regions(a, [BZ2, BZ3, T0 + 5])?;
                        let x = channels::<_, 0, C2, Z2, H2, H2>(view::<Z2, H2, H2>(zi)?);
                        let y = channels_mut::<_, 0, C3, Z3, H3, H3>(view::<Z3, H3, H3>(zo)?);
                        Level3::forward(&p.cnn.level3_0, &p.cnn.level3_1, x, y, Scratch::from_f32(t))?;
                    }
                    {
                        let [zi, zo, t] = PLAN.regions(a, [BZ2, BZ3, T0 + 6])?;
                        let x = channels::<_, C2, C2, Z2, H2, H2>(view::<Z2, H2, H2>(zi)?);
                        let y = channels_mut::<_, C3, C3, Z3, H3, H3>(view::<Z3, H3, H3>(zo)?);
                        match (&p.trans, &p.cnn2) {
                            (Some(tr), _) => Stage3::forward::<Z3, N3, RED3, DEEP3>(&tr.stage3, x, y, Scratch::from_f32(t))?,
                            (None, Some(c2)) => Level3::forward(&c2.level3_0, &c2.level3_1, x, y, Scratch::from_f32(t))?,
                            (None, None) => return Err(Error::PlanOverlap),
                        }
                    }
                    {
                        let [z, f, t] = PLAN.regions(a, [BZ2, BF2, T0 + 7])?;
                        Aff2::forward(&p.aff1, view(z)?, view(f)?, Scratch::from_f32(t))?;
                    }
                    // Level 4.
                    {
                        let [zi, zo, t] = PLAN.regions(a, [BZ3, BZ4, T0 + 8])?;
                        let x = channels::<_, 0, C3, Z3, H3, H3>(view::<Z3, H3, H3>(zi)?);
                        let y = channels_mut::<_, 0, C4, Z4, H4, H4>(view::<Z4, H4, H4>(zo)?);
                        Level4::forward(&p.cnn.level4_0, &p.cnn.level4_1, x, y, Scratch::from_f32(t))?;
                    }
                    {
                        let [zi, zo, t] = PLAN.regions(a, [BZ3, BZ4, T0 + 9])?;
                        let x = channels::<_, C3, C3, Z3, H3, H3>(view::<Z3, H3, H3>(zi)?);
                        let y = channels_mut::<_, C4, C4, Z4, H4, H4>(view::<Z4, H4, H4>(zo)?);
                        match (&p.trans, &p.cnn2) {
                            (Some(tr), _) => Stage4::forward::<Z4, N4, RED4, DEEP4>(&tr.stage4, x, y, Scratch::from_f32(t))?,
                            (None, Some(c2)) => Level4::forward(&c2.level4_0, &c2.level4_1, x, y, Scratch::from_f32(t))?,
                            (None, None) => return Err(Error::PlanOverlap),
                        }
                    }
                    {
                        let [z, f, t] = PLAN.regions(a, [BZ3, BF3, T0 + 10])?;
                        Aff3::forward(&p.aff2, view(z)?, view(f)?, Scratch::from_f32(t))?;
                    }
                    {
                        let [z, f, t] = PLAN.regions(a, [BZ4, BF4, T0 + 11])?;
                        Aff4::forward(&p.aff3, view(z)?, view(f)?, Scratch::from_f32(t))?;
                    }
                    // Context and decoder.
                    {
                        let [x, y, t] = PLAN.regions(a, [BF4, BA, T0 + 12])?;
                        let (x, y) = (view::<C4, H4, H4>(x)?, view::<C4, H4, H4>(y)?);
                        match (&p.aspp, &p.aspp_plain) {
                            (Some(aspp), _) => AsppBlock::forward(aspp, x, y, Scratch::from_f32(t))?,
                            (None, Some(plain)) => ConvBn::<1, 0>::run(plain, x, y, Act::Relu),
                            (None, None) => return Err(Error::PlanOverlap),
                        }
                    }
                    {
                        let [skip, g, y, t] = PLAN.regions(a, [BF3, BA, BD3, T0 + 13])?;
                        Dec3::forward(&p.decoder0, view(skip)?, view::<C4, H4, H4>(g)?, view(y)?, Scratch::from_f32(t))?;
                    }
                    {
                        let [skip, g, y, t] = PLAN.regions(a, [BF2, BD3, BD2, T0 + 14])?;
                        Dec2::forward(&p.decoder1, view(skip)?, view::<C3, H3, H3>(g)?, view(y)?, Scratch::from_f32(t))?;
                    }
                    {
                        let [skip, g, y, t] = PLAN.regions(a, [BF1, BD2, BD1, T0 + 15])?;
                        Dec1::forward(&p.decoder2, view(skip)?, view::<C2, H2, H2>(g)?, view(y)?, Scratch::from_f32(t))?;
                    }
                    {
                        let [x, y] = PLAN.regions(a, [BD1, BUP])?;
                        ops::resize_bilinear::<C1, H1, H1, SIZE, SIZE>(view(x)?, view(y)?, AlignCorners::False);
                    }
                    {
                        let [x, y, t] = PLAN.regions(a, [BUP, BOUT, T0 + 17])?;
                        Head::forward(&p.head, view(x)?, view(y)?, Scratch::from_f32(t))?;
                    }
                    let [out] = PLAN.regions(a, [BOUT])?;
                    Ok(view::<1, SIZE, SIZE>(out)?)
                }
            }

            $crate::impl_network!($crate::nets::Architecture::CafctNet);
            $crate::cafct_int8_body!();
        }
    };
}

cafct_net! {
    /// CAFCT-Net at the published size (C = 32, 256 × 256): 4,043,402 parameters.
    pub mod paper {
        preset: "paper", base: 32, input: 256,
        depths: [1, 1, 2, 2], heads: [1, 2, 4, 4], sr: [8, 4, 2, 1], aspp_rates: [6, 12, 18],
        transformer: true, aff: true, aspp: true, ag: true,
    }
}

cafct_net! {
    /// CAFCT-Net at the deployable size (C = 16, ¼ of the paper's parameters).
    pub mod edge {
        preset: "edge", base: 16, input: 256,
        depths: [1, 1, 2, 2], heads: [1, 2, 4, 4], sr: [8, 4, 2, 1], aspp_rates: [6, 12, 18],
        transformer: true, aff: true, aspp: true, ag: true,
    }
}

cafct_net! {
    /// CAFCT-Net for tests and CI (C = 8, 64 × 64; level 1 is 32 × 32, divisible by sr 8).
    pub mod tiny {
        preset: "tiny", base: 8, input: 64,
        depths: [1, 1, 2, 2], heads: [1, 2, 4, 4], sr: [8, 4, 2, 1], aspp_rates: [6, 12, 18],
        transformer: true, aff: true, aspp: true, ag: true,
    }
}

cafct_net! {
    /// 2.5D (issue 9): `tiny` with 3 adjacent slices as input channels — only the two first
    /// convolutions' input channels differ.
    pub mod tiny_2_5d {
        preset: "tiny-2.5d", base: 8, input: 64, in_channels: 3,
        depths: [1, 1, 2, 2], heads: [1, 2, 4, 4], sr: [8, 4, 2, 1], aspp_rates: [6, 12, 18],
        transformer: true, aff: true, aspp: true, ag: true,
    }
}

cafct_net! {
    /// 2.5D: `edge` with 3 adjacent slices as input channels.
    pub mod edge_2_5d {
        preset: "edge-2.5d", base: 16, input: 256, in_channels: 3,
        depths: [1, 1, 2, 2], heads: [1, 2, 4, 4], sr: [8, 4, 2, 1], aspp_rates: [6, 12, 18],
        transformer: true, aff: true, aspp: true, ag: true,
    }
}

cafct_net! {
    /// Ablation (paper Table 4): without the transformer branch — a second CNN branch of the
    /// same shape, own weights (`cnn2.*`) (`tiny` sizes).
    pub mod tiny_no_transformer {
        preset: "tiny-no-transformer", base: 8, input: 64,
        depths: [1, 1, 2, 2], heads: [1, 2, 4, 4], sr: [8, 4, 2, 1], aspp_rates: [6, 12, 18],
        transformer: false, aff: true, aspp: true, ag: true,
    }
}

cafct_net! {
    /// Ablation: without AFF — plain concat + Conv1×1 + BN + ReLU at every level (`tiny` sizes).
    pub mod tiny_no_aff {
        preset: "tiny-no-aff", base: 8, input: 64,
        depths: [1, 1, 2, 2], heads: [1, 2, 4, 4], sr: [8, 4, 2, 1], aspp_rates: [6, 12, 18],
        transformer: true, aff: false, aspp: true, ag: true,
    }
}

cafct_net! {
    /// Ablation: without ASPP — Conv1×1(C4→C4) + BN + ReLU (`tiny` sizes).
    pub mod tiny_no_aspp {
        preset: "tiny-no-aspp", base: 8, input: 64,
        depths: [1, 1, 2, 2], heads: [1, 2, 4, 4], sr: [8, 4, 2, 1], aspp_rates: [6, 12, 18],
        transformer: true, aff: true, aspp: false, ag: true,
    }
}

cafct_net! {
    /// Ablation: without attention gates — plain skips (`tiny` sizes).
    pub mod tiny_no_ag {
        preset: "tiny-no-ag", base: 8, input: 64,
        depths: [1, 1, 2, 2], heads: [1, 2, 4, 4], sr: [8, 4, 2, 1], aspp_rates: [6, 12, 18],
        transformer: true, aff: true, aspp: true, ag: false,
    }
}

/// CAFCT-Net, published size.
pub type CafctPaper = paper::Net;
/// CAFCT-Net, deployable size.
pub type CafctEdge = edge::Net;
/// CAFCT-Net, test size.
pub type CafctTiny = tiny::Net;
