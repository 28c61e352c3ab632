//! The f32 blocks of the `edge` networks, each runnable on its own at the shapes the network
//! uses it (256² input), for the per-block benchmarks (`benches/benches/blocks.rs`) and the
//! per-block table (`benches/examples/blocks.rs`).
//!
//! Parameters are the network's own seeded ones (`export --random-init`'s values, as
//! `hepaseg bench` uses), read through the network's parameter struct, so every block runs with
//! exactly the tensors it has inside the network. Inputs are seeded uniform values (`[0, 1)`
//! for maps that follow a ReLU or the windowed input, `[−1, 1)` for token streams); the f32
//! kernels' time does not depend on the values, apart from denormals, which these avoid.
//!
//! Rows are the finest pieces the network runs one after the other (the CPM's reduction, its
//! four AGCBs and its fusion; each transformer stage's embedding, attention and Mix-FFN per
//! block), each labelled with the network's [`BlockInfo`](hepaseg_core::nets::BlockInfo) row it
//! belongs to. Every multiply–accumulate of the network is in exactly one row:
//! [`edge_cases`] checks that the rows' MACs add up to the network's `MACS`. What no row
//! covers (the transformer's LayerNorms and residual adds, the map/token reshapes, the
//! quantized input) costs no MACs and is the difference between the rows' sum and the whole
//! network's time.
use hepaseg::registry::Model;
use hepaseg_core::arena::Scratch;
use hepaseg_core::blocks::aff::Aff;
use hepaseg_core::blocks::afm::Afm;
use hepaseg_core::blocks::agcb::Agcb;
use hepaseg_core::blocks::aspp::Aspp;
use hepaseg_core::blocks::basic_block::BasicBlock;
use hepaseg_core::blocks::decoder::Decoder;
use hepaseg_core::blocks::fcn_head::FcnHead;
use hepaseg_core::blocks::mix_ffn::MixFfn;
use hepaseg_core::blocks::patch_embed::PatchEmbed;
use hepaseg_core::blocks::seg_head::SegHead;
use hepaseg_core::blocks::sra::Sra;
use hepaseg_core::blocks::unit::{conv_macs, Act, ConvBn};
use hepaseg_core::nets::cafct::{CnnLevel, CnnStem};
use hepaseg_core::nets::{agcaf, cafct, Network};
use hepaseg_core::ops::{self, AlignCorners};
use hepaseg_core::params::{Cursor, ReadParams, SliceParams};
use hepaseg_core::tensor::{Map, Tokens};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// One block of a network, ready to run on its own.
pub struct Case {
    /// The network's [`BlockInfo`](hepaseg_core::nets::BlockInfo) row this piece belongs to.
    pub block: &'static str,
    /// The piece (equal to `block` when the row is not split).
    pub name: String,
    /// Multiply–accumulates of one run.
    pub macs: u64,
    run: Box<dyn FnMut() -> Duration>,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case")
            .field("block", &self.block)
            .field("name", &self.name)
            .field("macs", &self.macs)
            .finish_non_exhaustive()
    }
}

impl Case {
    /// Runs the block once and returns the time of the block alone (a block that changes its
    /// input in place gets a fresh copy first, outside the timed part).
    pub fn run(&mut self) -> Duration {
        (self.run)()
    }
}

fn case(
    block: &'static str,
    name: impl Into<String>,
    macs: u64,
    run: impl FnMut() -> Duration + 'static,
) -> Case {
    Case {
        block,
        name: name.into(),
        macs,
        run: Box::new(run),
    }
}

/// Times `f`.
fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

/// An `N`-element array of `fill` on the heap (the maps are too large for the stack).
fn boxed<A: Clone, const N: usize>(fill: A) -> Box<[A; N]> {
    let v: Vec<A> = vec![fill; N];
    v.into_boxed_slice().try_into().ok().expect("length N")
}

/// A `C × H × W` map of seeded values uniform in `[lo, lo + 1)`.
fn map<const C: usize, const H: usize, const W: usize>(seed: u64, lo: f32) -> Box<Map<C, H, W>> {
    let mut m: Box<Map<C, H, W>> = boxed::<[[f32; W]; H], C>([[0.0; W]; H]);
    fill(m.iter_mut().flatten().flatten(), seed, lo);
    m
}

/// `N` tokens of `D` seeded values uniform in `[−1, 1)`.
fn tokens<const N: usize, const D: usize>(seed: u64) -> Box<Tokens<N, D>> {
    let mut t: Box<Tokens<N, D>> = boxed::<[f32; D], N>([0.0; D]);
    fill(t.iter_mut().flatten(), seed, 0.0);
    for v in t.iter_mut().flatten() {
        *v = 2.0 * *v - 1.0;
    }
    t
}

fn fill<'a>(values: impl Iterator<Item = &'a mut f32>, seed: u64, lo: f32) {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for v in values {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        *v = lo + (s >> 40) as f32 / (1u64 << 24) as f32;
    }
}

/// Scratch of at least `bytes` bytes, as f32 words.
fn scratch(bytes: usize) -> Vec<f32> {
    vec![0.0; bytes.div_ceil(4).max(1)]
}

/// The seeded parameters of `N` (`export --random-init`, seed 0), kept for the whole run (the
/// cases borrow them).
fn seeded<N: Network>() -> &'static SliceParams<'static> {
    let values: &'static [Vec<f32>] = Vec::leak(hepaseg::blob::seeded_params(N::PARAMS, 0));
    let tensors: &'static [&'static [f32]] = Vec::leak(values.iter().map(Vec::as_slice).collect());
    Box::leak(Box::new(SliceParams { tensors }))
}

/// The blocks of `model`'s `edge` preset (`None` for a model core does not run); checks that
/// their MACs add up to the network's.
pub fn edge_cases(model: Model) -> Option<Vec<Case>> {
    let (cases, total) = match model {
        Model::AgcafNet => (agcaf_edge(), <agcaf::AgcafEdge as Network>::MACS),
        Model::CafctNet => (cafct_edge(), <cafct::edge::Net as Network>::MACS),
        _ => return None,
    };
    let sum: u64 = cases.iter().map(|c| c.macs).sum();
    assert_eq!(
        sum,
        total,
        "{} edge: the block rows' MACs ({sum}) must add up to the network's ({total})",
        model.name()
    );
    Some(cases)
}

/// A BasicBlock case (`CI × H × W` → `CO × HO × WO`, stride `S`).
fn basic_block<
    const CI: usize,
    const CO: usize,
    const S: usize,
    const H: usize,
    const W: usize,
    const HO: usize,
    const WO: usize,
    const DOWN: bool,
>(
    block: &'static str,
    name: &str,
    p: hepaseg_core::blocks::basic_block::BasicBlockParams<'static, CI, CO, DOWN>,
    seed: u64,
) -> Case {
    let x = map::<CI, H, W>(seed, 0.0);
    let mut y = map::<CO, HO, WO>(0, 0.0);
    let mut t = scratch(BasicBlock::<CI, CO, S, H, W>::SCRATCH_BYTES);
    case(
        block,
        name,
        BasicBlock::<CI, CO, S, H, W>::MACS,
        move || {
            timed(|| {
                BasicBlock::<CI, CO, S, H, W>::forward(
                    &p,
                    black_box(&x),
                    &mut y,
                    Scratch::from_f32(&mut t),
                )
                .expect("BasicBlock")
            })
        },
    )
}

/// An AFM case (`CH` high-level channels fused into `CL` low-level ones at `H × H`).
fn afm<const CH: usize, const CL: usize, const CL4: usize, const H: usize>(
    name: &'static str,
    p: hepaseg_core::blocks::afm::AfmParams<'static, CH, CL, CL4>,
    seed: u64,
) -> Case {
    let (xh, xl) = (map::<CH, H, H>(seed, 0.0), map::<CL, H, H>(seed + 1, 0.0));
    let mut y = map::<CL, H, H>(0, 0.0);
    let mut t = scratch(Afm::<CH, CL, CL4, H, H>::SCRATCH_BYTES);
    case(name, name, Afm::<CH, CL, CL4, H, H>::MACS, move || {
        timed(|| {
            Afm::<CH, CL, CL4, H, H>::forward(
                &p,
                black_box(&xh),
                &xl,
                &mut y,
                Scratch::from_f32(&mut t),
            )
            .expect("AFM")
        })
    })
}

fn agcaf_edge() -> Vec<Case> {
    use agcaf::edge::Params;
    const B: usize = 16;
    let p = Params::read(&mut Cursor::new(seeded::<agcaf::AgcafEdge>()))
        .expect("AGCAF-Net edge params");
    let bb = p.backbone;
    let cpm = p.cpm.expect("edge has the CPM");
    let (f23, f12) = (p.fuse23.expect("AFM"), p.fuse12.expect("AFM"));
    let mut v = Vec::new();
    {
        let x = map::<1, 256, 256>(1, 0.0);
        let mut y = map::<B, 256, 256>(0, 0.0);
        v.push(case(
            "backbone.stem",
            "backbone.stem",
            conv_macs(1, B, 7, 256, 256),
            move || timed(|| ConvBn::<1, 3>::run(&bb.stem, black_box(&x), &mut y, Act::Relu)),
        ));
    }
    v.push(basic_block::<B, B, 1, 256, 256, 256, 256, false>(
        "backbone.layer1",
        "backbone.layer1.0",
        bb.layer1_0,
        2,
    ));
    v.push(basic_block::<B, B, 1, 256, 256, 256, 256, false>(
        "backbone.layer1",
        "backbone.layer1.1",
        bb.layer1_1,
        3,
    ));
    v.push(basic_block::<B, 32, 2, 256, 256, 128, 128, true>(
        "backbone.layer2",
        "backbone.layer2.0",
        bb.layer2_0,
        4,
    ));
    v.push(basic_block::<32, 32, 1, 128, 128, 128, 128, false>(
        "backbone.layer2",
        "backbone.layer2.1",
        bb.layer2_1,
        5,
    ));
    v.push(basic_block::<32, 64, 2, 128, 128, 64, 64, true>(
        "backbone.layer3",
        "backbone.layer3.0",
        bb.layer3_0,
        6,
    ));
    v.push(basic_block::<64, 64, 1, 64, 64, 64, 64, false>(
        "backbone.layer3",
        "backbone.layer3.1",
        bb.layer3_1,
        7,
    ));
    v.push(basic_block::<64, 128, 2, 64, 64, 32, 32, true>(
        "backbone.layer4",
        "backbone.layer4.0",
        bb.layer4_0,
        8,
    ));
    v.push(basic_block::<128, 128, 1, 32, 32, 32, 32, false>(
        "backbone.layer4",
        "backbone.layer4.1",
        bb.layer4_1,
        9,
    ));
    // CPM: inter = 128 / 4 = 32, q/k = 8, GNFM bottleneck 8, scales 10, 6, 5, 3 on 32 × 32.
    {
        let x = map::<128, 32, 32>(10, 0.0);
        let mut y = map::<32, 32, 32>(0, 0.0);
        v.push(case(
            "cpm",
            "cpm.reduce",
            conv_macs(128, 32, 1, 32, 32),
            move || {
                timed(|| ConvBn::<1, 0>::run_bias(&cpm.reduce, black_box(&x), &mut y, Act::Relu))
            },
        ));
    }
    macro_rules! agcb {
        ($k:literal, $s:literal, $p:expr) => {{
            let p = $p;
            let x = map::<32, 32, 32>(11 + $k, 0.0);
            let mut y = map::<32, 32, 32>(0, 0.0);
            let mut t = scratch(Agcb::<32, 8, 8, $s, 32, 32>::SCRATCH_BYTES);
            v.push(case(
                "cpm",
                concat!("cpm.agcb.", $k, " (scale ", $s, ")"),
                Agcb::<32, 8, 8, $s, 32, 32>::MACS,
                move || {
                    timed(|| {
                        Agcb::<32, 8, 8, $s, 32, 32>::forward(
                            &p,
                            black_box(&x),
                            &mut y,
                            Scratch::from_f32(&mut t),
                        )
                        .expect("AGCB")
                    })
                },
            ));
        }};
    }
    agcb!(0, 10, cpm.agcb0);
    agcb!(1, 6, cpm.agcb1);
    agcb!(2, 5, cpm.agcb2);
    agcb!(3, 3, cpm.agcb3);
    {
        let x = map::<160, 32, 32>(15, 0.0);
        let mut y = map::<128, 32, 32>(0, 0.0);
        v.push(case(
            "cpm",
            "cpm.fuse",
            conv_macs(160, 128, 1, 32, 32),
            move || timed(|| ConvBn::<1, 0>::run_bias(&cpm.fuse, black_box(&x), &mut y, Act::Relu)),
        ));
    }
    {
        let x = map::<128, 32, 32>(16, 0.0);
        let mut y = map::<128, 64, 64>(0, 0.0);
        v.push(case(
            "upsample",
            "resize 128×32² → 64²",
            0,
            move || timed(|| ops::resize_bilinear(black_box(&*x), &mut y, AlignCorners::True)),
        ));
    }
    v.push(afm::<128, 64, 16, 64>("fuse23", f23, 17));
    {
        let x = map::<64, 64, 64>(19, 0.0);
        let mut y = map::<64, 128, 128>(0, 0.0);
        v.push(case(
            "upsample",
            "resize 64×64² → 128²",
            0,
            move || timed(|| ops::resize_bilinear(black_box(&*x), &mut y, AlignCorners::True)),
        ));
    }
    v.push(afm::<64, 32, 8, 128>("fuse12", f12, 20));
    {
        let head = p.head;
        let x = map::<32, 128, 128>(22, 0.0);
        let mut y = map::<1, 128, 128>(0, 0.0);
        let mut t = scratch(FcnHead::<32, 8, 128, 128>::SCRATCH_BYTES);
        v.push(case(
            "head",
            "head",
            FcnHead::<32, 8, 128, 128>::MACS,
            move || {
                timed(|| {
                    FcnHead::<32, 8, 128, 128>::forward(
                        &head,
                        black_box(&x),
                        &mut y,
                        Scratch::from_f32(&mut t),
                    )
                    .expect("head")
                })
            },
        ));
    }
    {
        let x = map::<1, 128, 128>(23, -0.5);
        let mut y = map::<1, 256, 256>(0, 0.0);
        v.push(case(
            "upsample",
            "resize 1×128² → 256²",
            0,
            move || timed(|| ops::resize_bilinear(black_box(&*x), &mut y, AlignCorners::True)),
        ));
    }
    v
}

fn cafct_edge() -> Vec<Case> {
    use cafct::edge::Params;
    let p = Params::read(&mut Cursor::new(seeded::<cafct::edge::Net>()))
        .expect("CAFCT-Net edge params");
    let cnn = p.cnn;
    let tr = p.trans.expect("edge has the transformer branch");
    let mut v = Vec::new();
    // CNN branch: channels 16, 32, 64, 64 at 128², 64², 32², 16².
    {
        type Stem = CnnStem<1, 16, 256, 256, 128, 128>;
        let x = map::<1, 256, 256>(1, 0.0);
        let mut y = map::<16, 128, 128>(0, 0.0);
        v.push(case("cnn.stem", "cnn.stem", Stem::STEM_MACS, move || {
            timed(|| ConvBn::<2, 1>::run(&cnn.stem, black_box(&x), &mut y, Act::Relu))
        }));
    }
    v.push(basic_block::<16, 16, 1, 128, 128, 128, 128, false>(
        "cnn.level1",
        "cnn.level1",
        cnn.level1,
        2,
    ));
    macro_rules! level {
        ($name:literal, $ci:literal, $co:literal, $h:literal, $ho:literal, $b0:expr, $b1:expr, $seed:literal) => {{
            let (b0, b1) = ($b0, $b1);
            let x = map::<$ci, $h, $h>($seed, 0.0);
            let mut y = map::<$co, $ho, $ho>(0, 0.0);
            let mut t = scratch(CnnLevel::<$ci, $co, $h, $h, $ho, $ho>::SCRATCH_BYTES);
            v.push(case(
                $name,
                $name,
                CnnLevel::<$ci, $co, $h, $h, $ho, $ho>::MACS,
                move || {
                    timed(|| {
                        CnnLevel::<$ci, $co, $h, $h, $ho, $ho>::forward(
                            &b0,
                            &b1,
                            black_box(&x),
                            &mut y,
                            Scratch::from_f32(&mut t),
                        )
                        .expect("CNN level")
                    })
                },
            ));
        }};
    }
    level!("cnn.level2", 16, 32, 128, 64, cnn.level2_0, cnn.level2_1, 3);
    level!("cnn.level3", 32, 64, 64, 32, cnn.level3_0, cnn.level3_1, 4);
    level!("cnn.level4", 64, 64, 32, 16, cnn.level4_0, cnn.level4_1, 5);
    // Transformer stages: embed Conv(K, stride 2, pad P)+LN; per block SRA (heads, reduction
    // SR, keys on HK × HK = NK tokens) and Mix-FFN (hidden 4C).
    macro_rules! stage {
        ($block:literal, $sp:expr, $ci:literal, $c:literal, $c2:literal, $ch:literal, $heads:literal,
         $k:literal, $pad:literal, $sr:literal, $red:literal, $h:literal, $ho:literal, $hk:literal, $seed:literal) => {{
            let sp = $sp;
            const N: usize = $ho * $ho;
            const NK: usize = $hk * $hk;
            type Embed = PatchEmbed<$ci, $c, $k, 2, $pad, $h, $h, $ho, $ho>;
            type Attn = Sra<$c, $heads, $sr, $ho, $ho, $hk, $hk, NK>;
            type Ffn = MixFfn<$c, $ch, $ho, $ho>;
            {
                let x = map::<$ci, $h, $h>($seed, 0.0);
                let mut y = tokens::<N, $c>(0);
                let mut t = scratch(Embed::SCRATCH_BYTES);
                v.push(case(
                    $block,
                    concat!($block, ".embed"),
                    Embed::MACS,
                    move || {
                        timed(|| {
                            Embed::forward::<N>(
                                &sp.embed,
                                black_box(&x),
                                &mut y,
                                Scratch::from_f32(&mut t),
                            )
                            .expect("patch embed")
                        })
                    },
                ));
            }
            let blocks = [Some(sp.block0), sp.block1];
            for (i, bp) in blocks.into_iter().flatten().enumerate() {
                let x = tokens::<N, $c>($seed + 1 + i as u64);
                let mut y = tokens::<N, $c>(0);
                let mut t = scratch(Attn::SCRATCH_BYTES);
                v.push(case(
                    $block,
                    format!("{}.block{i}.attn (SRA)", $block),
                    Attn::MACS,
                    move || {
                        timed(|| {
                            Attn::forward::<$c2, N, $red>(
                                &bp.attn,
                                black_box(&x),
                                &mut y,
                                Scratch::from_f32(&mut t),
                            )
                            .expect("SRA")
                        })
                    },
                ));
                let x = tokens::<N, $c>($seed + 11 + i as u64);
                let mut y = tokens::<N, $c>(0);
                let mut t = scratch(Ffn::SCRATCH_BYTES);
                v.push(case(
                    $block,
                    format!("{}.block{i}.ffn (Mix-FFN)", $block),
                    Ffn::MACS,
                    move || {
                        timed(|| {
                            Ffn::forward::<N>(
                                &bp.ffn,
                                black_box(&x),
                                &mut y,
                                Scratch::from_f32(&mut t),
                            )
                            .expect("Mix-FFN")
                        })
                    },
                ));
            }
        }};
    }
    stage!(
        "trans.stage1",
        tr.stage1,
        1,
        16,
        32,
        64,
        1,
        7,
        3,
        8,
        true,
        256,
        128,
        16,
        20
    );
    stage!(
        "trans.stage2",
        tr.stage2,
        16,
        32,
        64,
        128,
        2,
        3,
        1,
        4,
        true,
        128,
        64,
        16,
        40
    );
    stage!(
        "trans.stage3",
        tr.stage3,
        32,
        64,
        128,
        256,
        4,
        3,
        1,
        2,
        true,
        64,
        32,
        16,
        60
    );
    stage!(
        "trans.stage4",
        tr.stage4,
        64,
        64,
        128,
        256,
        4,
        3,
        1,
        1,
        false,
        32,
        16,
        16,
        80
    );
    // AFF at each level: Z = 2C, squeeze 2C/4. It scales its input in place, so each run
    // starts from a fresh copy (untimed).
    macro_rules! aff {
        ($name:literal, $pp:expr, $c:literal, $z:literal, $q:literal, $h:literal, $seed:literal) => {{
            let pp = $pp;
            let z0 = map::<$z, $h, $h>($seed, 0.0);
            let mut z = map::<$z, $h, $h>(0, 0.0);
            let mut y = map::<$c, $h, $h>(0, 0.0);
            let mut t = scratch(Aff::<$c, $z, $q, $h, $h, true>::SCRATCH_BYTES);
            v.push(case(
                $name,
                $name,
                Aff::<$c, $z, $q, $h, $h, true>::MACS,
                move || {
                    z.copy_from_slice(&*z0);
                    timed(|| {
                        Aff::<$c, $z, $q, $h, $h, true>::forward(
                            &pp,
                            black_box(&mut z),
                            &mut y,
                            Scratch::from_f32(&mut t),
                        )
                        .expect("AFF")
                    })
                },
            ));
        }};
    }
    aff!("aff.0", p.aff0, 16, 32, 8, 128, 100);
    aff!("aff.1", p.aff1, 32, 64, 16, 64, 101);
    aff!("aff.2", p.aff2, 64, 128, 32, 32, 102);
    aff!("aff.3", p.aff3, 64, 128, 32, 16, 103);
    {
        type A = Aspp<64, 64, 320, 6, 12, 18, 16, 16>;
        let ap = p.aspp.expect("edge has the ASPP");
        let x = map::<64, 16, 16>(110, 0.0);
        let mut y = map::<64, 16, 16>(0, 0.0);
        let mut t = scratch(A::SCRATCH_BYTES);
        v.push(case("aspp", "aspp", A::MACS, move || {
            timed(|| {
                A::forward(&ap, black_box(&x), &mut y, Scratch::from_f32(&mut t)).expect("ASPP")
            })
        }));
    }
    macro_rules! decoder {
        ($name:literal, $pp:expr, $cs:literal, $csh:literal, $cu:literal, $ccat:literal, $h:literal, $hi:literal, $seed:literal) => {{
            type D = Decoder<$cs, $csh, $cu, $ccat, $cs, $h, $h, true>;
            let pp = $pp;
            let skip = map::<$cs, $h, $h>($seed, 0.0);
            let g = map::<$cu, $hi, $hi>($seed + 1, 0.0);
            let mut y = map::<$cs, $h, $h>(0, 0.0);
            let mut t = scratch(D::SCRATCH_BYTES);
            v.push(case($name, $name, D::MACS, move || {
                timed(|| {
                    D::forward::<$hi, $hi>(
                        &pp,
                        black_box(&skip),
                        &g,
                        &mut y,
                        Scratch::from_f32(&mut t),
                    )
                    .expect("decoder")
                })
            }));
        }};
    }
    decoder!("decoder.0", p.decoder0, 64, 32, 64, 128, 32, 16, 120);
    decoder!("decoder.1", p.decoder1, 32, 16, 64, 96, 64, 32, 122);
    decoder!("decoder.2", p.decoder2, 16, 8, 32, 48, 128, 64, 124);
    {
        let x = map::<16, 128, 128>(130, 0.0);
        let mut y = map::<16, 256, 256>(0, 0.0);
        v.push(case("upsample", "upsample", 0, move || {
            timed(|| ops::resize_bilinear(black_box(&*x), &mut y, AlignCorners::False))
        }));
    }
    {
        type Head = SegHead<16, 256, 256>;
        let head = p.head;
        let x = map::<16, 256, 256>(131, 0.0);
        let mut y = map::<1, 256, 256>(0, 0.0);
        let mut t = scratch(Head::SCRATCH_BYTES);
        v.push(case("head", "head", Head::MACS, move || {
            timed(|| {
                Head::forward(&head, black_box(&x), &mut y, Scratch::from_f32(&mut t))
                    .expect("head")
            })
        }));
    }
    v
}
