//! AGCAF-Net as an ONNX graph, wired as core's `nets::agcaf` forward (backbone, CPM of four
//! AGCBs, two AFM fusions or the plain ablation fusion, FCN head, `align_corners` upsampling).

use super::blocks::{basic_block, non_local, patch_attention, qkv, Attend};
use super::graph::{Act, Builder, Value};
use crate::models::AgcafConfig;
use hepaseg_core::ops::AlignCorners;

/// Emits the network on `input` (`1 × C_in × S × S`; the stem's weight gives `C_in`); returns the logits (`1 × 1 × S × S`).
pub fn emit(g: &mut Builder<'_>, cfg: &AgcafConfig, input: &str) -> Result<Value, String> {
    let b = cfg.base;
    let s = cfg.size;
    let (h1, h2, h3) = (s / 2, s / 4, s / 8);
    let stem = g.conv_bn(input, "backbone.stem", (1, 3, 1), Act::Relu)?;
    let mut x = stem;
    // (name, in, out, stride) of the eight BasicBlocks.
    let layers = [
        ("layer1.0", b, b, 1),
        ("layer1.1", b, b, 1),
        ("layer2.0", b, 2 * b, 2),
        ("layer2.1", 2 * b, 2 * b, 1),
        ("layer3.0", 2 * b, 4 * b, 2),
        ("layer3.1", 4 * b, 4 * b, 1),
        ("layer4.0", 4 * b, 8 * b, 2),
        ("layer4.1", 8 * b, 8 * b, 1),
    ];
    let mut taps = Vec::new();
    for (name, ci, co, stride) in layers {
        x = basic_block(g, &x, &format!("backbone.{name}"), (ci, co, stride))?;
        taps.push(x.clone());
    }
    let (c1, c2, c3) = (taps[3].clone(), taps[5].clone(), taps[7].clone());
    let context = if cfg.cpm { cpm(g, &c3, cfg, h3)? } else { c3 };
    let up1 = g.resize(&context, [1, 8 * b, h2, h2], AlignCorners::True);
    let f1 = fuse(g, &up1, &c2, "fuse23", cfg.afm)?;
    let up2 = g.resize(&f1, [1, 4 * b, h1, h1], AlignCorners::True);
    let f2 = fuse(g, &up2, &c1, "fuse12", cfg.afm)?;
    // FCN head: Conv3×3+BN+ReLU, (dropout = identity), Conv1×1 → one logit map.
    let hidden = g.conv_bn(&f2, "head.conv", (1, 1, 1), Act::Relu)?;
    let logits = g.conv(&hidden, "head.out", (1, 0, 1), 1)?;
    Ok(g.resize(&logits, [1, 1, s, s], AlignCorners::True))
}

/// The CPM on the deepest map (`8B × H × H`).
fn cpm(g: &mut Builder<'_>, x: &str, cfg: &AgcafConfig, h: usize) -> Result<Value, String> {
    let (rc, rn) = cfg.reduce;
    let inter = 8 * cfg.base / rc;
    let red = g.conv_bn(x, "cpm.reduce", (1, 0, 1), Act::Relu)?;
    let mut parts = vec![red.clone()];
    for (k, &scale) in cfg.scales.iter().enumerate() {
        parts.push(agcb(
            g,
            &red,
            &format!("cpm.agcb.{k}"),
            (inter, inter / rn),
            scale,
            h,
        )?);
    }
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    let cat = g.concat(&refs, 1);
    g.conv_bn(&cat, "cpm.fuse", (1, 0, 1), Act::Relu)
}

/// An AGCB on a `C × H × H` map with an `S × S` grid: `ReLU(γ · BN(conv3×3(patchwise
/// non-local(x) ⊙ GNFM(x))) + x)`.
fn agcb(
    g: &mut Builder<'_>,
    x: &str,
    prefix: &str,
    (c, cr): (usize, usize),
    s: usize,
    h: usize,
) -> Result<Value, String> {
    // GNFM: adaptive max pool to S × S, non-local (r = 1), two 1×1 units → σ gate.
    let pooled = g.adaptive_max_pool(x, (h, h), s);
    let attended = non_local(
        g,
        &pooled,
        &format!("{prefix}.gnfm.nonlocal"),
        (c, c),
        (s, s),
    )?;
    let mid = g.conv_bn(
        &attended,
        &format!("{prefix}.gnfm.conv1"),
        (1, 0, 1),
        Act::Relu,
    )?;
    let gate = g.conv_bn(
        &mid,
        &format!("{prefix}.gnfm.conv2"),
        (1, 0, 1),
        Act::Sigmoid,
    )?;
    let nl = format!("{prefix}.nonlocal");
    let [q, k, v] = qkv(g, x, &nl)?;
    let gamma = format!("{nl}.gamma");
    let context = patch_attention(
        g,
        &Attend {
            q: &q,
            k: &k,
            v: &v,
            x,
            gamma: &gamma,
            gate: Some(&gate),
            cr,
            c,
            hw: (h, h),
        },
        s,
    )?;
    let y = g.conv_bn(&context, &format!("{prefix}.conv"), (1, 1, 1), Act::None)?;
    let y = g.gate(&y, &format!("{prefix}.gamma"))?;
    let y = g.add(&y, x);
    Ok(g.act(&y, Act::Relu))
}

/// A fusion of the upsampled deep map with a skip: the AFM, or (ablation) `ReLU(BN(conv1×1(
/// high))) + skip`.
fn fuse(
    g: &mut Builder<'_>,
    high: &str,
    low: &str,
    prefix: &str,
    afm: bool,
) -> Result<Value, String> {
    if !afm {
        let y = g.conv_bn(high, prefix, (1, 0, 1), Act::Relu)?;
        return Ok(g.add(&y, low));
    }
    let xh = g.conv_bn(high, &format!("{prefix}.plus_conv"), (1, 0, 1), Act::Relu)?;
    let pa = se_gate(g, low, &format!("{prefix}.pa"))?;
    let pooled = g.global_avg_pool(&xh);
    let ca = se_gate(g, &pooled, &format!("{prefix}.ca"))?;
    let sum = g.add(&xh, low);
    let feat = g.conv_bn(&sum, &format!("{prefix}.end_conv"), (1, 1, 1), Act::Relu)?;
    let y = g.mul(&feat, &ca);
    Ok(g.mul(&y, &pa))
}

/// AFM's gate: σ(unit(ReLU(unit(x)))) with units `{prefix}.squeeze`, `{prefix}.excite`.
fn se_gate(g: &mut Builder<'_>, x: &str, prefix: &str) -> Result<Value, String> {
    let mid = g.conv_bn(x, &format!("{prefix}.squeeze"), (1, 0, 1), Act::Relu)?;
    g.conv_bn(&mid, &format!("{prefix}.excite"), (1, 0, 1), Act::Sigmoid)
}
