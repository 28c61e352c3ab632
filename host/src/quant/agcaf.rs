//! The calibration forward of AGCAF-Net: the `f32` network (BatchNorm folded) walked by
//! parameter name with runtime shapes, reporting every activation point of the int8 graph
//! (`hepaseg_core::nets::agcaf_int8` lists them) to an [`Observer`](super::graph::Observer)
//! and recording the quantizable operations.
//!
//! It follows core's `f32` AGCAF-Net operation by operation; a test checks that its logits
//! match core's reference engine, so the ranges it measures are those of the network that is
//! quantized. Query and key points are observed token-major and scores one query row at a
//! time, in the order the int8 engine reports them to a probe.

use super::graph::{Act, Ctx, Op};
use super::tensor::{self, Fm};

/// The preset figures the calibration forward needs beyond the parameter shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgcafConfig {
    /// Input side.
    pub size: usize,
    /// Input channels (1, or k slices for a 2.5D preset).
    pub in_channels: usize,
    /// AGCB grid scales.
    pub scales: [usize; 4],
    /// Whether the CPM is present.
    pub cpm: bool,
    /// Whether the AFMs are present (else the plain fusion).
    pub afm: bool,
}

/// A non-local block's attention, q/k/v and residual: returns `γ·attn + x` (point `N.out`).
/// With `grid = Some((s, gate))` the attention runs per patch of an `s × s` grid and the
/// result is multiplied by the patch's gate (point `A.context`, given as `context`).
fn nonlocal(
    ctx: &mut Ctx<'_>,
    x: &Act,
    n: &str,
    grid: Option<(usize, &Act, &str)>,
) -> Result<Act, String> {
    let q = ctx.unit(x, &format!("{n}.q"), &format!("{n}.q"), 1, 0, false, true)?;
    let k = ctx.unit(x, &format!("{n}.k"), &format!("{n}.k"), 1, 0, false, true)?;
    let v = ctx.unit(x, &format!("{n}.v"), &format!("{n}.v"), 1, 0, false, false)?;
    let (score, attn_point) = (format!("{n}.score"), format!("{n}.attn"));
    let mut attn = Fm::zeros(v.t.c, v.t.h, v.t.w);
    let s = grid.map_or(1, |(s, _, _)| s);
    for i in 0..s {
        for j in 0..s {
            let (rows, cols) = if grid.is_some() {
                (
                    tensor::patch_range(i, s, x.t.h),
                    tensor::patch_range(j, s, x.t.w),
                )
            } else {
                (0..x.t.h, 0..x.t.w)
            };
            let mut seen = Vec::new();
            tensor::region_attention(&q.t, &k.t, &v.t, rows, cols, &mut attn, |row| {
                seen.push(row.to_vec());
            });
            for row in &seen {
                ctx.observe(&score, row);
            }
        }
    }
    ctx.settle(&attn_point, &mut attn.d);
    ctx.observe(&attn_point, &attn.d);
    ctx.record(Op::Attention {
        q: q.point.clone(),
        k: k.point.clone(),
        v: v.point.clone(),
        score_factor: 1.0,
        score,
        attn: attn_point.clone(),
    });
    let attn = Act {
        t: attn,
        point: attn_point,
    };
    let gamma = ctx.params.gate(&format!("{n}.gamma"))?;
    let out = ctx.add(&attn, gamma, x, 1.0, &format!("{n}.out"), false);
    match grid {
        None => Ok(out),
        Some((s, g, context)) => {
            // Broadcast each patch's gate over its pixels, then one element-wise product.
            let mut gb = Fm::zeros(out.t.c, out.t.h, out.t.w);
            let (h, w) = (out.t.h, out.t.w);
            for c in 0..out.t.c {
                for i in 0..s {
                    for j in 0..s {
                        let gv = g.t.d[(c * s + i) * s + j];
                        for r in tensor::patch_range(i, s, h) {
                            for col in tensor::patch_range(j, s, w) {
                                gb.d[(c * h + r) * w + col] = gv;
                            }
                        }
                    }
                }
            }
            let gb = ctx.resampled(g, gb);
            Ok(ctx.mul(&out, &gb, context))
        }
    }
}

fn gnfm(ctx: &mut Ctx<'_>, x: &Act, g: &str, s: usize) -> Result<Act, String> {
    let pooled = ctx.resampled(x, tensor::adaptive_max_pool(&x.t, s));
    let nl = nonlocal(ctx, &pooled, &format!("{g}.nonlocal"), None)?;
    let m = ctx.unit_bn(&nl, &format!("{g}.conv1"), 1, 0, true)?;
    let e = ctx.unit_bn(&m, &format!("{g}.conv2"), 1, 0, false)?;
    Ok(ctx.sigmoid(&e, &format!("{g}.gate")))
}

fn agcb(ctx: &mut Ctx<'_>, x: &Act, a: &str, s: usize) -> Result<Act, String> {
    let g = gnfm(ctx, x, &format!("{a}.gnfm"), s)?;
    let context = nonlocal(
        ctx,
        x,
        &format!("{a}.nonlocal"),
        Some((s, &g, &format!("{a}.context"))),
    )?;
    let conv = ctx.unit_bn(&context, &format!("{a}.conv"), 1, 1, false)?;
    let gamma = ctx.params.gate(&format!("{a}.gamma"))?;
    Ok(ctx.add(&conv, gamma, x, 1.0, &format!("{a}.out"), true))
}

fn cpm(ctx: &mut Ctx<'_>, x: &Act, scales: [usize; 4]) -> Result<Act, String> {
    let red = ctx.unit_bn(x, "cpm.reduce", 1, 0, true)?;
    let mut branches = Vec::new();
    for (k, &s) in scales.iter().enumerate() {
        branches.push(agcb(ctx, &red, &format!("cpm.agcb.{k}"), s)?);
    }
    let mut all = vec![&red];
    all.extend(branches.iter());
    let cat = ctx.concat(&all, "cpm.cat");
    ctx.unit_bn(&cat, "cpm.fuse", 1, 0, true)
}

fn gate(ctx: &mut Ctx<'_>, x: &Act, p: &str) -> Result<Act, String> {
    let m = ctx.unit_bn(x, &format!("{p}.squeeze"), 1, 0, true)?;
    let e = ctx.unit_bn(&m, &format!("{p}.excite"), 1, 0, false)?;
    Ok(ctx.sigmoid(&e, &format!("{p}.gate")))
}

fn afm(ctx: &mut Ctx<'_>, high: &Act, low: &Act, f: &str) -> Result<Act, String> {
    let xh = ctx.unit_bn(high, &format!("{f}.plus_conv"), 1, 0, true)?;
    let pa = gate(ctx, low, &format!("{f}.pa"))?;
    let pooled = ctx.resampled(&xh, tensor::global_avg_pool(&xh.t));
    let ca = gate(ctx, &pooled, &format!("{f}.ca"))?;
    let sum = ctx.add(&xh, 1.0, low, 1.0, &format!("{f}.sum"), false);
    let feat = ctx.unit_bn(&sum, &format!("{f}.end_conv"), 1, 1, true)?;
    let y = ctx.mul(&feat, &ca, &format!("{f}.ca_mul"));
    Ok(ctx.mul(&y, &pa, &format!("{f}.out")))
}

fn plain_fuse(ctx: &mut Ctx<'_>, high: &Act, low: &Act, f: &str) -> Result<Act, String> {
    let c = ctx.unit_bn(high, f, 1, 0, true)?;
    Ok(ctx.add(&c, 1.0, low, 1.0, &format!("{f}.out"), false))
}

pub(crate) fn basic_block(
    ctx: &mut Ctx<'_>,
    x: &Act,
    p: &str,
    stride: usize,
) -> Result<Act, String> {
    let m = ctx.unit_bn(x, &format!("{p}.conv1"), stride, 1, true)?;
    let y = ctx.unit_bn(&m, &format!("{p}.conv2"), 1, 1, false)?;
    let down = format!("{p}.downsample");
    let shortcut = if ctx.params.has(&format!("{down}.conv.weight")) {
        ctx.unit_bn(x, &down, stride, 0, false)?
    } else {
        x.clone()
    };
    Ok(ctx.add(&y, 1.0, &shortcut, 1.0, &format!("{p}.out"), true))
}

/// Runs AGCAF-Net on one `k × size × size` input (a slice, with its neighbours for a 2.5D
/// preset); returns the logits (`1 × size × size`).
pub fn forward(ctx: &mut Ctx<'_>, cfg: &AgcafConfig, input: &[f32]) -> Result<Fm, String> {
    let (s, k) = (cfg.size, cfg.in_channels);
    if input.len() != k * s * s {
        return Err(format!(
            "input holds {} values, expected {}",
            input.len(),
            k * s * s
        ));
    }
    let x = ctx.input(Fm {
        c: k,
        h: s,
        w: s,
        d: input.to_vec(),
    });
    let mut x = ctx.unit_bn(&x, "backbone.stem", 1, 3, true)?;
    let mut skips = Vec::new();
    for (name, stride) in [
        ("layer1.0", 1),
        ("layer1.1", 1),
        ("layer2.0", 2),
        ("layer2.1", 1),
        ("layer3.0", 2),
        ("layer3.1", 1),
        ("layer4.0", 2),
        ("layer4.1", 1),
    ] {
        x = basic_block(ctx, &x, &format!("backbone.{name}"), stride)?;
        if name.ends_with(".1") && name != "layer1.1" {
            skips.push(x.clone());
        }
    }
    let (c1, c2, c3) = (&skips[0], &skips[1], &skips[2]);
    let cp = if cfg.cpm {
        cpm(ctx, c3, cfg.scales)?
    } else {
        c3.clone()
    };
    let fuse = |ctx: &mut Ctx<'_>, hi: &Act, lo: &Act, f: &str| {
        if cfg.afm {
            afm(ctx, hi, lo, f)
        } else {
            plain_fuse(ctx, hi, lo, f)
        }
    };
    let u1 = ctx.resampled(&cp, tensor::resize_align_corners(&cp.t, c2.t.h, c2.t.w));
    let f1 = fuse(ctx, &u1, c2, "fuse23")?;
    let u2 = ctx.resampled(&f1, tensor::resize_align_corners(&f1.t, c1.t.h, c1.t.w));
    let f2 = fuse(ctx, &u2, c1, "fuse12")?;
    let h = ctx.unit_bn(&f2, "head.conv", 1, 1, true)?;
    let lg = ctx.unit(&h, "head.out", "head.out", 1, 0, false, false)?;
    Ok(tensor::resize_align_corners(&lg.t, s, s))
}
