//! The printed table, laid out like the result tables of the AGCAF-Net and CAFCT-Net papers:
//! one column per metric (Dice, mIoU, precision, recall, F-measure, ASSD, HD95), one row for
//! the mean over cases and one for the pooled (global) value, per level (volume, slice).
//!
//! "mIoU" here is the mean over cases of the foreground IoU (the global row: IoU of the pooled
//! counts), which is what those papers tabulate for a single foreground class.

use super::{Evaluation, Level};
use crate::metrics::{DistanceUnit, EmptyPolicy, Scores};
use std::fmt::Write as _;

const COLUMNS: [&str; 7] = ["Dice", "mIoU", "Prec.", "Recall", "F1", "ASSD", "HD95"];

fn cell(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_nan() => "nan".into(),
        Some(x) => format!("{x:.4}"),
        None => "—".into(),
    }
}

fn row(name: &str, s: &Scores) -> String {
    let values = [
        Some(s.dice),
        Some(s.iou),
        Some(s.precision),
        Some(s.recall),
        Some(s.f1),
        s.assd,
        s.hd95,
    ];
    let mut line = format!("  {name:<22}");
    for v in values {
        let _ = write!(line, "{:>9}", cell(v));
    }
    line
}

fn level(out: &mut String, title: &str, l: &Level) {
    let Some(a) = &l.aggregate else {
        return;
    };
    let _ = writeln!(out, "{title} (n = {})", a.cases);
    let _ = writeln!(out, "{}", row("mean over cases", &a.per_case_mean));
    let _ = writeln!(out, "{}", row("global (pooled)", &a.global));
}

/// The table and a line on units and conventions.
pub fn render(e: &Evaluation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", e.title);
    let mut header = format!("  {:<22}", "");
    for c in COLUMNS {
        let _ = write!(header, "{c:>9}");
    }
    let _ = writeln!(out, "{header}");
    if let Some(v) = &e.volumes {
        level(&mut out, "3D, per volume", v);
    }
    level(&mut out, "2D, per slice", &e.slices);
    let unit = e
        .slices
        .aggregate
        .as_ref()
        .map(|a| a.unit)
        .unwrap_or(DistanceUnit::Voxel);
    let _ = write!(
        out,
        "ASSD/HD95 in {}; surface distances with an empty mask: {}",
        match unit {
            DistanceUnit::Physical => "mm (voxel spacing)",
            DistanceUnit::Voxel => "pixels/voxels (no spacing known)",
        },
        match e.empty_policy {
            EmptyPolicy::Zero => "0 (LiTS)",
            EmptyPolicy::Skip => "skipped",
            EmptyPolicy::Nan => "NaN",
        }
    );
    for n in &e.notes {
        let _ = write!(out, "\nnote: {n}");
    }
    out
}
