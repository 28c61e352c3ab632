//! AGCAF-Net (SPEC §2.1; it follows the public AGPCNet `agpcnet_1` design).
//!
//! ```text
//! input K×S×S   (K = 1; a 2.5D preset: K adjacent slices, the centre one in the middle)
//!  └ stem Conv7×7(K→B, s1)+BN+ReLU                      B  × S   (no max-pool)
//!  └ layer1 = 2 BasicBlocks(B)                           B  × S
//!  └ layer2 = BasicBlock(B→2B, s2) + BasicBlock(2B) → c1  2B × S/2
//!  └ layer3 = BasicBlock(2B→4B, s2) + …             → c2  4B × S/4
//!  └ layer4 = BasicBlock(4B→8B, s2) + …             → c3  8B × S/8
//! CPM(8B)(c3) → bilinear(align_corners) to S/4 → AFM(8B, 4B)(·, c2)
//!             → bilinear to S/2                  → AFM(4B, 2B)(·, c1)
//!             → head Conv3×3(2B→B/2)+BN+ReLU+Dropout+Conv1×1(→1) → bilinear to S × S
//! ```
//! Ablations (paper Table 2): without CPM, c3 goes straight to the decoder; without AFM, each
//! fusion is `ReLU(BN(Conv1×1(C_h→C_l)(up))) + skip` (AFM's own projection, no attention).
//!
//! 2.5D presets (`in_channels: K`) differ from their 2D preset only in the stem's input
//! channels (`backbone.stem.conv.weight` is `B × K × 7 × 7`); every other tensor, and the
//! logits (those of the centre slice), are the same.

/// Expands an AGCAF-Net preset into a module holding the concrete network type `Net`, its
/// parameter struct, memory plan and figures.
///
/// ```ignore
/// agcaf_net! {
///     /// The published size.
///     pub mod agcaf_paper {
///         preset: "paper", base: 64, input: 256,
///         scales: [10, 6, 5, 3], reduce: (16, 4), cpm: true, afm: true,
///     }
/// }
/// ```
///
/// An optional `in_channels: K,` after `input` makes a 2.5D preset (K input channels;
/// default 1).
#[macro_export]
macro_rules! agcaf_net {
    (
        $(#[$meta:meta])*
        $vis:vis mod $m:ident {
            preset: $preset:literal,
            base: $b:expr,
            input: $size:expr,
            $(in_channels: $k:expr,)?
            scales: [$s0:expr, $s1:expr, $s2:expr, $s3:expr],
            reduce: ($rc:expr, $rn:expr),
            cpm: $cpm:expr,
            afm: $afm:expr $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis mod $m {
            #![allow(clippy::too_many_lines)]
            use $crate::arena::{map_bytes, Scratch};
            use $crate::blocks::afm::{Afm, AfmParams};
            use $crate::blocks::basic_block::{BasicBlock, BasicBlockParams};
            use $crate::blocks::cpm::{Cpm, CpmParams};
            use $crate::blocks::fcn_head::{FcnHead, FcnHeadParams};
            use $crate::blocks::unit::{conv_macs, Act, ConvBiasBnParams, ConvBn, ConvBnParams};
            use $crate::error::Error;
            use $crate::nets::{arena_words, view, BlockInfo};
            use $crate::ops::{self, AlignCorners};
            use $crate::params::{Cursor, ParamSource, ParamSpec, ReadParams};
            use $crate::plan::{Buffer, Plan};
            use $crate::tensor::{Flat, Map};

            /// Preset name.
            pub const PRESET: &str = $preset;
            /// Base width B.
            pub const B: usize = $b;
            /// Input height and width.
            pub const SIZE: usize = $size;
            /// Input channels: 1, or k adjacent slices for a 2.5D preset.
            pub const IN_CHANNELS: usize = $crate::nets::in_channels(&[$($k)?]);
            /// AGCB grid scales.
            pub const SCALES: [usize; 4] = [$s0, $s1, $s2, $s3];
            /// Whether the CPM is present (ablation switch).
            pub const WITH_CPM: bool = $cpm;
            /// Whether the AFMs are present (ablation switch).
            pub const WITH_AFM: bool = $afm;
            const WITHOUT_AFM: bool = !WITH_AFM;
            /// CPM channel reduction r_c (inter = 8B / r_c).
            pub const R_C: usize = $rc;
            /// Non-local reduction r_n inside each AGCB (q/k channels = inter / r_n).
            pub const R_N: usize = $rn;
            const B2: usize = 2 * B;
            const B4: usize = 4 * B;
            const B8: usize = 8 * B;
            const BH: usize = B / 2;
            const H1: usize = SIZE / 2;
            const H2: usize = SIZE / 4;
            const H3: usize = SIZE / 8;
            const INTER: usize = B8 / R_C;
            const IR: usize = INTER / R_N;
            const I4: usize = INTER / 4;
            const CAT: usize = 5 * INTER;
            const S0: usize = SCALES[0];
            const S1: usize = SCALES[1];
            const S2: usize = SCALES[2];
            const S3: usize = SCALES[3];

            const _: () = {
                assert!(SIZE % 8 == 0, "AGCAF-Net input size must be divisible by 8 (three stride-2 levels)");
                assert!(IN_CHANNELS >= 1, "AGCAF-Net needs at least one input channel");
                assert!(B % 2 == 0 && B2 % 4 == 0, "AGCAF-Net base width must be even (head B/2, AFM 2B/4)");
                assert!(B8 % R_C == 0, "8B must be divisible by the CPM reduction r_c");
                assert!(INTER % R_N == 0, "CPM inter channels must be divisible by the non-local ratio r_n");
                assert!(INTER % 4 == 0, "CPM inter channels must be divisible by 4 (GNFM bottleneck)");
                assert!(
                    S0 <= H3 && S1 <= H3 && S2 <= H3 && S3 <= H3,
                    "a CPM scale is larger than the deepest feature map (input/8)"
                );
                assert!(S0 >= 1 && S1 >= 1 && S2 >= 1 && S3 >= 1, "CPM scales must be >= 1");
            };

            $crate::param_struct! {
                /// The ResNet-18 style backbone.
                pub struct BackboneParams<'a> {
                    stem: ConvBnParams<'a, B, IN_CHANNELS, 7>,
                    layer1_0: BasicBlockParams<'a, B, B, false> = "layer1.0",
                    layer1_1: BasicBlockParams<'a, B, B, false> = "layer1.1",
                    layer2_0: BasicBlockParams<'a, B, B2, true> = "layer2.0",
                    layer2_1: BasicBlockParams<'a, B2, B2, false> = "layer2.1",
                    layer3_0: BasicBlockParams<'a, B2, B4, true> = "layer3.0",
                    layer3_1: BasicBlockParams<'a, B4, B4, false> = "layer3.1",
                    layer4_0: BasicBlockParams<'a, B4, B8, true> = "layer4.0",
                    layer4_1: BasicBlockParams<'a, B8, B8, false> = "layer4.1",
                }
            }

            $crate::param_struct! {
                /// Every parameter of the network, in table order.
                pub struct Params<'a> {
                    backbone: BackboneParams<'a>,
                    cpm: if WITH_CPM CpmParams<'a, B8, INTER, IR, I4, CAT>,
                    fuse23: if WITH_AFM AfmParams<'a, B8, B4, B>,
                    fuse23_plain: if WITHOUT_AFM ConvBiasBnParams<'a, B4, B8, 1> = "fuse23",
                    fuse12: if WITH_AFM AfmParams<'a, B4, B2, BH>,
                    fuse12_plain: if WITHOUT_AFM ConvBiasBnParams<'a, B2, B4, 1> = "fuse12",
                    head: FcnHeadParams<'a, B2, BH>,
                }
            }

            /// Rows of the parameter table.
            pub const PARAM_ROWS: usize = Params::COUNT;
            /// The parameter table.
            pub const TABLE: [ParamSpec; PARAM_ROWS] = $crate::param_table!(Params<'static>, PARAM_ROWS);

            // Activation buffers and the steps that use them (step k = k-th stage below).
            const X0: usize = 0; // stem out           0..1
            const X1: usize = 1; // layer1.0 out       1..2
            const X2: usize = 2; // layer1.1 out       2..3
            const Y0: usize = 3; // layer2.0 out       3..4
            const C1: usize = 4; // c1                 4..13
            const Z0: usize = 5; // layer3.0 out       5..6
            const C2: usize = 6; // c2                 6..11
            const W0: usize = 7; // layer4.0 out       7..8
            const C3: usize = 8; // c3                 8..9
            const CP: usize = 9; // context            9..10
            const U1: usize = 10; // up to S/4        10..11
            const F1: usize = 11; // fuse23 out       11..12
            const U2: usize = 12; // up to S/2        12..13
            const F2: usize = 13; // fuse12 out       13..14
            const LG: usize = 14; // logits at S/2    14..15
            const OUT: usize = 15; // logits at S     15
            const T: [usize; 12] = [16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27]; // step scratch

            const FUSE23_SCRATCH: usize = if WITH_AFM { Afm::<B8, B4, B, H2, H2>::SCRATCH_BYTES } else { 0 };
            const FUSE12_SCRATCH: usize = if WITH_AFM { Afm::<B4, B2, BH, H1, H1>::SCRATCH_BYTES } else { 0 };
            const CPM_SCRATCH: usize = if WITH_CPM {
                Cpm::<B8, INTER, IR, I4, CAT, S0, S1, S2, S3, H3, H3>::SCRATCH_BYTES
            } else {
                0
            };

            /// The memory plan.
            pub const PLAN: Plan<28> = Plan::new([
                Buffer::new(map_bytes(B, SIZE, SIZE), 0, 1),
                Buffer::new(map_bytes(B, SIZE, SIZE), 1, 2),
                Buffer::new(map_bytes(B, SIZE, SIZE), 2, 3),
                Buffer::new(map_bytes(B2, H1, H1), 3, 4),
                Buffer::new(map_bytes(B2, H1, H1), 4, 13),
                Buffer::new(map_bytes(B4, H2, H2), 5, 6),
                Buffer::new(map_bytes(B4, H2, H2), 6, 11),
                Buffer::new(map_bytes(B8, H3, H3), 7, 8),
                Buffer::new(map_bytes(B8, H3, H3), 8, 9),
                Buffer::new(map_bytes(B8, H3, H3), 9, 10),
                Buffer::new(map_bytes(B8, H2, H2), 10, 11),
                Buffer::new(map_bytes(B4, H2, H2), 11, 12),
                Buffer::new(map_bytes(B4, H1, H1), 12, 13),
                Buffer::new(map_bytes(B2, H1, H1), 13, 14),
                Buffer::new(map_bytes(1, H1, H1), 14, 15),
                Buffer::new(map_bytes(1, SIZE, SIZE), 15, 15),
                Buffer::new(BasicBlock::<B, B, 1, SIZE, SIZE>::SCRATCH_BYTES, 1, 1),
                Buffer::new(BasicBlock::<B, B, 1, SIZE, SIZE>::SCRATCH_BYTES, 2, 2),
                Buffer::new(BasicBlock::<B, B2, 2, SIZE, SIZE>::SCRATCH_BYTES, 3, 3),
                Buffer::new(BasicBlock::<B2, B2, 1, H1, H1>::SCRATCH_BYTES, 4, 4),
                Buffer::new(BasicBlock::<B2, B4, 2, H1, H1>::SCRATCH_BYTES, 5, 5),
                Buffer::new(BasicBlock::<B4, B4, 1, H2, H2>::SCRATCH_BYTES, 6, 6),
                Buffer::new(BasicBlock::<B4, B8, 2, H2, H2>::SCRATCH_BYTES, 7, 7),
                Buffer::new(BasicBlock::<B8, B8, 1, H3, H3>::SCRATCH_BYTES, 8, 8),
                Buffer::new(CPM_SCRATCH, 9, 9),
                Buffer::new(FUSE23_SCRATCH, 11, 11),
                Buffer::new(FUSE12_SCRATCH, 13, 13),
                Buffer::new(FcnHead::<B2, BH, H1, H1>::SCRATCH_BYTES, 14, 14),
            ]);
            const _: () = assert!(PLAN.is_sound(), "memory plan overlaps live buffers");

            const fn fuse_macs(ch: usize, cl: usize, h: usize, afm: u64) -> u64 {
                if WITH_AFM { afm } else { conv_macs(ch, cl, 1, h, h) }
            }

            /// Per-block summary.
            pub const BLOCKS: [BlockInfo; 10] = [
                BlockInfo { name: "backbone.stem", output: [B, SIZE, SIZE], macs: conv_macs(IN_CHANNELS, B, 7, SIZE, SIZE) },
                BlockInfo { name: "backbone.layer1", output: [B, SIZE, SIZE], macs: 2 * BasicBlock::<B, B, 1, SIZE, SIZE>::MACS },
                BlockInfo { name: "backbone.layer2", output: [B2, H1, H1], macs: BasicBlock::<B, B2, 2, SIZE, SIZE>::MACS + BasicBlock::<B2, B2, 1, H1, H1>::MACS },
                BlockInfo { name: "backbone.layer3", output: [B4, H2, H2], macs: BasicBlock::<B2, B4, 2, H1, H1>::MACS + BasicBlock::<B4, B4, 1, H2, H2>::MACS },
                BlockInfo { name: "backbone.layer4", output: [B8, H3, H3], macs: BasicBlock::<B4, B8, 2, H2, H2>::MACS + BasicBlock::<B8, B8, 1, H3, H3>::MACS },
                BlockInfo { name: "cpm", output: [B8, H3, H3], macs: if WITH_CPM { Cpm::<B8, INTER, IR, I4, CAT, S0, S1, S2, S3, H3, H3>::MACS } else { 0 } },
                BlockInfo { name: "fuse23", output: [B4, H2, H2], macs: fuse_macs(B8, B4, H2, Afm::<B8, B4, B, H2, H2>::MACS) },
                BlockInfo { name: "fuse12", output: [B2, H1, H1], macs: fuse_macs(B4, B2, H1, Afm::<B4, B2, BH, H1, H1>::MACS) },
                BlockInfo { name: "head", output: [1, H1, H1], macs: FcnHead::<B2, BH, H1, H1>::MACS },
                BlockInfo { name: "upsample", output: [1, SIZE, SIZE], macs: 0 },
            ];

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
                    let bb = &p.backbone;
                    let a = arena_words(arena)?;
                    if a.len() * 4 < PLAN.total {
                        return Err(Error::ArenaTooSmall { needed: PLAN.total, available: a.len() * 4 });
                    }
                    {
                        let [x0] = PLAN.regions(a, [X0])?;
                        ConvBn::<1, 3>::run(&bb.stem, input, view::<B, SIZE, SIZE>(x0)?, Act::Relu);
                    }
                    {
                        let [x, y, t] = PLAN.regions(a, [X0, X1, T[0]])?;
                        BasicBlock::<B, B, 1, SIZE, SIZE>::forward(&bb.layer1_0, view(x)?, view::<B, SIZE, SIZE>(y)?, Scratch::from_f32(t))?;
                    }
                    {
                        let [x, y, t] = PLAN.regions(a, [X1, X2, T[1]])?;
                        BasicBlock::<B, B, 1, SIZE, SIZE>::forward(&bb.layer1_1, view(x)?, view::<B, SIZE, SIZE>(y)?, Scratch::from_f32(t))?;
                    }
                    {
                        let [x, y, t] = PLAN.regions(a, [X2, Y0, T[2]])?;
                        BasicBlock::<B, B2, 2, SIZE, SIZE>::forward(&bb.layer2_0, view(x)?, view::<B2, H1, H1>(y)?, Scratch::from_f32(t))?;
                    }
                    {
                        let [x, y, t] = PLAN.regions(a, [Y0, C1, T[3]])?;
                        BasicBlock::<B2, B2, 1, H1, H1>::forward(&bb.layer2_1, view(x)?, view::<B2, H1, H1>(y)?, Scratch::from_f32(t))?;
                    }
                    {
                        let [x, y, t] = PLAN.regions(a, [C1, Z0, T[4]])?;
                        BasicBlock::<B2, B4, 2, H1, H1>::forward(&bb.layer3_0, view(x)?, view::<B4, H2, H2>(y)?, Scratch::from_f32(t))?;
                    }
                    {
                        let [x, y, t] = PLAN.regions(a, [Z0, C2, T[5]])?;
                        BasicBlock::<B4, B4, 1, H2, H2>::forward(&bb.layer3_1, view(x)?, view::<B4, H2, H2>(y)?, Scratch::from_f32(t))?;
                    }
                    {
                        let [x, y, t] = PLAN.regions(a, [C2, W0, T[6]])?;
                        BasicBlock::<B4, B8, 2, H2, H2>::forward(&bb.layer4_0, view(x)?, view::<B8, H3, H3>(y)?, Scratch::from_f32(t))?;
                    }
                    {
                        let [x, y, t] = PLAN.regions(a, [W0, C3, T[7]])?;
                        BasicBlock::<B8, B8, 1, H3, H3>::forward(&bb.layer4_1, view(x)?, view::<B8, H3, H3>(y)?, Scratch::from_f32(t))?;
                    }
                    {
                        let [x, y, t] = PLAN.regions(a, [C3, CP, T[8]])?;
                        let (x, y) = (view::<B8, H3, H3>(x)?, view::<B8, H3, H3>(y)?);
                        match &p.cpm {
                            Some(cpm) => Cpm::<B8, INTER, IR, I4, CAT, S0, S1, S2, S3, H3, H3>::forward(cpm, x, y, Scratch::from_f32(t))?,
                            None => y.copy_from_slice(x),
                        }
                    }
                    {
                        let [x, y] = PLAN.regions(a, [CP, U1])?;
                        ops::resize_bilinear::<B8, H3, H3, H2, H2>(view(x)?, view(y)?, AlignCorners::True);
                    }
                    {
                        let [x, skip, y, t] = PLAN.regions(a, [U1, C2, F1, T[9]])?;
                        let (x, skip, y) = (view::<B8, H2, H2>(x)?, view::<B4, H2, H2>(skip)?, view::<B4, H2, H2>(y)?);
                        match (&p.fuse23, &p.fuse23_plain) {
                            (Some(afm), _) => Afm::<B8, B4, B, H2, H2>::forward(afm, x, skip, y, Scratch::from_f32(t))?,
                            (None, Some(plain)) => {
                                ConvBn::<1, 0>::run_bias(plain, x, y, Act::Relu);
                                ops::add(y, skip);
                            }
                            (None, None) => return Err(Error::PlanOverlap),
                        }
                    }
                    {
                        let [x, y] = PLAN.regions(a, [F1, U2])?;
                        ops::resize_bilinear::<B4, H2, H2, H1, H1>(view(x)?, view(y)?, AlignCorners::True);
                    }
                    {
                        let [x, skip, y, t] = PLAN.regions(a, [U2, C1, F2, T[10]])?;
                        let (x, skip, y) = (view::<B4, H1, H1>(x)?, view::<B2, H1, H1>(skip)?, view::<B2, H1, H1>(y)?);
                        match (&p.fuse12, &p.fuse12_plain) {
                            (Some(afm), _) => Afm::<B4, B2, BH, H1, H1>::forward(afm, x, skip, y, Scratch::from_f32(t))?,
                            (None, Some(plain)) => {
                                ConvBn::<1, 0>::run_bias(plain, x, y, Act::Relu);
                                ops::add(y, skip);
                            }
                            (None, None) => return Err(Error::PlanOverlap),
                        }
                    }
                    {
                        let [x, y, t] = PLAN.regions(a, [F2, LG, T[11]])?;
                        FcnHead::<B2, BH, H1, H1>::forward(&p.head, view(x)?, view(y)?, Scratch::from_f32(t))?;
                    }
                    {
                        let [x, y] = PLAN.regions(a, [LG, OUT])?;
                        ops::resize_bilinear::<1, H1, H1, SIZE, SIZE>(view(x)?, view(y)?, AlignCorners::True);
                    }
                    let [out] = PLAN.regions(a, [OUT])?;
                    Ok(view::<1, SIZE, SIZE>(out)?)
                }
            }

            $crate::impl_network!($crate::nets::Architecture::AgcafNet);
            $crate::agcaf_int8_body!();
        }
    };
}

agcaf_net! {
    /// AGCAF-Net at the published size (B = 64, 256 × 256): 12,354,189 parameters.
    pub mod paper {
        preset: "paper", base: 64, input: 256,
        scales: [10, 6, 5, 3], reduce: (16, 4), cpm: true, afm: true,
    }
}

agcaf_net! {
    /// AGCAF-Net at the deployable size (B = 16, ¼ width).
    pub mod edge {
        preset: "edge", base: 16, input: 256,
        scales: [10, 6, 5, 3], reduce: (4, 4), cpm: true, afm: true,
    }
}

agcaf_net! {
    /// AGCAF-Net for tests and CI (B = 8, 64 × 64; scales fit the 8 × 8 deepest map).
    pub mod tiny {
        preset: "tiny", base: 8, input: 64,
        scales: [6, 4, 3, 2], reduce: (4, 4), cpm: true, afm: true,
    }
}

agcaf_net! {
    /// 2.5D (issue 9): `tiny` with 3 adjacent slices as input channels — only the stem's
    /// input channels differ.
    pub mod tiny_2_5d {
        preset: "tiny-2.5d", base: 8, input: 64, in_channels: 3,
        scales: [6, 4, 3, 2], reduce: (4, 4), cpm: true, afm: true,
    }
}

agcaf_net! {
    /// 2.5D: `edge` with 3 adjacent slices as input channels.
    pub mod edge_2_5d {
        preset: "edge-2.5d", base: 16, input: 256, in_channels: 3,
        scales: [10, 6, 5, 3], reduce: (4, 4), cpm: true, afm: true,
    }
}

agcaf_net! {
    /// Ablation (paper Table 2): the backbone alone — no CPM, no AFM (`tiny` sizes).
    pub mod tiny_backbone {
        preset: "tiny-backbone", base: 8, input: 64,
        scales: [6, 4, 3, 2], reduce: (4, 4), cpm: false, afm: false,
    }
}

agcaf_net! {
    /// Ablation: backbone + CPM, plain fusion (`tiny` sizes).
    pub mod tiny_cpm {
        preset: "tiny-cpm", base: 8, input: 64,
        scales: [6, 4, 3, 2], reduce: (4, 4), cpm: true, afm: false,
    }
}

agcaf_net! {
    /// Ablation: backbone + AFM, no CPM (`tiny` sizes).
    pub mod tiny_afm {
        preset: "tiny-afm", base: 8, input: 64,
        scales: [6, 4, 3, 2], reduce: (4, 4), cpm: false, afm: true,
    }
}

/// AGCAF-Net, published size.
pub type AgcafPaper = paper::Net;
/// AGCAF-Net, deployable size.
pub type AgcafEdge = edge::Net;
/// AGCAF-Net, test size.
pub type AgcafTiny = tiny::Net;
