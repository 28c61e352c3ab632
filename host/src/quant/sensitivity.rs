//! Which parts of a network cost accuracy in int8: the calibration forward run in `f32` with
//! chosen activation points rounded to their int8 grid ("fake quantization", through
//! [`Observer::settle`]), compared with the plain forward on the report slices.
//!
//! Rounding every point reproduces the int8 engine's activation error without its integer
//! arithmetic; rounding one block's points at a time attributes the loss to blocks. This is
//! what to look at when the int8 report shows a Dice drop: it names the block whose ranges
//! (or the scheme there) need attention.

use super::graph::{Ctx, NamedParams, Observer};
use super::report::{EvalSlice, Overlap};
use super::Calib;
use hepaseg_core::int8::QuantParams;
use std::collections::BTreeMap;
use std::fmt;

/// Rounds the points a predicate selects to their int8 grid; observes nothing.
struct FakeQuant<'a> {
    points: &'a BTreeMap<String, QuantParams>,
    selected: &'a (dyn Fn(&str) -> bool + Sync),
}

impl Observer for FakeQuant<'_> {
    fn observe(&mut self, _: &str, _: &[f32]) {}

    fn settle(&mut self, point: &str, values: &mut [f32]) {
        if !(self.selected)(point) {
            return;
        }
        if let Some(q) = self.points.get(point) {
            for v in values {
                *v = q.dequantize(q.quantize(f64::from(*v))) as f32;
            }
        }
    }
}

/// The block a point belongs to: its first two dotted components (`aspp.convs.4` → `aspp`,
/// `decoder.1.ag.gate` → `decoder.1`), three under `trans` (`trans.stage1.block0`).
pub fn block_of(point: &str) -> String {
    let parts: Vec<&str> = point.split('.').collect();
    let n = match parts.first() {
        Some(&"trans") => 3,
        Some(&"aspp" | &"head" | &"input") => 1,
        _ => 2,
    };
    parts[..n.min(parts.len())].join(".")
}

/// The masks of one fake-quantized variant against the plain forward and the ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Sensitivity {
    /// What was rounded (`all`, `weights`, `activations`, or a block's activations).
    pub rounded: String,
    /// Pooled Dice against the plain `f32` forward's masks.
    pub dice_vs_f32: f64,
    /// Pooled Dice against the ground truth (slices with one).
    pub dice_gt: Option<f64>,
    /// Mean `|logit − f32 logit|`.
    pub mean_logit_error: f64,
}

/// The sensitivity table: the plain forward's Dice, then one row per variant.
#[derive(Debug, Clone, PartialEq)]
pub struct SensitivityReport {
    /// Dice of the plain `f32` forward against the ground truth.
    pub dice_f32_gt: Option<f64>,
    /// Rows: `all`, `weights`, `activations`, then blocks in forward order.
    pub rows: Vec<Sensitivity>,
}

impl fmt::Display for SensitivityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "int8 sensitivity (f32 forwards with the named parts rounded to their int8 grid)"
        )?;
        if let Some(d) = self.dice_f32_gt {
            write!(f, "; f32 Dice against ground truth {d:.4}")?;
        }
        write!(
            f,
            "\n  {:32} {:>12} {:>10} {:>11}",
            "rounded", "Dice vs f32", "Dice (GT)", "mean |err|"
        )?;
        for r in &self.rows {
            let gt = r.dice_gt.map_or("-".to_owned(), |d| format!("{d:.4}"));
            write!(
                f,
                "\n  {:32} {:>12.4} {:>10} {:>11.5}",
                r.rounded, r.dice_vs_f32, gt, r.mean_logit_error
            )?;
        }
        Ok(())
    }
}

/// Logits of the calibration forward on every slice, with the points `selected` rounded to
/// their int8 grid (`points`), on up to `threads` threads.
pub fn rounded_logits(
    calib: &Calib,
    params: &NamedParams,
    points: &BTreeMap<String, QuantParams>,
    slices: &[EvalSlice],
    selected: &(dyn Fn(&str) -> bool + Sync),
    threads: usize,
) -> Result<Vec<Vec<f32>>, String> {
    let part = slices.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = slices
            .chunks(part)
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|x| {
                            let mut fq = FakeQuant { points, selected };
                            let y =
                                calib.forward(&mut Ctx::new(params, &mut fq, None), &x.image)?;
                            Ok(y.d)
                        })
                        .collect::<Result<Vec<_>, String>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(slices.len());
        for h in handles {
            all.extend(
                h.join()
                    .map_err(|_| "a sensitivity thread panicked".to_string())??,
            );
        }
        Ok(all)
    })
}

/// Runs the plain forward and, compared with it on `slices` (masks `logit > 0`): everything
/// rounded (weights to their per-channel int8 grid and every activation point: the closest
/// `f32` model of the int8 engine), the weights only, the activations only, and one forward
/// per block with only that block's activation points rounded.
pub fn sensitivity(
    calib: &Calib,
    params: &NamedParams,
    points: &BTreeMap<String, QuantParams>,
    blocks: &[String],
    slices: &[EvalSlice],
    threads: usize,
) -> Result<SensitivityReport, String> {
    let plain = rounded_logits(calib, params, points, slices, &|_| false, threads)?;
    let mut gt = Overlap::default();
    for (y, s) in plain.iter().zip(slices) {
        if let Some(m) = &s.mask {
            for (v, g) in y.iter().zip(m) {
                gt.add(*v > 0.0, *g > 0.5);
            }
        }
    }
    let has_gt = slices.iter().any(|s| s.mask.is_some());
    let int8_weights = params.with_int8_weights();
    let mut variants: Vec<(String, &NamedParams)> = vec![
        ("all".into(), &int8_weights),
        ("weights".into(), &int8_weights),
        ("activations".into(), params),
    ];
    variants.extend(blocks.iter().map(|b| (b.clone(), params)));
    let mut rows = Vec::new();
    for (name, p) in variants {
        let selected = |point: &str| match name.as_str() {
            "all" | "activations" => true,
            "weights" => false,
            block => block_of(point) == block,
        };
        let y = rounded_logits(calib, p, points, slices, &selected, threads)?;
        let (mut vs, mut g, mut err, mut n) = (Overlap::default(), Overlap::default(), 0.0, 0);
        for ((a, b), s) in y.iter().zip(&plain).zip(slices) {
            for (i, (&x, &p)) in a.iter().zip(b).enumerate() {
                vs.add(x > 0.0, p > 0.0);
                err += f64::from((x - p).abs());
                n += 1;
                if let Some(m) = &s.mask {
                    g.add(x > 0.0, m[i] > 0.5);
                }
            }
        }
        rows.push(Sensitivity {
            rounded: name,
            dice_vs_f32: vs.dice(),
            dice_gt: has_gt.then(|| g.dice()),
            mean_logit_error: err / n.max(1) as f64,
        });
    }
    Ok(SensitivityReport {
        dice_f32_gt: has_gt.then(|| gt.dice()),
        rows,
    })
}
