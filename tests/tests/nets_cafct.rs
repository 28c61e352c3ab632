//! CAFCT-Net in core: the SPEC §5 figures, the memory plan, the parameter table, deterministic
//! forward passes of `tiny` and every ablation, and block outputs against hand-computed and
//! naive references.

use hepaseg_core::blocks::aff::{Aff, AffParams};
use hepaseg_core::blocks::aspp::{Aspp, AsppParams};
use hepaseg_core::blocks::decoder::{Decoder, DecoderParams};
use hepaseg_core::blocks::mix_ffn::{MixFfn, MixFfnParams};
use hepaseg_core::blocks::seg_head::{SegHead, SegHeadParams};
use hepaseg_core::blocks::sra::{Sra, SraParams};
use hepaseg_core::blocks::transformer::{TransformerStage, TransformerStageParams};
use hepaseg_core::blocks::unit::{Act, ConvBn};
use hepaseg_core::nets::cafct::{self, CafctEdge, CafctPaper, CafctTiny};
use hepaseg_core::nets::Network;
use hepaseg_core::ops::Conv2d;
use hepaseg_core::params::{Cursor, Linear, ParamSpec, ReadParams, Role, SliceParams};
use hepaseg_core::tensor::{map_mut, map_ref, mat_mut, Flat, Map, Tokens};
use hepaseg_core::{AlignedArena, Error, Scratch};

// ---- deterministic test data --------------------------------------------------------------

/// xorshift64* — deterministic test data.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
    }
    /// Uniform in [-a, a).
    fn sym(&mut self, a: f32) -> f32 {
        (self.unit() * 2.0 - 1.0) * a
    }
    fn vec(&mut self, n: usize, a: f32) -> Vec<f32> {
        (0..n).map(|_| self.sym(a)).collect()
    }
}

/// Values for every row of a table: weights ±√(3/fan_in), norms near the identity, positive
/// running variances (1 ± 0.2).
fn seeded(table: &[ParamSpec], seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Rng::new(seed);
    table
        .iter()
        .map(|p| {
            let fan_in = match p.role {
                Role::ConvWeight => p.dims[1] * p.dims[2] * p.dims[3],
                Role::LinearWeight => p.dims[1],
                _ => 1,
            };
            let limit = (3.0 / fan_in as f32).sqrt();
            (0..p.numel())
                .map(|_| match p.role {
                    Role::ConvWeight | Role::LinearWeight => rng.sym(limit),
                    Role::ConvBias | Role::LinearBias | Role::BnBias | Role::LnBias => rng.sym(0.1),
                    Role::BnWeight | Role::LnWeight => 1.0 + rng.sym(0.1),
                    Role::BnRunningMean => rng.sym(0.1),
                    Role::BnRunningVar => 1.0 + rng.sym(0.2),
                    Role::Gate => rng.sym(0.5),
                })
                .collect()
        })
        .collect()
}

fn slices(values: &[Vec<f32>]) -> Vec<&[f32]> {
    values.iter().map(Vec::as_slice).collect()
}

/// A CT-like 0..1 slice: a bright disc on a darker background, plus noise.
fn slice(size: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..size * size)
        .map(|i| {
            let (y, x) = (
                (i / size) as f32 / size as f32,
                (i % size) as f32 / size as f32,
            );
            let disc = f32::from(u8::from((y - 0.5).powi(2) + (x - 0.45).powi(2) < 0.1));
            0.2 + 0.5 * disc + 0.05 * rng.sym(1.0)
        })
        .collect()
}

fn within(actual: u64, expected: f64, rel: f64) -> bool {
    ((actual as f64) - expected).abs() <= rel * expected
}

// ---- figures -------------------------------------------------------------------------------

#[test]
fn parameter_counts_match_the_spec() {
    assert_eq!(CafctPaper::PARAM_COUNT, 4_043_402);
    assert_eq!(CafctEdge::PARAM_COUNT, 1_022_154);
    assert_eq!(CafctTiny::PARAM_COUNT, 261_194);
    assert_eq!(cafct::tiny_no_transformer::Net::PARAM_COUNT, 248_610);
    assert_eq!(cafct::tiny_no_aff::Net::PARAM_COUNT, 256_238);
    assert_eq!(cafct::tiny_no_aspp::Net::PARAM_COUNT, 227_082);
    assert_eq!(cafct::tiny_no_ag::Net::PARAM_COUNT, 259_485);
}

#[test]
fn macs_match_the_spec() {
    assert!(
        within(CafctPaper::MACS, 5.80e9, 0.01),
        "{}",
        CafctPaper::MACS
    );
    assert!(within(CafctEdge::MACS, 1.61e9, 0.01), "{}", CafctEdge::MACS);
    // Exact figures of the §2.2 wiring (attention counted as QKᵀ + AV = 2·N·Nk·C per block).
    assert_eq!(CafctPaper::MACS, 5_801_011_200);
    assert_eq!(CafctEdge::MACS, 1_611_127_296);
    assert_eq!(CafctTiny::MACS, 21_850_752);
    assert_eq!(cafct::tiny_no_transformer::Net::MACS, 22_229_632);
    assert_eq!(cafct::tiny_no_aff::Net::MACS, 21_846_016);
    assert_eq!(cafct::tiny_no_aspp::Net::MACS, 21_325_440);
    assert_eq!(cafct::tiny_no_ag::Net::MACS, 21_581_440);
}

#[test]
fn memory_plans_are_sound_and_meet_the_edge_target() {
    assert!(cafct::paper::PLAN.is_sound());
    assert!(cafct::edge::PLAN.is_sound());
    assert!(cafct::tiny::PLAN.is_sound());
    assert!(cafct::tiny_no_transformer::PLAN.is_sound());
    assert!(cafct::tiny_no_aff::PLAN.is_sound());
    assert!(cafct::tiny_no_aspp::PLAN.is_sound());
    assert!(cafct::tiny_no_ag::PLAN.is_sound());
    const { assert!(CafctEdge::ARENA_BYTES <= 10 << 20, "edge arena > 10 MiB") };
    assert!(cafct::edge::PLAN.total * 2 < cafct::edge::PLAN.unplanned_total());
}

#[test]
fn figures_print() {
    for (n, p, m, a) in [
        (
            "paper",
            CafctPaper::PARAM_COUNT,
            CafctPaper::MACS,
            CafctPaper::ARENA_BYTES,
        ),
        (
            "edge",
            CafctEdge::PARAM_COUNT,
            CafctEdge::MACS,
            CafctEdge::ARENA_BYTES,
        ),
        (
            "tiny",
            CafctTiny::PARAM_COUNT,
            CafctTiny::MACS,
            CafctTiny::ARENA_BYTES,
        ),
        (
            "tiny-no-transformer",
            cafct::tiny_no_transformer::Net::PARAM_COUNT,
            cafct::tiny_no_transformer::Net::MACS,
            cafct::tiny_no_transformer::Net::ARENA_BYTES,
        ),
        (
            "tiny-no-aff",
            cafct::tiny_no_aff::Net::PARAM_COUNT,
            cafct::tiny_no_aff::Net::MACS,
            cafct::tiny_no_aff::Net::ARENA_BYTES,
        ),
        (
            "tiny-no-aspp",
            cafct::tiny_no_aspp::Net::PARAM_COUNT,
            cafct::tiny_no_aspp::Net::MACS,
            cafct::tiny_no_aspp::Net::ARENA_BYTES,
        ),
        (
            "tiny-no-ag",
            cafct::tiny_no_ag::Net::PARAM_COUNT,
            cafct::tiny_no_ag::Net::MACS,
            cafct::tiny_no_ag::Net::ARENA_BYTES,
        ),
    ] {
        println!(
            "{n}: params {p} macs {m} arena {a} ({:.2} MiB)",
            a as f64 / 1_048_576.0
        );
    }
}

// ---- parameter table -----------------------------------------------------------------------

fn check_table<N: Network>() {
    let table = N::PARAMS;
    let mut names: Vec<&str> = table.iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(
        before,
        names.len(),
        "{}: duplicate parameter names",
        N::PRESET
    );
    for p in table {
        assert!(
            N::BLOCKS.iter().any(|b| p.name.is_under(b.name)),
            "{}: {} belongs to no block",
            N::PRESET,
            p.name.as_str()
        );
    }
    // Every trainable scalar is in exactly one block, and the blocks' MACs add up.
    let per_block: usize = N::BLOCKS
        .iter()
        .map(|b| {
            table
                .iter()
                .filter(|p| p.name.is_under(b.name) && p.role.is_trainable())
                .map(ParamSpec::numel)
                .sum::<usize>()
        })
        .sum();
    assert_eq!(per_block, N::PARAM_COUNT, "{}", N::PRESET);
    assert_eq!(
        N::BLOCKS.iter().map(|b| b.macs).sum::<u64>(),
        N::MACS,
        "{}",
        N::PRESET
    );
}

#[test]
fn parameter_tables_are_unique_and_grouped_by_block() {
    check_table::<CafctPaper>();
    check_table::<CafctEdge>();
    check_table::<CafctTiny>();
    check_table::<cafct::tiny_no_transformer::Net>();
    check_table::<cafct::tiny_no_aff::Net>();
    check_table::<cafct::tiny_no_aspp::Net>();
    check_table::<cafct::tiny_no_ag::Net>();
}

fn has(table: &[ParamSpec], name: &str) -> bool {
    table.iter().any(|p| p.name.as_str() == name)
}

#[test]
fn parameter_names_are_the_documented_ones() {
    let t = CafctPaper::PARAMS;
    for name in [
        "cnn.stem.conv.weight",
        "cnn.level1.0.conv1.conv.weight",
        "cnn.level2.0.conv1.conv.weight",
        "cnn.level2.0.downsample.bn.running_var",
        "cnn.level4.1.conv2.bn.weight",
        "trans.stage1.embed.conv.weight",
        "trans.stage1.embed.norm.bias",
        "trans.stage1.block0.norm1.weight",
        "trans.stage1.block0.attn.q.weight",
        "trans.stage1.block0.attn.sr.weight",
        "trans.stage1.block0.attn.norm.weight",
        "trans.stage1.block0.attn.kv.bias",
        "trans.stage1.block0.attn.proj.weight",
        "trans.stage1.block0.ffn.fc1.weight",
        "trans.stage1.block0.ffn.dwconv.bias",
        "trans.stage1.block0.ffn.fc2.weight",
        "trans.stage1.norm.weight",
        "trans.stage3.block1.attn.q.weight",
        "aff.0.squeeze.weight",
        "aff.3.excite.bias",
        "aff.3.fuse.bn.running_mean",
        "aspp.convs.0.conv.weight",
        "aspp.convs.3.bn.weight",
        "aspp.convs.4.conv.weight",
        "aspp.project.conv.weight",
        "decoder.0.ag.w_x.conv.bias",
        "decoder.0.ag.w_g.conv.weight",
        "decoder.2.ag.psi.bn.weight",
        "decoder.2.conv2.conv.weight",
        "head.conv.conv.weight",
        "head.out.bias",
    ] {
        assert!(has(t, name), "missing {name}");
    }
    // Stage 4 has sr = 1: no reduction conv; stages 1 and 2 have one block.
    assert!(!has(t, "trans.stage4.block0.attn.sr.weight"));
    assert!(!has(t, "trans.stage2.block1.norm1.weight"));
    // The table's first rows are the CNN stem, in read order.
    assert_eq!(t[0].name.as_str(), "cnn.stem.conv.weight");
    assert_eq!(t[0].shape(), &[32, 1, 3, 3]);

    let nt = cafct::tiny_no_transformer::Net::PARAMS;
    assert!(
        has(nt, "cnn2.level3.0.downsample.conv.weight")
            && !nt.iter().any(|p| p.name.is_under("trans"))
    );
    let na = cafct::tiny_no_aff::Net::PARAMS;
    assert!(has(na, "aff.0.fuse.conv.weight") && !has(na, "aff.0.squeeze.weight"));
    let np = cafct::tiny_no_aspp::Net::PARAMS;
    assert!(has(np, "aspp.conv.weight") && !has(np, "aspp.project.conv.weight"));
    let ng = cafct::tiny_no_ag::Net::PARAMS;
    assert!(!ng.iter().any(|p| p.name.as_str().contains(".ag.")));
}

#[test]
fn fingerprints_differ_between_presets_and_ablations() {
    let prints = [
        CafctPaper::FINGERPRINT,
        CafctEdge::FINGERPRINT,
        CafctTiny::FINGERPRINT,
        cafct::tiny_no_transformer::Net::FINGERPRINT,
        cafct::tiny_no_aff::Net::FINGERPRINT,
        cafct::tiny_no_aspp::Net::FINGERPRINT,
        cafct::tiny_no_ag::Net::FINGERPRINT,
    ];
    for i in 0..prints.len() {
        for j in i + 1..prints.len() {
            assert_ne!(prints[i], prints[j]);
        }
    }
}

// ---- forward passes ------------------------------------------------------------------------

/// Forward of a tiny preset: finite, bit-reproducible (second run on the dirty arena), and an
/// arena 64 bytes short is an error value. Returns the logits.
macro_rules! check_forward {
    ($m:ident) => {{
        type N = cafct::$m::Net;
        const BYTES: usize = <N as Network>::ARENA_BYTES;
        let values = seeded(N::PARAMS, 11);
        let tensors = slices(&values);
        let src = SliceParams { tensors: &tensors };
        let input = slice(cafct::$m::SIZE, 12);
        let mut arena = Box::new(AlignedArena::<BYTES>::new());
        let first = N::forward_flat(&src, &input, arena.as_bytes_mut())
            .expect("forward")
            .to_vec();
        let second = N::forward_flat(&src, &input, arena.as_bytes_mut())
            .expect("forward")
            .to_vec();
        assert_eq!(first.len(), cafct::$m::SIZE * cafct::$m::SIZE);
        assert!(
            first.iter().all(|v| v.is_finite()),
            "{}: logits not finite",
            N::PRESET
        );
        assert!(
            first
                .iter()
                .zip(&second)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{}: not bit-reproducible",
            N::PRESET
        );
        let (lo, hi) = first
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), v| {
                (l.min(*v), h.max(*v))
            });
        assert!(hi > lo, "{}: constant logits", N::PRESET);
        match N::forward_flat(&src, &input, &mut arena.as_bytes_mut()[..BYTES - 64]) {
            Err(Error::ArenaTooSmall { needed, available }) => {
                assert_eq!((needed, available), (BYTES, BYTES - 64));
            }
            other => panic!(
                "{}: expected ArenaTooSmall, got {:?}",
                N::PRESET,
                other.map(|_| ())
            ),
        }
        first
    }};
}

#[test]
fn tiny_forward_is_finite_and_bit_reproducible() {
    check_forward!(tiny);
}

#[test]
fn every_tiny_ablation_runs_and_differs() {
    let full = check_forward!(tiny);
    for logits in [
        check_forward!(tiny_no_transformer),
        check_forward!(tiny_no_aff),
        check_forward!(tiny_no_aspp),
        check_forward!(tiny_no_ag),
    ] {
        assert!(logits.iter().zip(&full).any(|(a, b)| a != b));
    }
}

#[test]
fn bad_parameters_and_inputs_are_errors() {
    let mut values = seeded(CafctTiny::PARAMS, 1);
    let input = slice(64, 2);
    let mut arena = Box::new(AlignedArena::<{ <CafctTiny as Network>::ARENA_BYTES }>::new());
    values[7].pop();
    let tensors = slices(&values);
    let r = CafctTiny::forward_flat(
        &SliceParams { tensors: &tensors },
        &input,
        arena.as_bytes_mut(),
    );
    assert!(
        matches!(r, Err(Error::ParamShape { index: 7, .. })),
        "{:?}",
        r.map(|_| ())
    );
    let r = CafctTiny::forward_flat(
        &SliceParams {
            tensors: &tensors[..3],
        },
        &input,
        arena.as_bytes_mut(),
    );
    assert!(matches!(r, Err(Error::ParamMissing { index: 3 })));
    let good = seeded(CafctTiny::PARAMS, 1);
    let tensors = slices(&good);
    let src = SliceParams { tensors: &tensors };
    let mut bad = input.clone();
    bad[100] = f32::INFINITY;
    let r = CafctTiny::forward_flat(&src, &bad, arena.as_bytes_mut());
    assert!(matches!(r, Err(Error::NonFiniteInput)));
    let r = CafctTiny::forward_flat(&src, &input[1..], arena.as_bytes_mut());
    assert!(matches!(
        r,
        Err(Error::InputShape {
            expected: 4096,
            found: 4095
        })
    ));
}

/// 2.5D (issue 9): `tiny-2.5d` takes 3 slices and differs from `tiny` only in the input
/// channels of `cnn.stem` and `trans.stage1.embed` (by hand: 2 × 8 × (3² + 7²) = 928 more
/// parameters, each used at the 32 × 32 level-1 map: 928 × 32² more MACs; edge 2 × 16 × 58 =
/// 1,856). With those convolutions' outer channels zero it computes exactly `tiny` on the
/// centre slice; a one-slice input is an error.
#[test]
fn tiny_2_5d_is_tiny_with_three_slice_first_convolutions() {
    use hepaseg_tests::seeded::{arena, arena_bytes, centre_only};
    type Wide = cafct::tiny_2_5d::Net;
    let run = |wide: bool, values: &[Vec<f32>], input: &[f32]| {
        let t = slices(values);
        let src = SliceParams { tensors: &t };
        let need = if wide {
            Wide::ARENA_BYTES
        } else {
            CafctTiny::ARENA_BYTES
        };
        let mut a = arena(need);
        let bytes = arena_bytes(&mut a, need);
        if wide {
            Wide::forward_flat(&src, input, bytes).map(<[f32]>::to_vec)
        } else {
            CafctTiny::forward_flat(&src, input, bytes).map(<[f32]>::to_vec)
        }
    };
    assert_eq!(
        (Wide::INPUT, cafct::tiny_2_5d::IN_CHANNELS),
        ([3, 64, 64], 3)
    );
    assert_eq!(Wide::PARAM_COUNT, CafctTiny::PARAM_COUNT + 928);
    assert_eq!(Wide::MACS, CafctTiny::MACS + 928 * 32 * 32);
    assert_eq!(cafct::edge_2_5d::Net::INPUT, [3, 256, 256]);
    assert_eq!(
        cafct::edge_2_5d::Net::PARAM_COUNT,
        CafctEdge::PARAM_COUNT + 1_856
    );
    assert_ne!(Wide::FINGERPRINT, CafctTiny::FINGERPRINT);
    let narrow = seeded(CafctTiny::PARAMS, 3);
    let wide = centre_only(CafctTiny::PARAMS, Wide::PARAMS, &narrow);
    let centre = slice(64, 4);
    let mut input = slice(64, 5);
    input.extend_from_slice(&centre);
    input.extend(slice(64, 6));
    let want = run(false, &narrow, &centre).unwrap();
    let got = run(true, &wide, &input).unwrap();
    let worst = want
        .iter()
        .zip(&got)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        worst <= 1e-6,
        "2.5D with centre-only first convolutions differs by {worst}"
    );
    assert!(matches!(
        run(true, &wide, &centre),
        Err(Error::InputShape {
            expected: 12_288,
            found: 4096
        })
    ));
}

// ---- blocks ------------------------------------------------------------------------------

fn scratch_for(bytes: usize) -> Vec<f32> {
    vec![f32::NAN; bytes / 4]
}

/// SRA with sr = 1 and one head on four 2-feature tokens, with hand-set weights, against the
/// softmax attention written out by hand.
#[test]
fn sra_single_head_matches_hand_computed_attention() {
    // q = x + (0.1, -0.2); keys = 2·x; values = (x0 + x1, x0 − x1) + (0.5, 0); proj swaps the
    // two features and adds (1, 0).
    let q_w = [[1.0f32, 0.0], [0.0, 1.0]];
    let q_b = [0.1f32, -0.2];
    let kv_w = [[2.0f32, 0.0], [0.0, 2.0], [1.0, 1.0], [1.0, -1.0]];
    let kv_b = [0.0f32, 0.0, 0.5, 0.0];
    let p_w = [[0.0f32, 1.0], [1.0, 0.0]];
    let p_b = [1.0f32, 0.0];
    let p = SraParams::<'_, 2, 4, 1, false> {
        q: Linear {
            weight: &q_w,
            bias: &q_b,
        },
        sr: None,
        norm: None,
        kv: Linear {
            weight: &kv_w,
            bias: &kv_b,
        },
        proj: Linear {
            weight: &p_w,
            bias: &p_b,
        },
    };
    let x: Tokens<4, 2> = [[0.5, -1.0], [1.0, 0.25], [-0.75, 0.5], [0.0, 1.5]];
    let mut y: Tokens<4, 2> = [[0.0; 2]; 4];
    let mut s = scratch_for(Sra::<2, 1, 1, 2, 2, 2, 2, 4>::SCRATCH_BYTES);
    Sra::<2, 1, 1, 2, 2, 2, 2, 4>::forward(&p, &x, &mut y, Scratch::from_f32(&mut s)).unwrap();

    let xd: Vec<[f64; 2]> = x
        .iter()
        .map(|t| [f64::from(t[0]), f64::from(t[1])])
        .collect();
    for (n, xn) in xd.iter().enumerate() {
        let q = [xn[0] + 0.1, xn[1] - 0.2];
        let scores: Vec<f64> = xd
            .iter()
            .map(|xm| (q[0] * 2.0 * xm[0] + q[1] * 2.0 * xm[1]) / 2f64.sqrt())
            .collect();
        let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
        let sum: f64 = e.iter().sum();
        let mut o = [0.0f64; 2];
        for (xm, em) in xd.iter().zip(&e) {
            let v = [xm[0] + xm[1] + 0.5, xm[0] - xm[1]];
            o[0] += em / sum * v[0];
            o[1] += em / sum * v[1];
        }
        let want = [o[1] + 1.0, o[0]];
        for (got, want) in y[n].iter().zip(want) {
            assert!(
                (f64::from(*got) - want).abs() < 1e-5,
                "token {n}: {got} vs {want}"
            );
        }
    }
}

/// Naive f64 versions of every CAFCT-Net block, written straight from SPEC §2.2 with run-time
/// shapes; parameters are looked up by name, so these also pin the naming.
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
mod naive {
    use hepaseg_core::params::ParamSpec;

    /// A block's seeded values, by name.
    pub struct Named<'a> {
        pub table: &'a [ParamSpec],
        pub values: &'a [Vec<f32>],
        pub prefix: String,
    }

    impl<'a> Named<'a> {
        pub fn new(table: &'a [ParamSpec], values: &'a [Vec<f32>]) -> Self {
            Named {
                table,
                values,
                prefix: String::new(),
            }
        }
        /// The parameters under `prefix`.
        pub fn sub(&self, prefix: &str) -> Named<'a> {
            Named {
                table: self.table,
                values: self.values,
                prefix: format!("{}.{prefix}", self.prefix),
            }
        }
        pub fn get(&self, name: &str) -> Vec<f64> {
            let name = format!("{}.{name}", self.prefix);
            let name = name.trim_start_matches('.').replace("..", ".");
            let name = name.as_str();
            let i = self
                .table
                .iter()
                .position(|p| p.name.as_str() == name)
                .unwrap_or_else(|| panic!("no parameter {name}"));
            self.values[i].iter().map(|v| f64::from(*v)).collect()
        }
    }

    /// A C × H × W map.
    #[derive(Clone)]
    pub struct M {
        pub c: usize,
        pub h: usize,
        pub w: usize,
        pub v: Vec<f64>,
    }

    impl M {
        pub fn from_f32(c: usize, h: usize, w: usize, v: &[f32]) -> M {
            M {
                c,
                h,
                w,
                v: v.iter().map(|a| f64::from(*a)).collect(),
            }
        }
        pub fn at(&self, c: usize, y: usize, x: usize) -> f64 {
            self.v[(c * self.h + y) * self.w + x]
        }
        pub fn concat(&self, o: &M) -> M {
            let mut v = self.v.clone();
            v.extend_from_slice(&o.v);
            M {
                c: self.c + o.c,
                h: self.h,
                w: self.w,
                v,
            }
        }
        pub fn map(mut self, f: impl Fn(f64) -> f64) -> M {
            self.v.iter_mut().for_each(|x| *x = f(*x));
            self
        }
        /// Tokens (row-major pixels) of C features.
        pub fn tokens(&self) -> Vec<Vec<f64>> {
            (0..self.h * self.w)
                .map(|n| {
                    (0..self.c)
                        .map(|c| self.v[c * self.h * self.w + n])
                        .collect()
                })
                .collect()
        }
        pub fn from_tokens(t: &[Vec<f64>], h: usize, w: usize) -> M {
            let c = t[0].len();
            let mut v = vec![0.0; c * h * w];
            for (n, tok) in t.iter().enumerate() {
                for k in 0..c {
                    v[k * h * w + n] = tok[k];
                }
            }
            M { c, h, w, v }
        }
    }

    pub fn relu(v: f64) -> f64 {
        v.max(0.0)
    }
    pub fn sigmoid(v: f64) -> f64 {
        1.0 / (1.0 + (-v).exp())
    }
    pub fn gelu(v: f64) -> f64 {
        0.5 * v * (1.0 + libm::erf(v / 2f64.sqrt()))
    }

    /// Convolution with `groups` = 1 or = channels (depthwise); weights `prefix.weight`, bias
    /// `prefix.bias` if `bias`.
    pub fn conv(
        x: &M,
        p: &Named<'_>,
        prefix: &str,
        co: usize,
        k: usize,
        s: usize,
        pad: usize,
        d: usize,
        bias: bool,
        depthwise: bool,
    ) -> M {
        let wt = p.get(&format!("{prefix}.weight"));
        let b = if bias {
            p.get(&format!("{prefix}.bias"))
        } else {
            vec![0.0; co]
        };
        let ho = (x.h + 2 * pad - d * (k - 1) - 1) / s + 1;
        let wo = (x.w + 2 * pad - d * (k - 1) - 1) / s + 1;
        let cig = if depthwise { 1 } else { x.c };
        assert_eq!(wt.len(), co * cig * k * k, "{prefix}");
        let mut v = vec![0.0; co * ho * wo];
        for o in 0..co {
            for y in 0..ho {
                for xx in 0..wo {
                    let mut acc = b[o];
                    for cl in 0..cig {
                        let ci = if depthwise { o } else { cl };
                        for a in 0..k {
                            for bb in 0..k {
                                let iy = (y * s + a * d) as i64 - pad as i64;
                                let ix = (xx * s + bb * d) as i64 - pad as i64;
                                if iy >= 0 && ix >= 0 && (iy as usize) < x.h && (ix as usize) < x.w
                                {
                                    acc += wt[((o * cig + cl) * k + a) * k + bb]
                                        * x.at(ci, iy as usize, ix as usize);
                                }
                            }
                        }
                    }
                    v[(o * ho + y) * wo + xx] = acc;
                }
            }
        }
        M {
            c: co,
            h: ho,
            w: wo,
            v,
        }
    }

    pub fn bn(mut x: M, p: &Named<'_>, prefix: &str) -> M {
        let g = p.get(&format!("{prefix}.weight"));
        let b = p.get(&format!("{prefix}.bias"));
        let m = p.get(&format!("{prefix}.running_mean"));
        let var = p.get(&format!("{prefix}.running_var"));
        let hw = x.h * x.w;
        for c in 0..x.c {
            for i in 0..hw {
                let v = &mut x.v[c * hw + i];
                *v = (*v - m[c]) / (var[c] + 1e-5).sqrt() * g[c] + b[c];
            }
        }
        x
    }

    /// conv (no bias unless `bias`) + BN under `prefix.conv` / `prefix.bn`.
    pub fn conv_bn(
        x: &M,
        p: &Named<'_>,
        prefix: &str,
        co: usize,
        k: usize,
        s: usize,
        pad: usize,
        d: usize,
        bias: bool,
    ) -> M {
        let y = conv(
            x,
            p,
            &format!("{prefix}.conv"),
            co,
            k,
            s,
            pad,
            d,
            bias,
            false,
        );
        bn(y, p, &format!("{prefix}.bn"))
    }

    pub fn ln(t: &mut [Vec<f64>], p: &Named<'_>, prefix: &str) {
        let g = p.get(&format!("{prefix}.weight"));
        let b = p.get(&format!("{prefix}.bias"));
        for tok in t {
            let c = tok.len() as f64;
            let mean = tok.iter().sum::<f64>() / c;
            let var = tok.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / c;
            for (k, v) in tok.iter_mut().enumerate() {
                *v = (*v - mean) / (var + 1e-6).sqrt() * g[k] + b[k];
            }
        }
    }

    pub fn linear(t: &[Vec<f64>], p: &Named<'_>, prefix: &str, dout: usize) -> Vec<Vec<f64>> {
        let w = p.get(&format!("{prefix}.weight"));
        let b = p.get(&format!("{prefix}.bias"));
        t.iter()
            .map(|v| {
                (0..dout)
                    .map(|o| b[o] + (0..v.len()).map(|i| w[o * v.len() + i] * v[i]).sum::<f64>())
                    .collect()
            })
            .collect()
    }

    pub fn bilinear_x2(x: &M) -> M {
        let (ho, wo) = (2 * x.h, 2 * x.w);
        let src = |dst: usize, n: usize, out: usize| {
            let s = ((dst as f64 + 0.5) * n as f64 / out as f64 - 0.5).max(0.0);
            let i0 = (s.floor() as usize).min(n - 1);
            (i0, (i0 + 1).min(n - 1), s - i0 as f64)
        };
        let mut v = vec![0.0; x.c * ho * wo];
        for c in 0..x.c {
            for y in 0..ho {
                let (y0, y1, fy) = src(y, x.h, ho);
                for xx in 0..wo {
                    let (x0, x1, fx) = src(xx, x.w, wo);
                    let top = (1.0 - fx) * x.at(c, y0, x0) + fx * x.at(c, y0, x1);
                    let bot = (1.0 - fx) * x.at(c, y1, x0) + fx * x.at(c, y1, x1);
                    v[(c * ho + y) * wo + xx] = (1.0 - fy) * top + fy * bot;
                }
            }
        }
        M {
            c: x.c,
            h: ho,
            w: wo,
            v,
        }
    }

    /// SRA on layer-normed tokens of an h × w map.
    pub fn sra(
        x: &[Vec<f64>],
        h: usize,
        w: usize,
        heads: usize,
        sr: usize,
        p: &Named<'_>,
        pre: &str,
    ) -> Vec<Vec<f64>> {
        let c = x[0].len();
        let kv_src = if sr > 1 {
            let m = M::from_tokens(x, h, w);
            let r = conv(&m, p, &format!("{pre}.sr"), c, sr, sr, 0, 1, true, false);
            let mut t = r.tokens();
            ln(&mut t, p, &format!("{pre}.norm"));
            t
        } else {
            x.to_vec()
        };
        let kv = linear(&kv_src, p, &format!("{pre}.kv"), 2 * c);
        let q = linear(x, p, &format!("{pre}.q"), c);
        let d = c / heads;
        let o: Vec<Vec<f64>> = q
            .iter()
            .map(|qn| {
                let mut o = vec![0.0; c];
                for hd in 0..heads {
                    let s: Vec<f64> = kv
                        .iter()
                        .map(|k| {
                            (0..d).map(|j| qn[hd * d + j] * k[hd * d + j]).sum::<f64>()
                                / (d as f64).sqrt()
                        })
                        .collect();
                    let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = s.iter().map(|v| (v - max).exp()).collect();
                    let sum: f64 = e.iter().sum();
                    for (k, em) in kv.iter().zip(&e) {
                        for j in 0..d {
                            o[hd * d + j] += em / sum * k[c + hd * d + j];
                        }
                    }
                }
                o
            })
            .collect();
        linear(&o, p, &format!("{pre}.proj"), c)
    }

    pub fn mix_ffn(x: &[Vec<f64>], h: usize, w: usize, p: &Named<'_>, pre: &str) -> Vec<Vec<f64>> {
        let c = x[0].len();
        let hidden = linear(x, p, &format!("{pre}.fc1"), 4 * c);
        let m = M::from_tokens(&hidden, h, w);
        let m = conv(
            &m,
            p,
            &format!("{pre}.dwconv"),
            4 * c,
            3,
            1,
            1,
            1,
            true,
            true,
        )
        .map(gelu);
        linear(&m.tokens(), p, &format!("{pre}.fc2"), c)
    }

    /// A transformer stage: embedding (k, stride 2, pad k/2) + LN, blocks, LN, back to a map.
    pub fn stage(
        x: &M,
        p: &Named<'_>,
        co: usize,
        k: usize,
        heads: usize,
        sr: usize,
        depth: usize,
    ) -> M {
        let e = conv(x, p, "embed.conv", co, k, 2, k / 2, 1, true, false);
        let (h, w) = (e.h, e.w);
        let mut t = e.tokens();
        ln(&mut t, p, "embed.norm");
        for b in 0..depth {
            let mut n = t.clone();
            ln(&mut n, p, &format!("block{b}.norm1"));
            let a = sra(&n, h, w, heads, sr, p, &format!("block{b}.attn"));
            t.iter_mut()
                .zip(&a)
                .for_each(|(x, y)| x.iter_mut().zip(y).for_each(|(u, v)| *u += v));
            let mut n = t.clone();
            ln(&mut n, p, &format!("block{b}.norm2"));
            let f = mix_ffn(&n, h, w, p, &format!("block{b}.ffn"));
            t.iter_mut()
                .zip(&f)
                .for_each(|(x, y)| x.iter_mut().zip(y).for_each(|(u, v)| *u += v));
        }
        ln(&mut t, p, "norm");
        M::from_tokens(&t, h, w)
    }

    pub fn aff(z: &M, p: &Named<'_>, se: bool) -> M {
        let c2 = z.c;
        let mut z = z.clone();
        if se {
            let hw = (z.h * z.w) as f64;
            let gap: Vec<f64> = (0..c2)
                .map(|c| z.v[c * z.h * z.w..(c + 1) * z.h * z.w].iter().sum::<f64>() / hw)
                .collect();
            let mid: Vec<f64> = linear(&[gap], p, "squeeze", c2 / 4)[0]
                .iter()
                .map(|v| relu(*v))
                .collect();
            let e: Vec<f64> = linear(&[mid], p, "excite", c2)[0]
                .iter()
                .map(|v| sigmoid(*v))
                .collect();
            let hw = z.h * z.w;
            for c in 0..c2 {
                z.v[c * hw..(c + 1) * hw]
                    .iter_mut()
                    .for_each(|v| *v *= e[c]);
            }
        }
        conv_bn(&z, p, "fuse", c2 / 2, 1, 1, 0, 1, false).map(relu)
    }

    pub fn aspp(x: &M, p: &Named<'_>, co: usize, rates: [usize; 3]) -> M {
        let mut cat = conv_bn(x, p, "convs.0", co, 1, 1, 0, 1, false).map(relu);
        for (i, r) in rates.iter().enumerate() {
            cat = cat.concat(
                &conv_bn(x, p, &format!("convs.{}", i + 1), co, 3, 1, *r, *r, false).map(relu),
            );
        }
        let hw = x.h * x.w;
        let gap: Vec<f64> = (0..x.c)
            .map(|c| x.v[c * hw..(c + 1) * hw].iter().sum::<f64>() / hw as f64)
            .collect();
        let pooled = conv_bn(
            &M {
                c: x.c,
                h: 1,
                w: 1,
                v: gap,
            },
            p,
            "convs.4",
            co,
            1,
            1,
            0,
            1,
            false,
        )
        .map(relu);
        let broadcast = M {
            c: co,
            h: x.h,
            w: x.w,
            v: pooled.v.iter().flat_map(|v| vec![*v; hw]).collect(),
        };
        conv_bn(&cat.concat(&broadcast), p, "project", co, 1, 1, 0, 1, false).map(relu)
    }

    pub fn decoder(skip: &M, g: &M, p: &Named<'_>, gate: bool) -> M {
        let up = bilinear_x2(g);
        let s = if gate {
            let ci = skip.c / 2;
            let x1 = conv_bn(skip, p, "ag.w_x", ci, 1, 1, 0, 1, true);
            let g1 = conv_bn(&up, p, "ag.w_g", ci, 1, 1, 0, 1, true);
            let sum = M {
                v: x1.v.iter().zip(&g1.v).map(|(a, b)| relu(a + b)).collect(),
                ..x1
            };
            let psi = conv_bn(&sum, p, "ag.psi", 1, 1, 1, 0, 1, true).map(sigmoid);
            let hw = skip.h * skip.w;
            M {
                v: skip
                    .v
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v * psi.v[i % hw])
                    .collect(),
                ..skip.clone()
            }
        } else {
            skip.clone()
        };
        let y = conv_bn(&s.concat(&up), p, "conv1", skip.c, 3, 1, 1, 1, false).map(relu);
        conv_bn(&y, p, "conv2", skip.c, 3, 1, 1, 1, false).map(relu)
    }

    pub fn basic_block(x: &M, p: &Named<'_>, co: usize, stride: usize) -> M {
        let y = conv_bn(x, p, "conv1", co, 3, stride, 1, 1, false).map(relu);
        let y = conv_bn(&y, p, "conv2", co, 3, 1, 1, 1, false);
        let shortcut = if stride != 1 || x.c != co {
            conv_bn(x, p, "downsample", co, 1, stride, 0, 1, false)
        } else {
            x.clone()
        };
        M {
            v: y.v
                .iter()
                .zip(&shortcut.v)
                .map(|(a, b)| relu(a + b))
                .collect(),
            ..y
        }
    }

    pub fn cnn(x: &M, p: &Named<'_>, c: usize) -> Vec<M> {
        let stem = conv_bn(x, &p.sub("stem"), "", c, 3, 2, 1, 1, false).map(relu);
        let mut levels = vec![basic_block(&stem, &p.sub("level1.0"), c, 1)];
        for (l, co) in [(2, 2 * c), (3, 4 * c), (4, 4 * c)] {
            let y = basic_block(&levels[l - 2], &p.sub(&format!("level{l}.0")), co, 2);
            levels.push(basic_block(&y, &p.sub(&format!("level{l}.1")), co, 1));
        }
        levels
    }

    pub fn trans(x: &M, p: &Named<'_>, c: usize) -> Vec<M> {
        let s1 = stage(x, &p.sub("stage1"), c, 7, 1, 8, 1);
        let s2 = stage(&s1, &p.sub("stage2"), 2 * c, 3, 2, 4, 1);
        let s3 = stage(&s2, &p.sub("stage3"), 4 * c, 3, 4, 2, 2);
        let s4 = stage(&s3, &p.sub("stage4"), 4 * c, 3, 4, 1, 2);
        vec![s1, s2, s3, s4]
    }

    /// The whole network with the ablation switches.
    pub fn network(
        x: &M,
        p: &Named<'_>,
        c: usize,
        transformer: bool,
        se: bool,
        with_aspp: bool,
        ag: bool,
    ) -> M {
        let a = cnn(x, &p.sub("cnn"), c);
        let b = if transformer {
            trans(x, &p.sub("trans"), c)
        } else {
            cnn(x, &p.sub("cnn2"), c)
        };
        let fused: Vec<M> = (0..4)
            .map(|l| aff(&a[l].concat(&b[l]), &p.sub(&format!("aff.{l}")), se))
            .collect();
        let mut g = if with_aspp {
            aspp(&fused[3], &p.sub("aspp"), 4 * c, [6, 12, 18])
        } else {
            conv_bn(&fused[3], &p.sub("aspp"), "", 4 * c, 1, 1, 0, 1, false).map(relu)
        };
        for (i, l) in [2, 1, 0].into_iter().enumerate() {
            g = decoder(&fused[l], &g, &p.sub(&format!("decoder.{i}")), ag);
        }
        let up = bilinear_x2(&g);
        let h = conv_bn(&up, &p.sub("head.conv"), "", c, 3, 1, 1, 1, false).map(relu);
        conv(&h, p, "head.out", 1, 1, 1, 0, 1, true, false)
    }
}

fn assert_close(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (f64::from(*a) - b).abs() <= 1e-4 * b.abs().max(1.0),
            "{what}[{i}]: {a} vs {b}"
        );
    }
}

/// A block's table, seeded values and typed parameters.
macro_rules! block_params {
    ($p:ident<$($g:tt),*>, $seed:expr => $table:ident, $values:ident, $params:ident) => {
        let $table = hepaseg_core::param_table!($p<'static, $($g),*>, $p::<'static, $($g),*>::COUNT);
        let $values = seeded(&$table, $seed);
        let tensors = slices(&$values);
        let src = SliceParams { tensors: &tensors };
        let $params = $p::<'_, $($g),*>::read(&mut Cursor::new(&src)).unwrap();
    };
}

/// SRA with sr = 2 and two heads against the naive reference.
#[test]
fn sra_with_reduction_and_heads_matches_naive_reference() {
    type B = Sra<8, 2, 2, 4, 6, 2, 3, 6>;
    block_params!(SraParams<8, 16, 2, true>, 21 => table, values, p);
    let mut xv = Rng::new(22).vec(24 * 8, 1.5);
    let x: &Tokens<24, 8> = mat_mut(&mut xv).unwrap();
    let mut y: Tokens<24, 8> = [[0.0; 8]; 24];
    let mut s = scratch_for(B::SCRATCH_BYTES);
    B::forward(&p, x, &mut y, Scratch::from_f32(&mut s)).unwrap();
    let xd: Vec<Vec<f64>> = x
        .iter()
        .map(|t| t.iter().map(|v| f64::from(*v)).collect())
        .collect();
    let named = naive::Named::new(&table, &values);
    let want: Vec<f64> = naive::sra(&xd, 4, 6, 2, 2, &named, "").concat();
    assert_close(y.flat(), &want, "sra");
}

/// The streamed Mix-FFN against the three layers written out naively.
#[test]
fn mix_ffn_matches_naive_reference() {
    block_params!(MixFfnParams<4, 16>, 31 => table, values, p);
    let mut xv = Rng::new(32).vec(15 * 4, 2.0);
    let x: &Tokens<15, 4> = mat_mut(&mut xv).unwrap();
    let mut y: Tokens<15, 4> = [[0.0; 4]; 15];
    let mut s = scratch_for(MixFfn::<4, 16, 3, 5>::SCRATCH_BYTES);
    MixFfn::<4, 16, 3, 5>::forward(&p, x, &mut y, Scratch::from_f32(&mut s)).unwrap();
    let xd: Vec<Vec<f64>> = x
        .iter()
        .map(|t| t.iter().map(|v| f64::from(*v)).collect())
        .collect();
    let named = naive::Named::new(&table, &values);
    assert_close(
        y.flat(),
        &naive::mix_ffn(&xd, 3, 5, &named, "").concat(),
        "mix-ffn",
    );
}

/// The grouped Mix-FFN (`forward`: planes in groups, register-tiled fc2) gives the bits of the
/// one-channel-at-a-time `forward_reference` on every Mix-FFN shape of the edge, tiny and
/// paper networks, and on shapes that leave feature, token and hidden-group remainders.
#[test]
fn mix_ffn_grouped_is_bit_identical_to_reference() {
    macro_rules! case {
        ($c:literal, $ch:literal, $h:literal, $w:literal, $seed:literal) => {{
            type B = MixFfn<$c, $ch, $h, $w>;
            const N: usize = $h * $w;
            block_params!(MixFfnParams<$c, $ch>, $seed => _table, _values, p);
            let mut xv = Rng::new($seed + 1).vec(N * $c, 2.0);
            let x: &Tokens<N, $c> = mat_mut(&mut xv).unwrap();
            let (mut got, mut want) = (vec![f32::NAN; N * $c], vec![f32::NAN; N * $c]);
            let mut s = scratch_for(B::SCRATCH_BYTES);
            B::forward(&p, x, mat_mut(&mut got).unwrap(), Scratch::from_f32(&mut s)).unwrap();
            let mut s = scratch_for(B::SCRATCH_BYTES);
            B::forward_reference(&p, x, mat_mut(&mut want).unwrap(), Scratch::from_f32(&mut s))
                .unwrap();
            let diff = got.iter().zip(&want).position(|(a, b)| a.to_bits() != b.to_bits());
            assert!(
                diff.is_none(),
                "C {} CH {} {}x{}: first difference at {:?}: {:?} vs {:?}",
                $c, $ch, $h, $w, diff, diff.map(|i| got[i]), diff.map(|i| want[i])
            );
        }};
    }
    // edge (C = 16): stages 1–4
    case!(16, 64, 128, 128, 301);
    case!(32, 128, 64, 64, 302);
    case!(64, 256, 32, 32, 303);
    case!(64, 256, 16, 16, 304);
    // tiny (C = 8): stages 1–4
    case!(8, 32, 32, 32, 305);
    case!(16, 64, 16, 16, 306);
    case!(32, 128, 8, 8, 307);
    case!(32, 128, 4, 4, 308);
    // paper (C = 32): stage 4 (128 features); stages 1–3 share the edge's tile shapes
    case!(128, 512, 16, 16, 309);
    // remainders: features not a multiple of 8 or of a tile, tokens not a multiple of a tile,
    // hidden channels not a multiple of the group
    case!(4, 16, 3, 5, 310);
    case!(12, 20, 3, 5, 311);
    case!(24, 44, 5, 7, 312);
    case!(48, 12, 3, 3, 313);
    case!(8, 4, 2, 3, 314);
}

/// A whole transformer stage (embedding, two blocks with sr = 2 and two heads, final LN).
#[test]
fn transformer_stage_matches_naive_reference() {
    type B = TransformerStage<3, 8, 32, 2, 3, 1, 2, 2, 8, 12, 4, 6, 2, 3, 6>;
    block_params!(TransformerStageParams<3, 8, 16, 32, 3, 2, true, true>, 51 => table, values, p);
    let xv = Rng::new(52).vec(3 * 8 * 12, 1.0);
    let x: &Map<3, 8, 12> = map_ref(&xv).unwrap();
    let mut y: Map<8, 4, 6> = [[[0.0; 6]; 4]; 8];
    let mut s = scratch_for(B::SCRATCH_BYTES);
    B::forward::<16, 24, true, true>(&p, x, &mut y, Scratch::from_f32(&mut s)).unwrap();
    let named = naive::Named::new(&table, &values);
    let want = naive::stage(&naive::M::from_f32(3, 8, 12, &xv), &named, 8, 3, 2, 2, 2);
    assert_close(y.flat(), &want.v, "stage");
}

#[test]
fn aff_and_plain_fusion_match_naive_reference() {
    let zv = Rng::new(62).vec(16 * 5 * 7, 2.0);
    let zd = naive::M::from_f32(16, 5, 7, &zv);
    {
        block_params!(AffParams<16, 4, 8, true>, 61 => table, values, p);
        let mut z: Map<16, 5, 7> = *map_ref(&zv).unwrap();
        let mut y: Map<8, 5, 7> = [[[0.0; 7]; 5]; 8];
        let mut s = scratch_for(Aff::<8, 16, 4, 5, 7, true>::SCRATCH_BYTES);
        Aff::<8, 16, 4, 5, 7, true>::forward(&p, &mut z, &mut y, Scratch::from_f32(&mut s))
            .unwrap();
        let named = naive::Named::new(&table, &values);
        assert_close(y.flat(), &naive::aff(&zd, &named, true).v, "aff");
    }
    {
        block_params!(AffParams<16, 4, 8, false>, 63 => table, values, p);
        assert_eq!(table.len(), 5, "plain fusion is conv + BN only");
        let mut z: Map<16, 5, 7> = *map_ref(&zv).unwrap();
        let mut y: Map<8, 5, 7> = [[[0.0; 7]; 5]; 8];
        Aff::<8, 16, 4, 5, 7, false>::forward(&p, &mut z, &mut y, Scratch::from_f32(&mut []))
            .unwrap();
        let named = naive::Named::new(&table, &values);
        assert_close(y.flat(), &naive::aff(&zd, &named, false).v, "plain fusion");
    }
}

#[test]
fn aspp_matches_naive_reference() {
    type B = Aspp<6, 4, 20, 1, 2, 3, 5, 6>;
    block_params!(AsppParams<6, 4, 20>, 71 => table, values, p);
    let xv = Rng::new(72).vec(6 * 5 * 6, 1.0);
    let x: &Map<6, 5, 6> = map_ref(&xv).unwrap();
    let mut y: Map<4, 5, 6> = [[[0.0; 6]; 5]; 4];
    let mut s = scratch_for(B::SCRATCH_BYTES);
    B::forward(&p, x, &mut y, Scratch::from_f32(&mut s)).unwrap();
    let named = naive::Named::new(&table, &values);
    let want = naive::aspp(&naive::M::from_f32(6, 5, 6, &xv), &named, 4, [1, 2, 3]);
    assert_close(y.flat(), &want.v, "aspp");
}

#[test]
fn decoder_with_and_without_gate_matches_naive_reference() {
    let skip_v = Rng::new(82).vec(4 * 6 * 8, 1.0);
    let g_v = Rng::new(83).vec(6 * 3 * 4, 1.0);
    let skip: &Map<4, 6, 8> = map_ref(&skip_v).unwrap();
    let g: &Map<6, 3, 4> = map_ref(&g_v).unwrap();
    let (sd, gd) = (
        naive::M::from_f32(4, 6, 8, &skip_v),
        naive::M::from_f32(6, 3, 4, &g_v),
    );
    {
        type B = Decoder<4, 2, 6, 10, 4, 6, 8, true>;
        block_params!(DecoderParams<4, 2, 6, 10, 4, true>, 81 => table, values, p);
        let mut y: Map<4, 6, 8> = [[[0.0; 8]; 6]; 4];
        let mut s = scratch_for(B::SCRATCH_BYTES);
        B::forward(&p, skip, g, &mut y, Scratch::from_f32(&mut s)).unwrap();
        let named = naive::Named::new(&table, &values);
        assert_close(
            y.flat(),
            &naive::decoder(&sd, &gd, &named, true).v,
            "decoder with AG",
        );
    }
    {
        type B = Decoder<4, 2, 6, 10, 4, 6, 8, false>;
        block_params!(DecoderParams<4, 2, 6, 10, 4, false>, 84 => table, values, p);
        let mut y: Map<4, 6, 8> = [[[0.0; 8]; 6]; 4];
        let mut s = scratch_for(B::SCRATCH_BYTES);
        B::forward(&p, skip, g, &mut y, Scratch::from_f32(&mut s)).unwrap();
        let named = naive::Named::new(&table, &values);
        assert_close(
            y.flat(),
            &naive::decoder(&sd, &gd, &named, false).v,
            "decoder without AG",
        );
    }
}

/// The band-streamed head gives exactly the bits of the two full convolutions: one band (7
/// rows) and several bands with a partial last one (19 rows, bands of 8).
#[test]
fn seg_head_streaming_is_bit_identical_to_the_full_convolutions() {
    fn check<const H: usize>() {
        block_params!(SegHeadParams<6>, 41 => _table, _values, p);
        let mut xv = Rng::new(42).vec(6 * H * 9, 1.0);
        let x: &Map<6, H, 9> = map_mut(&mut xv).unwrap();
        let mut y: Map<1, H, 9> = [[[0.0f32; 9]; H]];
        let mut s = scratch_for(SegHead::<6, H, 9>::SCRATCH_BYTES);
        SegHead::<6, H, 9>::forward(&p, x, &mut y, Scratch::from_f32(&mut s)).unwrap();

        let mut hidden: Map<6, H, 9> = [[[0.0f32; 9]; H]; 6];
        ConvBn::<1, 1>::run(&p.conv, x, &mut hidden, Act::Relu);
        let mut want: Map<1, H, 9> = [[[0.0f32; 9]; H]];
        Conv2d::<1, 0>::forward(&hidden, p.out.weight, Some(p.out.bias), &mut want);
        assert!(
            y.flat()
                .iter()
                .zip(want.flat())
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{H} rows"
        );
    }
    check::<7>();
    check::<19>();
}

/// The reduction conv and its norm exist exactly when sr > 1.
#[test]
fn sra_parameter_groups_follow_the_reduction_switch() {
    assert_eq!(SraParams::<'static, 8, 16, 2, true>::COUNT, 10);
    assert_eq!(SraParams::<'static, 8, 16, 1, false>::COUNT, 6);
}

macro_rules! check_against_naive {
    ($m:ident, $t:expr, $se:expr, $aspp:expr, $ag:expr) => {{
        type N = cafct::$m::Net;
        const BYTES: usize = <N as Network>::ARENA_BYTES;
        let values = seeded(N::PARAMS, 91);
        let tensors = slices(&values);
        let input = slice(64, 92);
        let mut arena = Box::new(AlignedArena::<BYTES>::new());
        let got = N::forward_flat(
            &SliceParams { tensors: &tensors },
            &input,
            arena.as_bytes_mut(),
        )
        .unwrap();
        let named = naive::Named::new(N::PARAMS, &values);
        let want = naive::network(
            &naive::M::from_f32(1, 64, 64, &input),
            &named,
            8,
            $t,
            $se,
            $aspp,
            $ag,
        );
        let err = got
            .iter()
            .zip(&want.v)
            .map(|(a, b)| (f64::from(*a) - b).abs())
            .fold(0.0, f64::max);
        let (lo, hi) = want
            .v
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(*v), h.max(*v))
            });
        println!(
            "{}: max |f32 − f64| = {err:.2e}, logits in [{lo:.3}, {hi:.3}]",
            N::PRESET
        );
        assert!(err < 1e-5, "{}: {err}", N::PRESET);
        assert_close(got, &want.v, N::PRESET);
    }};
}

/// The whole tiny network and every ablation against the naive f64 composition of SPEC §2.2.
#[test]
fn tiny_networks_match_naive_reference() {
    check_against_naive!(tiny, true, true, true, true);
    check_against_naive!(tiny_no_transformer, false, true, true, true);
    check_against_naive!(tiny_no_aff, true, false, true, true);
    check_against_naive!(tiny_no_aspp, true, true, false, true);
    check_against_naive!(tiny_no_ag, true, true, true, false);
}

/// The deployable preset at full size (1.6 G MACs) runs in exactly its planned arena.
#[test]
fn edge_forward_runs_in_its_planned_arena() {
    const BYTES: usize = <CafctEdge as Network>::ARENA_BYTES;
    let run = || {
        let values = seeded(CafctEdge::PARAMS, 5);
        let tensors = slices(&values);
        let input = slice(256, 6);
        let mut arena = Box::new(AlignedArena::<BYTES>::new());
        let start = std::time::Instant::now();
        let out = CafctEdge::forward_flat(
            &SliceParams { tensors: &tensors },
            &input,
            arena.as_bytes_mut(),
        )
        .unwrap();
        println!("edge forward: {:?}", start.elapsed());
        assert!(out.iter().all(|v| v.is_finite()));
    };
    // The arena is built on the stack before it is boxed at low optimisation levels.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
}
