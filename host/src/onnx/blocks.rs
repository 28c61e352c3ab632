//! Blocks both networks share, as ONNX subgraphs: the ResNet BasicBlock and AGPCNet's
//! non-local attention over a grid of patches (core's `blocks::basic_block`,
//! `blocks::attention`, `blocks::nonlocal`).

use super::graph::{Act, Builder, Value};
use std::ops::Range;

/// Core's `BasicBlock`: `ReLU(bn2(conv2(ReLU(bn1(conv1(x))))) + shortcut(x))`, the shortcut a
/// strided 1×1 unit when the shape changes. Returns the output.
pub fn basic_block(
    g: &mut Builder<'_>,
    x: &str,
    prefix: &str,
    (ci, co, stride): (usize, usize, usize),
) -> Result<Value, String> {
    let mid = g.conv_bn(x, &format!("{prefix}.conv1"), (stride, 1, 1), Act::Relu)?;
    let y = g.conv_bn(&mid, &format!("{prefix}.conv2"), (1, 1, 1), Act::None)?;
    let short = if stride != 1 || ci != co {
        g.conv_bn(
            x,
            &format!("{prefix}.downsample"),
            (stride, 0, 1),
            Act::None,
        )?
    } else {
        x.to_owned()
    };
    let s = g.add(&y, &short);
    Ok(g.act(&s, Act::Relu))
}

/// Runs of equal-sized patches along one axis of an `s`-patch grid over `len` pixels (core's
/// `blocks::agcb::patch_range`: step `⌊len/s⌋`, the last patch takes the remainder): each
/// run is `(first patch, patches, patch size)`.
fn runs(s: usize, len: usize) -> Vec<(usize, usize, usize)> {
    let step = len / s;
    let last = hepaseg_core::blocks::agcb::patch_range(s - 1, s, len);
    let last_size = last.end - last.start;
    if last_size == step {
        vec![(0, s, step)]
    } else {
        vec![(0, s - 1, step), (s - 1, 1, last_size)]
    }
}

/// Query, key and value maps (`1 × CR/CR/C × H × W`), the residual input `x` (`1 × C × H ×
/// W`), the non-local's learned `gamma` and an optional per-patch gate (`1 × C × S × S`).
#[derive(Debug)]
pub struct Attend<'a> {
    /// Queries.
    pub q: &'a str,
    /// Keys.
    pub k: &'a str,
    /// Values.
    pub v: &'a str,
    /// Residual input.
    pub x: &'a str,
    /// Name of the scalar gate γ.
    pub gamma: &'a str,
    /// The gate of each patch (AGCB), if any.
    pub gate: Option<&'a str>,
    /// Query/key channels.
    pub cr: usize,
    /// Value channels.
    pub c: usize,
    /// Map height and width.
    pub hw: (usize, usize),
}

/// `(γ · attention(patch) + x) ⊙ gate` over an `s × s` grid of patches, each attending only
/// within itself (core's `region_attention`: scores `QᵀK` without scaling, softmax over the
/// keys, `V·Aᵀ`). Patches of equal size are batched: a run of `nr × nc` patches becomes one
/// `[nr·nc, C, ph·pw]` batch through Reshape/Transpose, so the graph has at most four
/// attention batches per grid, whatever `s`. `s = 1` is the plain non-local block.
pub fn patch_attention(g: &mut Builder<'_>, a: &Attend<'_>, s: usize) -> Result<Value, String> {
    let (h, w) = a.hw;
    let (row_runs, col_runs) = (runs(s, h), runs(s, w));
    let step = (h / s, w / s);
    let mut bands = Vec::new();
    for &(pi, nr, ph) in &row_runs {
        let mut blocks = Vec::new();
        for &(pj, nc, pw) in &col_runs {
            let r0 = pi * step.0;
            let c0 = pj * step.1;
            let region = Region {
                rows: r0..r0 + nr * ph,
                cols: c0..c0 + nc * pw,
                grid: (nr, nc),
                patch: (ph, pw),
            };
            blocks.push(attend_region(g, a, &region, (pi, pj))?);
        }
        let refs: Vec<&str> = blocks.iter().map(String::as_str).collect();
        bands.push(g.concat(&refs, 3));
    }
    let refs: Vec<&str> = bands.iter().map(String::as_str).collect();
    Ok(g.concat(&refs, 2))
}

/// A rectangle of the map cut into `grid` patches of `patch` pixels each.
#[derive(Debug)]
struct Region {
    rows: Range<usize>,
    cols: Range<usize>,
    grid: (usize, usize),
    patch: (usize, usize),
}

impl Region {
    /// `1 × ct × H × W` → the region's patches as a `[nr·nc, ct, ph·pw]` batch.
    fn batch(&self, g: &mut Builder<'_>, t: &str, ct: usize, hw: (usize, usize)) -> Value {
        let ((nr, nc), (ph, pw)) = (self.grid, self.patch);
        let whole = self.rows == (0..hw.0) && self.cols == (0..hw.1);
        let cut = if whole {
            t.to_owned()
        } else {
            g.slice(
                t,
                &[2, 3],
                &[self.rows.start, self.cols.start],
                &[self.rows.end, self.cols.end],
            )
        };
        if nr * nc == 1 {
            return g.reshape(&cut, &[1, ct, ph * pw]);
        }
        let split = g.reshape(&cut, &[ct, nr, ph, nc, pw]);
        let grouped = g.transpose(&split, &[1, 3, 0, 2, 4]);
        g.reshape(&grouped, &[nr * nc, ct, ph * pw])
    }

    /// The inverse of [`Region::batch`]: `[nr·nc, c, ph·pw]` → `1 × c × nr·ph × nc·pw`.
    fn unbatch(&self, g: &mut Builder<'_>, t: &str, c: usize) -> Value {
        let ((nr, nc), (ph, pw)) = (self.grid, self.patch);
        if nr * nc == 1 {
            return g.reshape(t, &[1, c, ph, pw]);
        }
        let split = g.reshape(t, &[nr, nc, c, ph, pw]);
        let back = g.transpose(&split, &[2, 0, 3, 1, 4]);
        g.reshape(&back, &[1, c, nr * ph, nc * pw])
    }
}

/// One region's batch of patches: attention, residual, gate.
fn attend_region(
    g: &mut Builder<'_>,
    a: &Attend<'_>,
    region: &Region,
    (pi, pj): (usize, usize),
) -> Result<Value, String> {
    let q = region.batch(g, a.q, a.cr, a.hw);
    let k = region.batch(g, a.k, a.cr, a.hw);
    let v = region.batch(g, a.v, a.c, a.hw);
    let x = region.batch(g, a.x, a.c, a.hw);
    let qt = g.transpose(&q, &[0, 2, 1]);
    let scores = g.matmul(&qt, &k);
    let att = g.softmax(&scores);
    let att_t = g.transpose(&att, &[0, 2, 1]);
    let out = g.matmul(&v, &att_t);
    let scaled = g.gate(&out, a.gamma)?;
    let mut y = g.add(&scaled, &x);
    if let Some(gate) = a.gate {
        let (nr, nc) = region.grid;
        let cells = g.slice(gate, &[2, 3], &[pi, pj], &[pi + nr, pj + nc]);
        let flat = g.reshape(&cells, &[a.c, nr * nc]);
        let per_patch = g.transpose(&flat, &[1, 0]);
        let gb = g.reshape(&per_patch, &[nr * nc, a.c, 1]);
        y = g.mul(&y, &gb);
    }
    Ok(region.unbatch(g, &y, a.c))
}

/// Core's `NonLocal(C, r)` on a `1 × C × H × W` map: `γ · attention(x) + x` with 1×1 q/k/v
/// projections `{prefix}.{q,k,v}` and gate `{prefix}.gamma`. Returns the output.
pub fn non_local(
    g: &mut Builder<'_>,
    x: &str,
    prefix: &str,
    (c, cr): (usize, usize),
    hw: (usize, usize),
) -> Result<Value, String> {
    let [q, k, v] = qkv(g, x, prefix)?;
    let gamma = format!("{prefix}.gamma");
    patch_attention(
        g,
        &Attend {
            q: &q,
            k: &k,
            v: &v,
            x,
            gamma: &gamma,
            gate: None,
            cr,
            c,
            hw,
        },
        1,
    )
}

/// The 1×1 query, key and value projections `{prefix}.{q,k,v}` of `x`.
pub fn qkv(g: &mut Builder<'_>, x: &str, prefix: &str) -> Result<[Value; 3], String> {
    let q = g.conv(x, &format!("{prefix}.q"), (1, 0, 1), 1)?;
    let k = g.conv(x, &format!("{prefix}.k"), (1, 0, 1), 1)?;
    let v = g.conv(x, &format!("{prefix}.v"), (1, 0, 1), 1)?;
    Ok([q, k, v])
}

#[cfg(test)]
mod tests {
    use super::runs;

    #[test]
    fn runs_follow_core_patch_ranges() {
        // 32 / 10: nine patches of 3, the last of 5.
        assert_eq!(runs(10, 32), vec![(0, 9, 3), (9, 1, 5)]);
        // 8 / 4: all equal.
        assert_eq!(runs(4, 8), vec![(0, 4, 2)]);
        // 8 / 3: two of 2, the last of 4.
        assert_eq!(runs(3, 8), vec![(0, 2, 2), (2, 1, 4)]);
        assert_eq!(runs(1, 7), vec![(0, 1, 7)]);
        for (s, len) in [(10, 32), (6, 32), (5, 32), (3, 32), (6, 8), (3, 8), (1, 5)] {
            let covered: usize = runs(s, len).iter().map(|r| r.1 * r.2).sum();
            assert_eq!(covered, len, "s {s} len {len}");
            let patches: usize = runs(s, len).iter().map(|r| r.1).sum();
            assert_eq!(patches, s);
        }
    }
}
