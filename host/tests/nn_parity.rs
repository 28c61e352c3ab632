//! Forward parity of each host layer (f32, eval mode) with core's f32 reference op on the same
//! weights, per sample of a batch of two: `max |host − core| / max(1, max |core|) ≤ 1e-5`.
//! Also pins the parameter names/order of the composite layers to core's tables.

mod nn_support;

use dfdx::prelude::*;
use hepaseg::nn::im2col::{unfold_cpu, unfold_gather, ConvGeometry};
use hepaseg::nn::layout::map_to_tokens;
use hepaseg::nn::{
    adaptive_avg_pool, adaptive_max_pool, global_avg_pool, resize_bilinear, AlignCorners,
    BatchNorm2d, Conv2d, ConvConfig, LayerNorm, Linear, Mode, NonLocal, ParamStore, Sra, SraConfig,
};
use hepaseg_core::blocks::nonlocal::{NonLocal as CoreNonLocal, NonLocalParams};
use hepaseg_core::blocks::sra::{Sra as CoreSra, SraParams};
use hepaseg_core::ops;
use hepaseg_core::params::{Cursor, Name, ParamSpec, ReadParams, SliceParams, TableWriter};
use hepaseg_core::tensor::{
    conv_weight_ref, map_mut, map_ref, mat_mut, mat_ref, vec_ref, Map, Tokens,
};
use hepaseg_core::Scratch;
use nn_support::{data, rel_diff, tensor, tensor32};

const TOL: f64 = 1e-5;

fn store() -> ParamStore<f32, Cpu> {
    let mut s = ParamStore::new(Cpu::seed_from_u64(0), 11);
    s.set_mode(Mode::Eval);
    s
}

fn report(label: &str, err: f64) {
    println!("parity {label:44} rel err {err:.2e}");
    assert!(err <= TOL, "{label}: {err:e}");
}

/// Runs a host conv on two samples and core's `Conv2d<S, P, D, G>` on each.
fn conv_case<
    const S: usize,
    const P: usize,
    const D: usize,
    const G: usize,
    const CI: usize,
    const H: usize,
    const W: usize,
    const CO: usize,
    const CIG: usize,
    const K: usize,
    const HO: usize,
    const WO: usize,
>(
    label: &str,
    bias: bool,
) {
    let mut s = store();
    let cfg = ConvConfig::new(CI, CO, K)
        .stride(S)
        .padding(P)
        .dilation(D)
        .groups(G)
        .bias(bias);
    let conv = Conv2d::new(&mut s, "c", cfg).unwrap();
    let x = tensor32(s.device(), (2, CI, H, W), 21);
    let y = conv.forward(&s, x.clone()).unwrap();
    assert_eq!(*y.shape(), (2, CO, HO, WO));
    let (y, xv) = (y.as_vec(), x.as_vec());
    let wv = s.values_f32(conv.weight()).unwrap();
    let bv = conv.bias().map(|b| s.values_f32(b).unwrap());
    let w = conv_weight_ref::<f32, CO, CIG, K>(&wv).unwrap();
    let b: Option<&[f32; CO]> = bv.as_deref().map(|v| vec_ref(v).unwrap());
    let mut worst = 0.0f64;
    for n in 0..2 {
        let xs: &Map<CI, H, W> = map_ref(&xv[n * CI * H * W..]).unwrap();
        let mut yc = vec![0.0f32; CO * HO * WO];
        ops::Conv2d::<S, P, D, G>::forward(xs, w, b, map_mut::<f32, CO, HO, WO>(&mut yc).unwrap());
        worst = worst.max(rel_diff(&y[n * CO * HO * WO..(n + 1) * CO * HO * WO], &yc));
    }
    report(label, worst);
}

#[test]
fn convolutions_match_core() {
    conv_case::<2, 1, 1, 1, 4, 9, 9, 6, 4, 3, 5, 5>("conv 3x3 s2 p1 +bias", true);
    conv_case::<1, 2, 2, 2, 4, 8, 7, 6, 2, 3, 8, 7>("conv 3x3 d2 p2 g2", false);
    conv_case::<1, 0, 1, 1, 3, 5, 6, 5, 3, 1, 5, 6>("conv 1x1 pointwise", true);
    conv_case::<2, 0, 1, 1, 3, 6, 5, 4, 3, 1, 3, 3>("conv 1x1 s2", false);
    conv_case::<1, 3, 1, 1, 1, 12, 10, 4, 1, 7, 12, 10>("conv 7x7 p3 stem", false);
    conv_case::<1, 6, 6, 1, 3, 8, 8, 3, 3, 3, 8, 8>("conv 3x3 d6 p6 (ASPP)", false);
    conv_case::<2, 0, 1, 1, 4, 8, 6, 4, 4, 2, 4, 3>("conv 2x2 s2 (SRA reduce)", true);
    conv_case::<1, 1, 1, 6, 6, 7, 5, 6, 1, 3, 7, 5>("conv depthwise 3x3 p1", true);
}

#[test]
fn depthwise_matches_core_depthwise_op() {
    let mut s = store();
    let conv = Conv2d::new(&mut s, "dw", ConvConfig::new(5, 5, 3).padding(1).groups(5)).unwrap();
    let x = tensor32(s.device(), (2, 5, 6, 4), 22);
    let y = conv.forward(&s, x.clone()).unwrap().as_vec();
    let (xv, wv, bv) = (
        x.as_vec(),
        s.values_f32(conv.weight()).unwrap(),
        s.values_f32(conv.bias().unwrap()).unwrap(),
    );
    let mut worst = 0.0f64;
    for n in 0..2 {
        let mut yc = vec![0.0f32; 5 * 6 * 4];
        ops::DepthwiseConv2d::<1, 1>::forward(
            map_ref::<f32, 5, 6, 4>(&xv[n * 120..]).unwrap(),
            conv_weight_ref::<f32, 5, 1, 3>(&wv).unwrap(),
            Some(vec_ref(&bv).unwrap()),
            map_mut::<f32, 5, 6, 4>(&mut yc).unwrap(),
        );
        worst = worst.max(rel_diff(&y[n * 120..(n + 1) * 120], &yc));
    }
    report("DepthwiseConv2d 3x3 p1", worst);
}

#[test]
fn norms_and_linear_match_core() {
    // batch norm, eval form
    let mut s = store();
    let bn = BatchNorm2d::new(&mut s, "bn", 3).unwrap();
    let [g, b, m, v] = bn.ids();
    for (id, vals) in [
        (g, [0.5f32, 1.5, -1.0]),
        (b, [0.1, -0.2, 0.3]),
        (m, [0.2, -0.1, 0.05]),
        (v, [0.5, 2.0, 1.2]),
    ] {
        s.set_values_f32(id, &vals).unwrap();
    }
    let x = tensor32(s.device(), (2, 3, 4, 5), 23);
    let y = bn.forward(&mut s, x.clone()).unwrap().as_vec();
    let xv = x.as_vec();
    let (gv, bv, mv, vv) = (
        [0.5f32, 1.5, -1.0],
        [0.1f32, -0.2, 0.3],
        [0.2f32, -0.1, 0.05],
        [0.5f32, 2.0, 1.2],
    );
    let norm = ops::BatchNorm {
        gamma: &gv,
        beta: &bv,
        mean: &mv,
        var: &vv,
        eps: ops::BN_EPS,
    };
    let mut worst = 0.0f64;
    for n in 0..2 {
        let mut yc = xv[n * 60..(n + 1) * 60].to_vec();
        ops::batch_norm(map_mut::<f32, 3, 4, 5>(&mut yc).unwrap(), &norm);
        worst = worst.max(rel_diff(&y[n * 60..(n + 1) * 60], &yc));
    }
    report("batch norm (eval)", worst);

    // layer norm
    let mut s = store();
    let ln = LayerNorm::new(&mut s, "ln", 6).unwrap();
    let gv: Vec<f32> = data(6, 1).iter().map(|v| 1.0 + *v as f32).collect();
    let bv: Vec<f32> = data(6, 2).iter().map(|v| *v as f32).collect();
    s.set_values_f32(ln.ids()[0], &gv).unwrap();
    s.set_values_f32(ln.ids()[1], &bv).unwrap();
    let x = tensor32(s.device(), (2, 5, 6), 24);
    let y = ln.forward(&s, x.clone()).unwrap().as_vec();
    let xv = x.as_vec();
    let mut worst = 0.0f64;
    for n in 0..2 {
        let mut yc = xv[n * 30..(n + 1) * 30].to_vec();
        ops::layer_norm(
            mat_mut::<f32, 5, 6>(&mut yc).unwrap(),
            vec_ref(&gv).unwrap(),
            vec_ref(&bv).unwrap(),
            ops::LN_EPS,
        );
        worst = worst.max(rel_diff(&y[n * 30..(n + 1) * 30], &yc));
    }
    report("layer norm", worst);

    // linear
    let mut s = store();
    let lin = Linear::new(&mut s, "fc", 6, 4).unwrap();
    let x = tensor32(s.device(), (2, 5, 6), 25);
    let y = lin.forward(&s, x.clone()).unwrap().as_vec();
    let (xv, wv, bv) = (
        x.as_vec(),
        s.values_f32(lin.ids()[0]).unwrap(),
        s.values_f32(lin.ids()[1]).unwrap(),
    );
    let mut worst = 0.0f64;
    for n in 0..2 {
        let mut yc = vec![0.0f32; 20];
        ops::linear(
            mat_ref::<f32, 5, 6>(&xv[n * 30..]).unwrap(),
            mat_ref::<f32, 4, 6>(&wv).unwrap(),
            Some(vec_ref(&bv).unwrap()),
            mat_mut::<f32, 5, 4>(&mut yc).unwrap(),
        );
        worst = worst.max(rel_diff(&y[n * 20..(n + 1) * 20], &yc));
    }
    report("linear", worst);
}

fn resize_case<const H: usize, const W: usize, const HO: usize, const WO: usize>(
    mode: AlignCorners,
) {
    let s = store();
    let x = tensor32(s.device(), (2, 3, H, W), 26);
    let y = resize_bilinear(&s, x.clone(), (HO, WO), mode)
        .unwrap()
        .as_vec();
    let xv = x.as_vec();
    let (a, b) = (3 * H * W, 3 * HO * WO);
    let mut worst = 0.0f64;
    for n in 0..2 {
        let mut yc = vec![0.0f32; b];
        ops::resize_bilinear(
            map_ref::<f32, 3, H, W>(&xv[n * a..]).unwrap(),
            map_mut::<f32, 3, HO, WO>(&mut yc).unwrap(),
            mode,
        );
        worst = worst.max(rel_diff(&y[n * b..(n + 1) * b], &yc));
    }
    report(&format!("bilinear {mode:?} {H}x{W}→{HO}x{WO}"), worst);
}

#[test]
fn bilinear_matches_core() {
    for mode in [AlignCorners::True, AlignCorners::False] {
        resize_case::<4, 5, 8, 10>(mode);
        resize_case::<5, 7, 9, 4>(mode);
        resize_case::<8, 8, 3, 3>(mode);
        resize_case::<6, 6, 6, 6>(mode);
        resize_case::<3, 4, 1, 1>(mode);
    }
}

#[test]
fn pooling_matches_core() {
    let s = store();
    let x = tensor32(s.device(), (2, 3, 7, 5), 27);
    let xv = x.as_vec();
    let avg = adaptive_avg_pool(&s, x.clone(), (3, 2)).unwrap().as_vec();
    let max = adaptive_max_pool(&s, x.clone(), (3, 4)).unwrap().as_vec();
    let gap = global_avg_pool(x).unwrap().as_vec();
    let (mut wa, mut wm, mut wg) = (0.0f64, 0.0f64, 0.0f64);
    for n in 0..2 {
        let xs = map_ref::<f32, 3, 7, 5>(&xv[n * 105..]).unwrap();
        let mut ya = vec![0.0f32; 18];
        ops::adaptive_avg_pool(xs, map_mut::<f32, 3, 3, 2>(&mut ya).unwrap());
        wa = wa.max(rel_diff(&avg[n * 18..(n + 1) * 18], &ya));
        let mut ym = vec![0.0f32; 36];
        ops::adaptive_max_pool(xs, map_mut::<f32, 3, 3, 4>(&mut ym).unwrap());
        wm = wm.max(rel_diff(&max[n * 36..(n + 1) * 36], &ym));
        let mut yg = [0.0f32; 3];
        ops::global_avg_pool(xs, &mut yg);
        wg = wg.max(rel_diff(&gap[n * 3..(n + 1) * 3], &yg));
    }
    report("adaptive avg pool 7x5→3x2", wa);
    report("adaptive max pool 7x5→3x4", wm);
    report("global avg pool", wg);
}

#[test]
fn non_local_matches_core_block() {
    type P<'a> = NonLocalParams<'a, 4, 2>;
    let table = hepaseg_core::param_table!(P<'static>, P::<'static>::COUNT);
    let mut s = store();
    let nl = NonLocal::new(&mut s, "", 4, 2).unwrap();
    s.check_table(&table).unwrap();
    s.set_values_f32(nl.gamma(), &[0.6]).unwrap();
    let x = tensor32(s.device(), (2, 4, 3, 5), 28);
    let y = nl.forward(&s, x.clone()).unwrap().as_vec();
    let tensors = s.export_f32(&table).unwrap();
    let slices: Vec<&[f32]> = tensors.iter().map(Vec::as_slice).collect();
    let src = SliceParams { tensors: &slices };
    let p = P::read(&mut Cursor::new(&src)).unwrap();
    let xv = x.as_vec();
    let mut worst = 0.0f64;
    for n in 0..2 {
        let mut yc = vec![0.0f32; 60];
        let mut scratch = vec![0.0f32; CoreNonLocal::<4, 2, 3, 5>::SCRATCH_BYTES / 4];
        CoreNonLocal::<4, 2, 3, 5>::forward(
            &p,
            map_ref::<f32, 4, 3, 5>(&xv[n * 60..]).unwrap(),
            map_mut::<f32, 4, 3, 5>(&mut yc).unwrap(),
            Scratch::from_f32(&mut scratch),
        )
        .unwrap();
        worst = worst.max(rel_diff(&y[n * 60..(n + 1) * 60], &yc));
    }
    report("non-local block (gamma 0.6)", worst);
}

fn sra_case<
    const SR: usize,
    const REDUCE: bool,
    const HK: usize,
    const WK: usize,
    const NK: usize,
>() {
    // C = 4, heads 2, 4×6 map (N = 24)
    type Tok = Tokens<24, 4>;
    let mut rows = [ParamSpec::EMPTY; 10];
    let mut w = TableWriter::new(&mut rows);
    SraParams::<'static, 4, 8, SR, REDUCE>::describe(Name::ROOT, &mut w);
    let written = w.written();
    let table = &rows[..written];
    let mut s = store();
    let sra = Sra::new(
        &mut s,
        "",
        SraConfig {
            dim: 4,
            heads: 2,
            sr: SR,
        },
    )
    .unwrap();
    s.check_table(table).unwrap();
    let x = tensor32(s.device(), (2, 24, 4), 29);
    let y = sra.forward(&s, x.clone(), 4, 6).unwrap().as_vec();
    let tensors = s.export_f32(table).unwrap();
    let slices: Vec<&[f32]> = tensors.iter().map(Vec::as_slice).collect();
    let src = SliceParams { tensors: &slices };
    let p = SraParams::<4, 8, SR, REDUCE>::read(&mut Cursor::new(&src)).unwrap();
    let xv = x.as_vec();
    let mut worst = 0.0f64;
    for n in 0..2 {
        let xs: &Tok = mat_ref(&xv[n * 96..]).unwrap();
        let mut yc = vec![0.0f32; 96];
        let mut scratch = vec![0.0f32; CoreSra::<4, 2, SR, 4, 6, HK, WK, NK>::SCRATCH_BYTES / 4];
        CoreSra::<4, 2, SR, 4, 6, HK, WK, NK>::forward(
            &p,
            xs,
            mat_mut::<f32, 24, 4>(&mut yc).unwrap(),
            Scratch::from_f32(&mut scratch),
        )
        .unwrap();
        worst = worst.max(rel_diff(&y[n * 96..(n + 1) * 96], &yc));
    }
    report(&format!("SRA heads 2, sr {SR}"), worst);
}

#[test]
fn sra_matches_core_block() {
    sra_case::<2, true, 2, 3, 6>();
    sra_case::<1, false, 4, 6, 24>();
}

#[test]
fn tokens_match_core_layout() {
    let s = store();
    let x = tensor32(s.device(), (1, 3, 2, 4), 30);
    let t = map_to_tokens(x.clone()).unwrap().as_vec();
    let xv = x.as_vec();
    let mut tc = vec![0.0f32; 24];
    ops::map_to_tokens(
        map_ref::<f32, 3, 2, 4>(&xv).unwrap(),
        mat_mut::<f32, 8, 3>(&mut tc).unwrap(),
    );
    assert_eq!(t, tc);
}

/// The CPU kernel and the all-dfdx gather (what CUDA runs) are the same op, forward and
/// backward.
#[test]
fn unfold_kernels_agree() {
    let dev = Cpu::seed_from_u64(0);
    let s = ParamStore::<f64, Cpu>::new(dev.clone(), 0);
    for g in [
        ConvGeometry {
            channels: 3,
            height: 7,
            width: 6,
            kernel: 3,
            stride: 2,
            padding: 1,
            dilation: 1,
        },
        ConvGeometry {
            channels: 2,
            height: 8,
            width: 8,
            kernel: 3,
            stride: 1,
            padding: 6,
            dilation: 6,
        },
        ConvGeometry {
            channels: 1,
            height: 5,
            width: 9,
            kernel: 7,
            stride: 1,
            padding: 3,
            dilation: 1,
        },
        ConvGeometry {
            channels: 4,
            height: 6,
            width: 4,
            kernel: 2,
            stride: 2,
            padding: 0,
            dilation: 1,
        },
        ConvGeometry {
            channels: 2,
            height: 5,
            width: 5,
            kernel: 3,
            stride: 3,
            padding: 2,
            dilation: 2,
        },
    ] {
        let x = tensor(&dev, (3, g.channels, g.height, g.width), 31);
        let a = unfold_cpu(x.leaky_trace(), &g).unwrap();
        let b = unfold_gather(&s, x.leaky_trace(), &g).unwrap();
        assert_eq!(a.shape(), b.shape());
        assert_eq!(a.as_vec(), b.as_vec(), "{g:?} forward");
        let up = tensor(&dev, *a.shape(), 32);
        let ga = (a * up.clone()).sum::<(), _>().backward().get(&x).as_vec();
        let gb = (b * up).sum::<(), _>().backward().get(&x).as_vec();
        let d = ga
            .iter()
            .zip(&gb)
            .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
        assert!(d < 1e-12, "{g:?} backward differs by {d}");
    }
}
