//! `--json` and `--csv`: every per-volume and per-slice row, plus (JSON) the aggregates.
//!
//! CSV: one row per case, `level` = `volume` or `slice`; `slice` is the z index for slices of
//! a volume and empty for PNG slices; undefined values (RVD with an empty truth, surface
//! metrics under `--empty-policy skip`) are empty cells, NaN is `NaN`.

use super::{CaseRow, Evaluation};
use crate::data::csv::render;

const HEADER: [&str; 19] = [
    "level",
    "case",
    "slice",
    "dice",
    "iou",
    "voe",
    "rvd",
    "precision",
    "recall",
    "specificity",
    "f1",
    "assd",
    "hausdorff",
    "hd95",
    "tp",
    "fp",
    "fn",
    "tn",
    "unit",
];

fn num(v: Option<f64>) -> String {
    match v {
        None => String::new(),
        Some(x) if x.is_nan() => "NaN".into(),
        Some(x) => format!("{x}"),
    }
}

fn csv_row(level: &str, r: &CaseRow) -> Vec<String> {
    let s = &r.metrics.scores;
    let c = &r.metrics.confusion;
    vec![
        level.into(),
        r.case.clone(),
        r.slice.map_or(String::new(), |z| z.to_string()),
        num(Some(s.dice)),
        num(Some(s.iou)),
        num(Some(s.voe)),
        num(s.rvd),
        num(Some(s.precision)),
        num(Some(s.recall)),
        num(Some(s.specificity)),
        num(Some(s.f1)),
        num(s.assd),
        num(s.hausdorff),
        num(s.hd95),
        c.tp.to_string(),
        c.fp.to_string(),
        c.fn_.to_string(),
        c.tn.to_string(),
        match r.metrics.unit {
            crate::metrics::DistanceUnit::Physical => "mm".into(),
            crate::metrics::DistanceUnit::Voxel => "voxel".into(),
        },
    ]
}

/// The CSV text.
pub fn csv(e: &Evaluation) -> String {
    let mut rows = Vec::new();
    if let Some(v) = &e.volumes {
        rows.extend(v.cases.iter().map(|r| csv_row("volume", r)));
    }
    rows.extend(e.slices.cases.iter().map(|r| csv_row("slice", r)));
    render(&HEADER, &rows)
}

/// The JSON text (pretty-printed).
pub fn json(e: &Evaluation) -> Result<String, String> {
    serde_json::to_string_pretty(e).map_err(|err| format!("cannot encode JSON: {err}"))
}
