//! `hepaseg eval`: LiTS metrics for saved masks of any tool, or for a weight blob on a dataset
//! split, as a paper-style table, JSON/CSV rows and overlay pictures.
//!
//! * `--pred-dir P --gt-dir G`: masks paired by file name ([`pairs`]). PNG masks are 2D cases
//!   (one row per slice); NIfTI label volumes are 3D cases (one row per volume, with the
//!   header's spacing) and are also scored slice by slice (one row per slice).
//! * `--blob B --data D --split test|val|all`: the core engine (int8 or f32) runs the blob's
//!   network on every slice of the split at the network's input size ([`dataset`]); rows per
//!   slice and per patient volume, distances in voxels (the slices are resampled).
//!   `--checkpoint CKPT` instead runs a training checkpoint with the host's f32 forward pass;
//!   `--tta` averages the logits over flips.
//!
//! Metric definitions and empty-mask conventions are the metrics module's
//! ([`crate::metrics`]); aggregation is per-case mean and global (pooled).

pub mod dataset;
pub mod export;
pub mod overlay;
pub mod pairs;
pub mod pick;
pub mod table;

use crate::data::{Target, Window};
use crate::metrics::{Accumulator, Aggregate, CaseMetrics, EmptyPolicy, EvalOptions, Mask};
use crate::segment::output::Staging;
use crate::segment::EngineKind;
use overlay::Canvas;
use pairs::{pair_dirs, read_nifti_mask, read_png_mask, LabelSelect, MaskKind, Pair};
use pick::{CtSource, ImageRef, Offer, Picker};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// `--empty-policy`: surface distances when a mask is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EmptyChoice {
    /// 0, as the LiTS evaluation script (default).
    Zero,
    /// No value; left out of the mean.
    Skip,
    /// NaN; propagates into the mean.
    Nan,
}

impl From<EmptyChoice> for EmptyPolicy {
    fn from(c: EmptyChoice) -> Self {
        match c {
            EmptyChoice::Zero => EmptyPolicy::Zero,
            EmptyChoice::Skip => EmptyPolicy::Skip,
            EmptyChoice::Nan => EmptyPolicy::Nan,
        }
    }
}

/// `--split`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitChoice {
    /// The test patients.
    Test,
    /// The validation patients.
    Val,
    /// Every slice of the dataset.
    All,
}

/// `--target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TargetChoice {
    /// Tumour (label 2).
    Tumor,
    /// Liver including tumour (labels 1 and 2).
    Liver,
}

impl From<TargetChoice> for Target {
    fn from(t: TargetChoice) -> Self {
        match t {
            TargetChoice::Tumor => Target::Tumor,
            TargetChoice::Liver => Target::Liver,
        }
    }
}

/// Parses `lo,hi` Hounsfield units.
pub fn parse_window(s: &str) -> Result<Window, String> {
    let (lo, hi) = s
        .split_once(',')
        .ok_or_else(|| format!("window `{s}`: expected LO,HI in HU, e.g. -200,250"))?;
    let num = |t: &str| {
        t.trim()
            .parse::<f32>()
            .map_err(|_| format!("window `{s}`: `{t}` is not a number"))
    };
    Window::new(num(lo)?, num(hi)?).map_err(|e| e.to_string())
}

/// Parses a voxel spacing `z,y,x` in millimetres (all finite and positive).
pub fn parse_spacing(s: &str) -> Result<[f64; 3], String> {
    let parts: Vec<&str> = s.split(',').collect();
    let bad = || format!("spacing `{s}`: expected Z,Y,X in mm, three positive numbers");
    if parts.len() != 3 {
        return Err(bad());
    }
    let mut out = [0.0; 3];
    for (o, p) in out.iter_mut().zip(&parts) {
        *o = p.trim().parse::<f64>().map_err(|_| bad())?;
        if !o.is_finite() || *o <= 0.0 {
            return Err(bad());
        }
    }
    Ok(out)
}

/// The options of `hepaseg eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// Predicted masks: PNG slices (0/1 or 0/255, grey or RGB) or NIfTI label volumes,
    /// paired with --gt-dir by file name.
    #[arg(long, requires = "gt_dir")]
    pub pred_dir: Option<PathBuf>,
    /// Ground-truth masks, same file names as --pred-dir.
    #[arg(long, requires = "pred_dir")]
    pub gt_dir: Option<PathBuf>,
    /// Evaluate this weight blob on a dataset split instead (core engine).
    #[arg(long, conflicts_with_all = ["pred_dir", "gt_dir"], requires = "data")]
    pub blob: Option<PathBuf>,
    /// Evaluate this training checkpoint (`hepaseg train`'s *.safetensors) on a dataset split
    /// instead (host f32 forward pass; network and preset from the checkpoint).
    #[arg(long, conflicts_with_all = ["pred_dir", "gt_dir", "blob"], requires = "data")]
    pub checkpoint: Option<PathBuf>,
    /// Dataset directory for --blob or --checkpoint (lits-png, LiTS NIfTI or MSD layout).
    #[arg(long, conflicts_with_all = ["pred_dir", "gt_dir"])]
    pub data: Option<PathBuf>,
    /// Which patients of --data: the patient-level test or validation split, or all.
    #[arg(long, value_enum, default_value_t = SplitChoice::Test)]
    pub split: SplitChoice,
    /// Seed of the patient split (use the training run's).
    #[arg(long, default_value_t = 0)]
    pub split_seed: u64,
    /// What the blob's network segments (--blob).
    #[arg(long, value_enum, default_value_t = TargetChoice::Tumor)]
    pub target: TargetChoice,
    /// Core engine for --blob: int8 (an int8 blob, as on the device) or f32 (an f32 blob).
    #[arg(long, value_enum, default_value_t = EngineKind::Int8)]
    pub engine: EngineKind,
    /// Test-time augmentation for --blob/--checkpoint: average the logits of each slice and
    /// its three flips (left–right, top–bottom, both).
    #[arg(long)]
    pub tta: bool,
    /// Logit threshold for --blob (0 = probability 0.5).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub threshold: f32,
    /// Write every row and the aggregates as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write every row as CSV (level, case, slice, metrics, counts, unit).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write overlay PNGs of the worst and best slices (by Dice) into this directory
    /// (CT grey; true positive yellow, false negative green, false positive red).
    #[arg(long)]
    pub overlays: Option<PathBuf>,
    /// Number of worst slices to draw.
    #[arg(long, default_value_t = 5)]
    pub worst: usize,
    /// Number of best slices to draw.
    #[arg(long, default_value_t = 5)]
    pub best: usize,
    /// CT images for the overlays: a directory with the CT of each mask (same name, or LiTS
    /// naming volume-…), or one NIfTI volume.
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// Voxel spacing Z,Y,X in mm, overriding NIfTI headers (PNG: y and x are used).
    #[arg(long, value_parser = parse_spacing)]
    pub spacing: Option<[f64; 3]>,
    /// Surface distances when a mask is empty: zero (LiTS), skip, nan.
    #[arg(long, value_enum, default_value_t = EmptyChoice::Zero)]
    pub empty_policy: EmptyChoice,
    /// NIfTI: foreground is this label only (e.g. 2 = LiTS tumour); default: label ≥ 1.
    #[arg(long)]
    pub label: Option<i64>,
    /// HU window for drawing NIfTI CT in overlays.
    #[arg(long, value_parser = parse_window, default_value = "-200,250", allow_hyphen_values = true)]
    pub window: Window,
}

/// One row: a volume or a slice.
#[derive(Debug, Clone, Serialize)]
pub struct CaseRow {
    /// File name (or `study-N` for a dataset split).
    pub case: String,
    /// Slice index within the volume; `None` for a PNG slice and for volume rows.
    pub slice: Option<usize>,
    /// The metrics.
    #[serde(flatten)]
    pub metrics: CaseMetrics,
}

/// The rows and aggregate of one level.
#[derive(Debug, Clone, Serialize)]
pub struct Level {
    /// Per-case mean and global values; `None` without cases.
    pub aggregate: Option<Aggregate>,
    /// Every case.
    pub cases: Vec<CaseRow>,
}

impl Level {
    fn new(acc: &Accumulator, cases: Vec<CaseRow>) -> Self {
        Self {
            aggregate: acc.finish(),
            cases,
        }
    }
}

/// Everything `eval` measured.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// One line saying what was compared.
    pub title: String,
    /// `png`, `nifti` or `dataset`.
    pub mode: &'static str,
    /// NIfTI label selected (`None`: label ≥ 1).
    pub label: Option<i64>,
    /// Surface-distance convention for empty masks.
    pub empty_policy: EmptyPolicy,
    /// Per-volume rows (NIfTI and dataset modes).
    pub volumes: Option<Level>,
    /// Per-slice rows.
    pub slices: Level,
    /// Warnings (orientation differences).
    pub notes: Vec<String>,
}

fn label_of(name: &str, z: Option<usize>) -> String {
    let lower = name.to_ascii_lowercase();
    let stem_len = [".nii.gz", ".nii", ".png"]
        .iter()
        .find(|e| lower.ends_with(*e))
        .map_or(name.len(), |e| name.len() - e.len());
    let stem: String = name[..stem_len]
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    match z {
        Some(z) => format!("{stem}-z{z:04}"),
        None => stem,
    }
}

/// Scores one 2D slice into the slice accumulator and offers it for pictures.
fn score_slice(
    acc: &mut Accumulator,
    picker: &mut Picker,
    pred: &Mask,
    gt: &Mask,
    what: &str,
    label: &str,
    image: impl FnOnce() -> ImageRef,
) -> Result<CaseMetrics, String> {
    let m = acc.evaluate(pred, gt).map_err(|e| format!("{what}: {e}"))?;
    let [_, h, w] = gt.dims();
    picker.offer(
        Offer {
            dice: m.scores.dice,
            label,
            width: w,
            height: h,
            pred: pred.data(),
            gt: gt.data(),
        },
        image,
    );
    Ok(m)
}

fn what(p: &Pair) -> String {
    format!("{} vs {}", p.pred.display(), p.gt.display())
}

fn eval_png(a: &EvalArgs, pairs: &[Pair], picker: &mut Picker) -> Result<Evaluation, String> {
    if a.label.is_some() {
        return Err("--label selects a value of NIfTI label volumes; PNG masks are binary".into());
    }
    let options = EvalOptions {
        empty_policy: a.empty_policy.into(),
    };
    let mut acc = Accumulator::new(options);
    let mut rows = Vec::with_capacity(pairs.len());
    for p in pairs {
        let pred = read_png_mask(&p.pred, a.spacing)?;
        let gt = read_png_mask(&p.gt, a.spacing)?;
        let ([_, ph, pw], [_, gh, gw]) = (pred.dims(), gt.dims());
        if (ph, pw) != (gh, gw) {
            return Err(format!(
                "{}: prediction is {pw}×{ph} but ground truth {} is {gw}×{gh}",
                p.pred.display(),
                p.gt.display()
            ));
        }
        let label = label_of(&p.name, None);
        let m = score_slice(&mut acc, picker, &pred, &gt, &what(p), &label, || {
            ImageRef::Png {
                gt_name: p.name.clone(),
            }
        })?;
        rows.push(CaseRow {
            case: p.name.clone(),
            slice: None,
            metrics: m,
        });
    }
    Ok(Evaluation {
        title: format!("hepaseg eval: {} PNG mask pair(s)", pairs.len()),
        mode: "png",
        label: None,
        empty_policy: options.empty_policy,
        volumes: None,
        slices: Level::new(&acc, rows),
        notes: Vec::new(),
    })
}

fn eval_nifti(a: &EvalArgs, pairs: &[Pair], picker: &mut Picker) -> Result<Evaluation, String> {
    let select = a
        .label
        .map_or(LabelSelect::AnyForeground, LabelSelect::Exactly);
    let options = EvalOptions {
        empty_policy: a.empty_policy.into(),
    };
    let mut vol_acc = Accumulator::new(options);
    let mut slice_acc = Accumulator::new(options);
    let (mut vol_rows, mut slice_rows, mut notes) = (Vec::new(), Vec::new(), Vec::new());
    for p in pairs {
        let (pred, pg) = read_nifti_mask(&p.pred, select, a.spacing)?;
        let (gt, gg) = read_nifti_mask(&p.gt, select, a.spacing)?;
        let (pd, gd) = (pred.dims(), gt.dims());
        if pd != gd {
            return Err(format!(
                "{}: prediction is {}×{}×{} but ground truth {} is {}×{}×{}",
                p.pred.display(),
                pd[2],
                pd[1],
                pd[0],
                p.gt.display(),
                gd[2],
                gd[1],
                gd[0]
            ));
        }
        let differs = pg.sform_code > 0
            && gg.sform_code > 0
            && pg
                .srow
                .iter()
                .flatten()
                .zip(gg.srow.iter().flatten())
                .any(|(x, y)| (x - y).abs() > 1e-3 * (1.0 + y.abs()));
        if differs {
            notes.push(format!(
                "{}: orientation (sform) differs from the ground truth's; voxels are compared as stored",
                p.pred.display()
            ));
        }
        let m = vol_acc
            .evaluate(&pred, &gt)
            .map_err(|e| format!("{}: {e}", what(p)))?;
        vol_rows.push(CaseRow {
            case: p.name.clone(),
            slice: None,
            metrics: m,
        });
        for z in 0..gd[0] {
            let sp = pred.slice(z).map_err(|e| e.to_string())?;
            let sg = gt.slice(z).map_err(|e| e.to_string())?;
            let label = label_of(&p.name, Some(z));
            let m = score_slice(&mut slice_acc, picker, &sp, &sg, &what(p), &label, || {
                ImageRef::Volume {
                    gt_name: p.name.clone(),
                    z,
                }
            })?;
            slice_rows.push(CaseRow {
                case: p.name.clone(),
                slice: Some(z),
                metrics: m,
            });
        }
    }
    let sel = match select {
        LabelSelect::AnyForeground => "label ≥ 1".to_owned(),
        LabelSelect::Exactly(k) => format!("label {k}"),
    };
    Ok(Evaluation {
        title: format!("hepaseg eval: {} NIfTI volume pair(s), {sel}", pairs.len()),
        mode: "nifti",
        label: a.label,
        empty_policy: options.empty_policy,
        volumes: Some(Level::new(&vol_acc, vol_rows)),
        slices: Level::new(&slice_acc, slice_rows),
        notes,
    })
}

/// Stages the overlay pictures of the picked slices.
fn stage_overlays(
    staging: &mut Staging,
    dir: &Path,
    picker: &Picker,
    ct: &mut CtSource,
) -> Result<usize, String> {
    staging.dir(dir)?;
    let mut n = 0;
    for (prefix, list) in [("worst", &picker.worst), ("best", &picker.best)] {
        for (rank, p) in list.iter().enumerate() {
            let grey = ct.plane(p)?;
            let mut pic = Canvas::grey(p.width, p.height, grey.as_deref());
            pic.compare(&p.pred, &p.gt, 0.55);
            let name = format!("{prefix}-{:02}-{}.png", rank + 1, p.label);
            staging.add(&dir.join(name), |path| pic.write_png(path))?;
            n += 1;
        }
    }
    Ok(n)
}

/// Scores what `a` names (saved masks, or a blob or checkpoint on a dataset split) without
/// writing anything: the numbers behind `hepaseg eval`'s table, for callers such as
/// `hepaseg ablate`.
pub fn evaluate(a: &EvalArgs) -> Result<Evaluation, String> {
    evaluate_picking(a, &mut Picker::new(0, 0))
}

/// [`evaluate`], offering every slice to `picker` for the overlay pictures.
fn evaluate_picking(a: &EvalArgs, picker: &mut Picker) -> Result<Evaluation, String> {
    if a.tta && a.data.is_none() {
        return Err(
            "--tta averages a network's outputs: use it with --blob or --checkpoint and \
                    --data, not with saved masks"
                .into(),
        );
    }
    Ok(match (&a.pred_dir, &a.gt_dir, &a.blob, &a.data) {
        (Some(p), Some(g), None, _) => {
            let (kind, pairs) = pair_dirs(p, g)?;
            if a.images.as_deref().is_some_and(Path::is_file) && kind == MaskKind::Png {
                return Err("--images must be a directory of CT PNGs for PNG masks".into());
            }
            match kind {
                MaskKind::Png => eval_png(a, &pairs, picker)?,
                MaskKind::Nifti => eval_nifti(a, &pairs, picker)?,
            }
        }
        (None, None, _, Some(data)) => dataset::run(a, data, picker)?,
        _ => {
            return Err(
                "give --pred-dir and --gt-dir (saved masks), or --blob or --checkpoint with \
                 --data (a model on a dataset split)"
                    .into(),
            )
        }
    })
}

/// Runs `hepaseg eval`; returns the table (and what was written).
pub fn run(a: &EvalArgs) -> Result<String, String> {
    if !a.threshold.is_finite() {
        return Err(format!(
            "--threshold must be a finite logit, not {}",
            a.threshold
        ));
    }
    let n_pick = |n: usize| if a.overlays.is_some() { n } else { 0 };
    let mut picker = Picker::new(n_pick(a.worst), n_pick(a.best));
    let evaluation = evaluate_picking(a, &mut picker)?;
    let mut staging = Staging::new();
    let mut wrote = Vec::new();
    if let Some(path) = &a.json {
        let text = export::json(&evaluation)?;
        staging.add(path, |p| {
            crate::data::atomic::write_bytes_atomic(p, text.as_bytes())
        })?;
        wrote.push(format!("JSON {}", path.display()));
    }
    if let Some(path) = &a.csv {
        let text = export::csv(&evaluation);
        staging.add(path, |p| {
            crate::data::atomic::write_bytes_atomic(p, text.as_bytes())
        })?;
        wrote.push(format!("CSV {}", path.display()));
    }
    if let Some(dir) = &a.overlays {
        let mut ct = CtSource::new(a.images.as_deref(), a.window);
        let n = stage_overlays(&mut staging, dir, &picker, &mut ct)?;
        wrote.push(format!("{n} overlay(s) in {}", dir.display()));
    }
    staging.commit()?;
    let mut out = table::render(&evaluation);
    for w in wrote {
        out.push_str(&format!("\nwrote {w}"));
    }
    Ok(out)
}
