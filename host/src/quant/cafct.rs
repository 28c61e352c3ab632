//! The calibration forward of CAFCT-Net: the `f32` network (BatchNorm folded) walked by
//! parameter name with runtime shapes, reporting every activation point of the int8 graph
//! (`hepaseg_core::nets::cafct_int8` lists them) and recording the quantizable operations.
//!
//! Tokens are [`Fm`]s with `c = N` tokens and `w = D` features (row-major `[token][feature]`,
//! the int8 engine's layout), so token points are observed token-major; scores are observed one
//! (token, head) at a time, in the order the int8 engine reports them to a probe.

use super::agcaf::basic_block;
use super::graph::{Act, Ctx, Op};
use super::tensor::{self, Fm};

/// The preset figures (the trainable model's: one definition, read from core's presets).
pub use crate::models::CafctConfig;

fn tokens(x: &Act) -> Act {
    Ctx::same_point(x, tensor::map_to_tokens(&x.t))
}

fn map(x: &Act, h: usize, w: usize) -> Act {
    Ctx::same_point(x, tensor::tokens_to_map(&x.t, h, w))
}

fn cnn_stem(ctx: &mut Ctx<'_>, x: &Act, p: &str) -> Result<Act, String> {
    let s = ctx.unit_bn(x, &format!("{p}.stem"), 2, 1, true)?;
    basic_block(ctx, &s, &format!("{p}.level1.0"), 1)
}

fn cnn_level(ctx: &mut Ctx<'_>, x: &Act, p: &str, l: usize) -> Result<Act, String> {
    let y = basic_block(ctx, x, &format!("{p}.level{l}.0"), 2)?;
    basic_block(ctx, &y, &format!("{p}.level{l}.1"), 1)
}

/// Spatial-reduction attention `a` on tokens of an `h × w` map.
fn sra(
    ctx: &mut Ctx<'_>,
    x: &Act,
    a: &str,
    heads: usize,
    sr: usize,
    (h, w): (usize, usize),
) -> Result<Act, String> {
    let q = ctx.linear(x, &format!("{a}.q"))?;
    let src = if sr > 1 {
        let m = map(x, h, w);
        let r = ctx.unit(
            &m,
            &format!("{a}.sr"),
            &format!("{a}.sr"),
            sr,
            0,
            false,
            false,
        )?;
        ctx.layer_norm(&tokens(&r), &format!("{a}.norm"))?
    } else {
        x.clone()
    };
    let kv = ctx.linear(&src, &format!("{a}.kv"))?;
    let (n, c, nk) = (q.t.c, q.t.w, kv.t.c);
    let d = c / heads;
    let scale = 1.0 / (d as f64).sqrt();
    let score = format!("{a}.score");
    let mut out = Fm::zeros(n, 1, c);
    let mut s = vec![0f64; nk];
    let mut s32 = vec![0f32; nk];
    for i in 0..n {
        for hd in 0..heads {
            let qh = &q.t.d[i * c + hd * d..i * c + (hd + 1) * d];
            for (m, e) in s.iter_mut().enumerate() {
                let kh = &kv.t.d[m * 2 * c + hd * d..m * 2 * c + (hd + 1) * d];
                *e = qh
                    .iter()
                    .zip(kh)
                    .map(|(a, b)| f64::from(*a) * f64::from(*b))
                    .sum::<f64>()
                    * scale;
            }
            for (a, b) in s32.iter_mut().zip(&s) {
                *a = *b as f32;
            }
            ctx.settle(&score, &mut s32);
            for (b, a) in s.iter_mut().zip(&s32) {
                // Only a settled (fake-quantized) score changes; calibration keeps f64 scores.
                if *a != *b as f32 {
                    *b = f64::from(*a);
                }
            }
            ctx.observe(&score, &s32);
            let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut sum = 0.0;
            for e in &mut s {
                *e = libm::exp(*e - max);
                sum += *e;
            }
            for j in 0..d {
                let acc: f64 = s
                    .iter()
                    .enumerate()
                    .map(|(m, p)| p * f64::from(kv.t.d[m * 2 * c + c + hd * d + j]))
                    .sum();
                out.d[i * c + hd * d + j] = (acc / sum) as f32;
            }
        }
    }
    let attn = format!("{a}.attn");
    ctx.settle(&attn, &mut out.d);
    ctx.observe(&attn, &out.d);
    ctx.record(Op::Attention {
        q: q.point.clone(),
        k: kv.point.clone(),
        v: kv.point.clone(),
        score_factor: scale,
        score,
        attn: attn.clone(),
    });
    let attn = Act {
        t: out,
        point: attn,
    };
    ctx.linear(&attn, &format!("{a}.proj"))
}

fn ffn(ctx: &mut Ctx<'_>, x: &Act, f: &str, (h, w): (usize, usize)) -> Result<Act, String> {
    let f1 = ctx.linear(x, &format!("{f}.fc1"))?;
    let m = map(&f1, h, w);
    let dw = ctx.unit(
        &m,
        &format!("{f}.dwconv"),
        &format!("{f}.dwconv"),
        1,
        1,
        false,
        false,
    )?;
    let g = ctx.gelu(&dw, &format!("{f}.gelu"));
    ctx.linear(&tokens(&g), &format!("{f}.fc2"))
}

#[allow(clippy::too_many_arguments)]
fn stage(
    ctx: &mut Ctx<'_>,
    x: &Act,
    s: &str,
    pad: usize,
    heads: usize,
    sr: usize,
    depth: usize,
) -> Result<Act, String> {
    let e = ctx.unit(
        x,
        &format!("{s}.embed.conv"),
        &format!("{s}.embed.conv"),
        2,
        pad,
        false,
        false,
    )?;
    let hw = (e.t.h, e.t.w);
    let mut t = ctx.layer_norm(&tokens(&e), &format!("{s}.embed.norm"))?;
    for b in 0..depth {
        let bp = format!("{s}.block{b}");
        let n1 = ctx.layer_norm(&t, &format!("{bp}.norm1"))?;
        let a = sra(ctx, &n1, &format!("{bp}.attn"), heads, sr, hw)?;
        let r1 = ctx.add(&t, 1.0, &a, 1.0, &format!("{bp}.res1"), false);
        let n2 = ctx.layer_norm(&r1, &format!("{bp}.norm2"))?;
        let f = ffn(ctx, &n2, &format!("{bp}.ffn"), hw)?;
        t = ctx.add(&r1, 1.0, &f, 1.0, &format!("{bp}.res2"), false);
    }
    let t = ctx.layer_norm(&t, &format!("{s}.norm"))?;
    Ok(map(&t, hw.0, hw.1))
}

fn aff(ctx: &mut Ctx<'_>, za: &Act, zb: &Act, x: &str, se: bool) -> Result<Act, String> {
    let cat = ctx.concat(&[za, zb], &format!("{x}.cat"));
    let z = if se {
        let pooled = ctx.resampled(&cat, tensor::global_avg_pool(&cat.t));
        let s = ctx.unit(
            &pooled,
            &format!("{x}.squeeze"),
            &format!("{x}.squeeze"),
            1,
            0,
            true,
            false,
        )?;
        let e = ctx.unit(
            &s,
            &format!("{x}.excite"),
            &format!("{x}.excite"),
            1,
            0,
            false,
            false,
        )?;
        let g = ctx.sigmoid(&e, &format!("{x}.gate"));
        ctx.mul(&cat, &g, &format!("{x}.scaled"))
    } else {
        cat
    };
    ctx.unit_bn(&z, &format!("{x}.fuse"), 1, 0, true)
}

fn aspp(ctx: &mut Ctx<'_>, x: &Act, rates: [usize; 3]) -> Result<Act, String> {
    let mut branches = vec![ctx.unit_bn(x, "aspp.convs.0", 1, 0, true)?];
    for (k, &r) in rates.iter().enumerate() {
        let u = format!("aspp.convs.{}", k + 1);
        branches.push(ctx.unit_dilated(x, &format!("{u}.conv"), &u, (1, r, r), true, false)?);
    }
    let pooled = ctx.resampled(x, tensor::global_avg_pool(&x.t));
    let b = ctx.unit_bn(&pooled, "aspp.convs.4", 1, 0, true)?;
    let mut wide = Fm::zeros(b.t.c, x.t.h, x.t.w);
    let n = x.t.plane();
    for c in 0..b.t.c {
        wide.d[c * n..(c + 1) * n].fill(b.t.d[c]);
    }
    branches.push(Ctx::same_point(&b, wide));
    let refs: Vec<&Act> = branches.iter().collect();
    let cat = ctx.concat(&refs, "aspp.cat");
    ctx.unit_bn(&cat, "aspp.project", 1, 0, true)
}

fn decoder(ctx: &mut Ctx<'_>, skip: &Act, g: &Act, d: &str, gate: bool) -> Result<Act, String> {
    let up = ctx.resampled(g, tensor::resize(&g.t, skip.t.h, skip.t.w, false));
    let s = if gate {
        let x1 = ctx.unit_bn(skip, &format!("{d}.ag.w_x"), 1, 0, false)?;
        let g1 = ctx.unit_bn(&up, &format!("{d}.ag.w_g"), 1, 0, false)?;
        let sum = ctx.add(&x1, 1.0, &g1, 1.0, &format!("{d}.ag.sum"), true);
        let psi = ctx.unit_bn(&sum, &format!("{d}.ag.psi"), 1, 0, false)?;
        let gt = ctx.sigmoid(&psi, &format!("{d}.ag.gate"));
        ctx.mul(skip, &gt, &format!("{d}.ag.out"))
    } else {
        skip.clone()
    };
    let cat = ctx.concat(&[&s, &up], &format!("{d}.cat"));
    let c1 = ctx.unit_bn(&cat, &format!("{d}.conv1"), 1, 1, true)?;
    ctx.unit_bn(&c1, &format!("{d}.conv2"), 1, 1, true)
}

/// Runs CAFCT-Net on one `k × size × size` input (a slice, with its neighbours for a 2.5D
/// preset); returns the logits (`1 × size × size`).
pub fn forward(ctx: &mut Ctx<'_>, cfg: &CafctConfig, input: &[f32]) -> Result<Fm, String> {
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
    let second = |ctx: &mut Ctx<'_>, x: &Act, l: usize| -> Result<Act, String> {
        if cfg.transformer {
            let pad = if l == 1 { 3 } else { 1 };
            stage(
                ctx,
                x,
                &format!("trans.stage{l}"),
                pad,
                cfg.heads[l - 1],
                cfg.sr[l - 1],
                cfg.depths[l - 1],
            )
        } else if l == 1 {
            cnn_stem(ctx, x, "cnn2")
        } else {
            cnn_level(ctx, x, "cnn2", l)
        }
    };
    let za1 = cnn_stem(ctx, &x, "cnn")?;
    let zb1 = second(ctx, &x, 1)?;
    let za2 = cnn_level(ctx, &za1, "cnn", 2)?;
    let zb2 = second(ctx, &zb1, 2)?;
    let f1 = aff(ctx, &za1, &zb1, "aff.0", cfg.aff)?;
    let za3 = cnn_level(ctx, &za2, "cnn", 3)?;
    let zb3 = second(ctx, &zb2, 3)?;
    let f2 = aff(ctx, &za2, &zb2, "aff.1", cfg.aff)?;
    let za4 = cnn_level(ctx, &za3, "cnn", 4)?;
    let zb4 = second(ctx, &zb3, 4)?;
    let f3 = aff(ctx, &za3, &zb3, "aff.2", cfg.aff)?;
    let f4 = aff(ctx, &za4, &zb4, "aff.3", cfg.aff)?;
    let g = if cfg.aspp {
        aspp(ctx, &f4, cfg.aspp_rates)?
    } else {
        ctx.unit_bn(&f4, "aspp", 1, 0, true)?
    };
    let d3 = decoder(ctx, &f3, &g, "decoder.0", cfg.ag)?;
    let d2 = decoder(ctx, &f2, &d3, "decoder.1", cfg.ag)?;
    let d1 = decoder(ctx, &f1, &d2, "decoder.2", cfg.ag)?;
    let up = ctx.resampled(&d1, tensor::resize(&d1.t, s, s, false));
    let h = ctx.unit_bn(&up, "head.conv", 1, 1, true)?;
    let lg = ctx.unit(&h, "head.out", "head.out", 1, 0, false, false)?;
    Ok(lg.t)
}
