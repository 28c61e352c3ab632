//! CAFCT-Net as an ONNX graph, wired as core's `nets::cafct` forward: a CNN branch and a
//! transformer branch (or, ablated, a second CNN branch), an AFF per level, ASPP, three
//! decoder blocks with attention gates, `pytorch_half_pixel` upsampling, the head.

use super::blocks::basic_block;
use super::graph::{Act, Builder, Value};
use crate::models::CafctConfig;
use hepaseg_core::ops::AlignCorners;

/// Emits the network on `input` (`1 × C_in × S × S`; the convolutions' weights give `C_in`); returns the logits (`1 × 1 × S × S`).
pub fn emit(g: &mut Builder<'_>, cfg: &CafctConfig, input: &str) -> Result<Value, String> {
    let ch = cfg.channels();
    let side = |l: usize| cfg.size >> (l + 1);
    let cnn = cnn_branch(g, input, "cnn", ch)?;
    let second = if cfg.transformer {
        let mut levels = Vec::with_capacity(4);
        let mut x = input.to_owned();
        for l in 0..4 {
            x = stage(g, &x, cfg, l, side(l) * 2)?;
            levels.push(x.clone());
        }
        levels
    } else {
        cnn_branch(g, input, "cnn2", ch)?
    };
    let mut fused = Vec::with_capacity(4);
    for l in 0..4 {
        let z = g.concat(&[&cnn[l], &second[l]], 1);
        fused.push(aff(g, &z, &format!("aff.{l}"), cfg.aff)?);
    }
    let mut up = if cfg.aspp {
        aspp(g, &fused[3], cfg, ch[3], side(3))?
    } else {
        g.conv_bn(&fused[3], "aspp", (1, 0, 1), Act::Relu)?
    };
    // decoder.0 at L3, decoder.1 at L2, decoder.2 at L1.
    for (k, l) in [2usize, 1, 0].into_iter().enumerate() {
        up = decoder(
            g,
            &fused[l],
            &up,
            &format!("decoder.{k}"),
            (ch[l + 1], side(l)),
            cfg.ag,
        )?;
    }
    let full = g.resize(&up, [1, ch[0], cfg.size, cfg.size], AlignCorners::False);
    let hidden = g.conv_bn(&full, "head.conv", (1, 1, 1), Act::Relu)?;
    g.conv(&hidden, "head.out", (1, 0, 1), 1)
}

/// A CNN branch `prefix`: the four levels' outputs.
fn cnn_branch(
    g: &mut Builder<'_>,
    input: &str,
    prefix: &str,
    ch: [usize; 4],
) -> Result<Vec<Value>, String> {
    let stem = g.conv_bn(input, &format!("{prefix}.stem"), (2, 1, 1), Act::Relu)?;
    let mut x = basic_block(g, &stem, &format!("{prefix}.level1.0"), (ch[0], ch[0], 1))?;
    let mut out = vec![x.clone()];
    for l in 1..4 {
        let lv = l + 1;
        x = basic_block(
            g,
            &x,
            &format!("{prefix}.level{lv}.0"),
            (ch[l - 1], ch[l], 2),
        )?;
        x = basic_block(g, &x, &format!("{prefix}.level{lv}.1"), (ch[l], ch[l], 1))?;
        out.push(x.clone());
    }
    Ok(out)
}

/// Transformer stage `l` on an `h × h` map: overlapping patch embedding (stride 2) + LN,
/// `depth` blocks, LN, back to a `C × h/2 × h/2` map.
fn stage(
    g: &mut Builder<'_>,
    x: &str,
    cfg: &CafctConfig,
    l: usize,
    h: usize,
) -> Result<Value, String> {
    let prefix = format!("trans.stage{}", l + 1);
    let c = cfg.channels()[l];
    let ho = h / 2;
    let n = ho * ho;
    let k = g.param_shape(&format!("{prefix}.embed.conv.weight"))?[2];
    let map = g.conv(x, &format!("{prefix}.embed.conv"), (2, k / 2, 1), 1)?;
    let tokens = g.map_to_tokens(&map, c, n);
    let mut t = g.layer_norm(&tokens, &format!("{prefix}.embed.norm"))?;
    for b in 0..cfg.depths[l] {
        let bp = format!("{prefix}.block{b}");
        let normed = g.layer_norm(&t, &format!("{bp}.norm1"))?;
        let att = sra(
            g,
            &normed,
            &format!("{bp}.attn"),
            c,
            cfg.heads[l],
            (ho, cfg.sr[l]),
        )?;
        t = g.add(&t, &att);
        let normed = g.layer_norm(&t, &format!("{bp}.norm2"))?;
        let ffn = mix_ffn(g, &normed, &format!("{bp}.ffn"), ho)?;
        t = g.add(&t, &ffn);
    }
    let t = g.layer_norm(&t, &format!("{prefix}.norm"))?;
    Ok(g.tokens_to_map(&t, [c, ho, ho]))
}

/// Spatial-reduction attention on `h·h × c` layer-normed tokens (core's `blocks::sra`).
fn sra(
    g: &mut Builder<'_>,
    x: &str,
    prefix: &str,
    c: usize,
    heads: usize,
    (h, sr): (usize, usize),
) -> Result<Value, String> {
    let n = h * h;
    let d = c / heads;
    let q = g.linear(x, &format!("{prefix}.q"))?;
    let (kv_in, nk) = if sr > 1 {
        let hk = h / sr;
        let map = g.tokens_to_map(x, [c, h, h]);
        let reduced = g.conv(&map, &format!("{prefix}.sr"), (sr, 0, 1), 1)?;
        let tokens = g.map_to_tokens(&reduced, c, hk * hk);
        (g.layer_norm(&tokens, &format!("{prefix}.norm"))?, hk * hk)
    } else {
        (x.to_owned(), n)
    };
    let kv = g.linear(&kv_in, &format!("{prefix}.kv"))?;
    let k = g.slice(&kv, &[1], &[0], &[c]);
    let v = g.slice(&kv, &[1], &[c], &[2 * c]);
    // heads × N × d queries, heads × d × NK keys, heads × NK × d values.
    let qh = g.reshape(&q, &[n, heads, d]);
    let qh = g.transpose(&qh, &[1, 0, 2]);
    let kh = g.reshape(&k, &[nk, heads, d]);
    let kh = g.transpose(&kh, &[1, 2, 0]);
    let vh = g.reshape(&v, &[nk, heads, d]);
    let vh = g.transpose(&vh, &[1, 0, 2]);
    let scores = g.matmul(&qh, &kh);
    // PyTorch (and core) multiply the f32 scores by the Python float head_dim ** -0.5.
    let scale = g.scalar((1.0 / (d as f64).sqrt()) as f32);
    let scores = g.mul(&scores, &scale);
    let att = g.softmax(&scores);
    let out = g.matmul(&att, &vh);
    let out = g.transpose(&out, &[1, 0, 2]);
    let out = g.reshape(&out, &[n, c]);
    g.linear(&out, &format!("{prefix}.proj"))
}

/// Mix-FFN on `h·h × c` tokens: fc1 → depthwise 3×3 on the token map → exact GELU → fc2.
fn mix_ffn(g: &mut Builder<'_>, x: &str, prefix: &str, h: usize) -> Result<Value, String> {
    let hidden = g.param_shape(&format!("{prefix}.fc1.weight"))?[0];
    let y = g.linear(x, &format!("{prefix}.fc1"))?;
    let map = g.tokens_to_map(&y, [hidden, h, h]);
    let map = g.conv(&map, &format!("{prefix}.dwconv"), (1, 1, 1), hidden)?;
    let map = g.gelu(&map);
    let tokens = g.map_to_tokens(&map, hidden, h * h);
    g.linear(&tokens, &format!("{prefix}.fc2"))
}

/// AFF on the concatenation `z` (`2C` channels): `ReLU(BN(conv1×1(z ⊙ e)))` with the
/// squeeze–excite gate `e`, or without it (ablation).
fn aff(g: &mut Builder<'_>, z: &str, prefix: &str, se: bool) -> Result<Value, String> {
    let z = if se {
        let pooled = g.global_avg_pool(z);
        let mid = g.conv(&pooled, &format!("{prefix}.squeeze"), (1, 0, 1), 1)?;
        let mid = g.act(&mid, Act::Relu);
        let e = g.conv(&mid, &format!("{prefix}.excite"), (1, 0, 1), 1)?;
        let e = g.act(&e, Act::Sigmoid);
        g.mul(z, &e)
    } else {
        z.to_owned()
    };
    g.conv_bn(&z, &format!("{prefix}.fuse"), (1, 0, 1), Act::Relu)
}

/// ASPP on the fused deepest level (`c × h × h`).
fn aspp(
    g: &mut Builder<'_>,
    x: &str,
    cfg: &CafctConfig,
    c: usize,
    h: usize,
) -> Result<Value, String> {
    let mut parts = vec![g.conv_bn(x, "aspp.convs.0", (1, 0, 1), Act::Relu)?];
    for (k, &r) in cfg.aspp_rates.iter().enumerate() {
        parts.push(g.conv_bn(x, &format!("aspp.convs.{}", k + 1), (1, r, r), Act::Relu)?);
    }
    let pooled = g.global_avg_pool(x);
    let branch = g.conv_bn(&pooled, "aspp.convs.4", (1, 0, 1), Act::Relu)?;
    // Bilinear upsampling of a 1 × 1 map is a broadcast.
    parts.push(g.expand(&branch, &[1, c, h, h]));
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    let cat = g.concat(&refs, 1);
    g.conv_bn(&cat, "aspp.project", (1, 0, 1), Act::Relu)
}

/// A decoder block at an `h × h` level: upsample the deeper map (`cu` channels) ×2, gate the
/// skip with it (or not, ablation), two 3×3 units on `[skip, up]`.
fn decoder(
    g: &mut Builder<'_>,
    skip: &str,
    deep: &str,
    prefix: &str,
    (cu, h): (usize, usize),
    gated: bool,
) -> Result<Value, String> {
    let up = g.resize(deep, [1, cu, h, h], AlignCorners::False);
    let s = if gated {
        let ag = format!("{prefix}.ag");
        let x1 = g.conv_bn(skip, &format!("{ag}.w_x"), (1, 0, 1), Act::None)?;
        let g1 = g.conv_bn(&up, &format!("{ag}.w_g"), (1, 0, 1), Act::None)?;
        let sum = g.add(&x1, &g1);
        let r = g.act(&sum, Act::Relu);
        let psi = g.conv_bn(&r, &format!("{ag}.psi"), (1, 0, 1), Act::Sigmoid)?;
        g.mul(skip, &psi)
    } else {
        skip.to_owned()
    };
    let cat = g.concat(&[&s, &up], 1);
    let mid = g.conv_bn(&cat, &format!("{prefix}.conv1"), (1, 1, 1), Act::Relu)?;
    g.conv_bn(&mid, &format!("{prefix}.conv2"), (1, 1, 1), Act::Relu)
}
