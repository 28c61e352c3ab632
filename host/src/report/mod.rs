//! `hepaseg report RUN_DIR`: a training run's loss and validation curves as a PNG and a
//! Markdown summary (configuration, best epoch, metrics per epoch, and — given an int8 blob —
//! the trained network in f32 against int8 on the validation split).
//!
//! `hepaseg train` refreshes `RUN_DIR/curves.png` at the end of every epoch
//! ([`refresh_curves`]) and writes `RUN_DIR/config.json` when it starts ([`write_config`]), so a
//! run can be watched while it trains; the report reads what the run left behind:
//! `metrics.csv`, `config.json` (if any) and the checkpoints' metadata.

pub mod compare;
pub mod font;
pub mod metrics_csv;
pub mod plot;

use crate::data::atomic::write_bytes_atomic;
use crate::data::Target;
use crate::eval::dataset::open_split;
use crate::eval::SplitChoice;
use crate::segment::host_engine::CheckpointNet;
use crate::segment::output::Staging;
use crate::segment::{load_engine, BlobFile, EngineKind, SliceNet};
use crate::train::checkpoint::Checkpoint;
use crate::train::run::TrainArgs;
use compare::Agreement;
use metrics_csv::EpochRow;
use plot::{Panel, Series};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// File name of the curves picture in a run folder.
pub const CURVES: &str = "curves.png";
/// File name of the run configuration in a run folder.
pub const CONFIG: &str = "config.json";
/// Size of the curves picture.
const CURVES_SIZE: [usize; 2] = [960, 720];

/// The options of `hepaseg report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Run folder of `hepaseg train` (metrics.csv, checkpoints, config.json).
    pub run_dir: PathBuf,
    /// Also compare the run's best checkpoint (host f32) with this int8 blob of it (from
    /// `export --quantize int8 --checkpoint RUN_DIR/best.safetensors`).
    #[arg(long)]
    pub blob: Option<PathBuf>,
    /// Dataset of the comparison [default: the run's --data from config.json].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Split of the comparison (patients of the run's seed).
    #[arg(long, value_enum, default_value_t = SplitChoice::Val)]
    pub split: SplitChoice,
    /// What the masks mark [default: the run's --target from config.json, else tumor].
    #[arg(long, value_parser = ["tumor", "liver"])]
    pub target: Option<String>,
    /// Where to write curves.png and report.md [default: RUN_DIR].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Writes `RUN_DIR/config.json`: the options of a training run as given (`null`: the
/// network's default recipe, or no limit for `max_*`), so that a report can state them.
pub fn write_config(a: &TrainArgs) -> Result<(), String> {
    let opt = |v: Option<String>| v.map_or(serde_json::Value::Null, serde_json::Value::String);
    // The names the command line takes (`bce-dice`, not the Rust variant).
    fn name(v: impl clap::ValueEnum) -> String {
        v.to_possible_value()
            .map(|p| p.get_name().to_owned())
            .unwrap_or_default()
    }
    let json = serde_json::json!({
        "data": a.data.display().to_string(),
        "model": a.model.name(),
        "preset": a.preset,
        "target": a.target,
        "epochs": a.epochs,
        "batch": a.batch,
        "lr": a.lr,
        "optimizer": opt(a.optimizer.map(name)),
        "weight_decay": a.weight_decay,
        "schedule": name(a.schedule),
        "loss": opt(a.loss.map(name)),
        "dice_over": opt(a.dice_over.map(name)),
        "prior": a.prior,
        "seed": a.seed,
        "liver_slices_only": a.liver_slices_only,
        "max_minutes": a.max_minutes,
        "max_steps": a.max_steps,
        "device": a.device,
    });
    let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    write_bytes_atomic(&a.out.join(CONFIG), text.as_bytes()).map_err(|e| e.to_string())
}

/// The curves of `rows`: training loss above, validation Dice and IoU (0–1) below.
pub fn curves(rows: &[EpochRow]) -> crate::eval::overlay::Canvas {
    let pts = |f: fn(&EpochRow) -> f64| -> Vec<(f64, f64)> {
        rows.iter().map(|r| (r.epoch as f64, f(r))).collect()
    };
    let panels = [
        Panel {
            title: "training loss (epoch mean)".into(),
            y_range: None,
            series: vec![Series {
                label: "loss".into(),
                colour: [200, 60, 20],
                points: pts(|r| r.train_loss),
            }],
        },
        Panel {
            title: "validation (pooled)".into(),
            y_range: Some((0.0, 1.0)),
            series: vec![
                Series {
                    label: "Dice".into(),
                    colour: [20, 90, 200],
                    points: pts(|r| r.val_dice),
                },
                Series {
                    label: "IoU".into(),
                    colour: [30, 160, 70],
                    points: pts(|r| r.val_iou),
                },
            ],
        },
    ];
    plot::render(&panels, "epoch", CURVES_SIZE[0], CURVES_SIZE[1])
}

/// Re-draws `RUN_DIR/curves.png` from `RUN_DIR/metrics.csv` (atomically); returns its path.
pub fn refresh_curves(run_dir: &Path) -> Result<PathBuf, String> {
    let rows = metrics_csv::read(&run_dir.join("metrics.csv"))?;
    let path = run_dir.join(CURVES);
    curves(&rows)
        .write_png(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// The run's configuration: `config.json` if the run wrote one.
fn read_config(run_dir: &Path) -> Result<Option<serde_json::Value>, String> {
    let path = run_dir.join(CONFIG);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("{}: not valid JSON: {e}", path.display()))
}

/// The checkpoint the report describes: best, else last.
fn checkpoint_path(run_dir: &Path) -> Option<PathBuf> {
    ["best.safetensors", "last.safetensors"]
        .iter()
        .map(|n| run_dir.join(n))
        .find(|p| p.is_file())
}

fn md_value(key: &str, v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null if key.starts_with("max_") => "(no limit)".into(),
        serde_json::Value::Null => "(network default)".into(),
        serde_json::Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

/// The f32 vs int8 section.
fn comparison_md(a: &Agreement, split: SplitChoice, f32_name: &str, int8_name: &str) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "## f32 vs int8 ({split:?} split: {} slices, {} pixels)\n",
        a.slices, a.pixels
    );
    let _ = writeln!(md, "| engine | network | Dice | IoU |\n|---|---|---:|---:|");
    let _ = writeln!(
        md,
        "| f32 (host, checkpoint) | {f32_name} | {:.4} | {:.4} |",
        a.f32.dice(),
        a.f32.iou()
    );
    let _ = writeln!(
        md,
        "| int8 (core) | {int8_name} | {:.4} | {:.4} |\n",
        a.int8.dice(),
        a.int8.iou()
    );
    let _ = writeln!(
        md,
        "Dice difference int8 − f32: {:+.4}; mask pixel agreement {:.4} %; Dice of the int8 \
         masks against the f32 masks {:.4}.\n",
        a.int8.dice() - a.f32.dice(),
        100.0 * a.agreement(),
        a.int8_vs_f32.dice()
    );
    md
}

/// Runs `hepaseg report`; returns the Markdown it wrote.
pub fn run(a: &ReportArgs) -> Result<String, String> {
    let dir = &a.run_dir;
    if !dir.is_dir() {
        return Err(format!("{}: not a run folder", dir.display()));
    }
    let rows = metrics_csv::read(&dir.join("metrics.csv"))?;
    let config = read_config(dir)?;
    let ckpt_path = checkpoint_path(dir);
    let ckpt = ckpt_path.as_deref().map(Checkpoint::load).transpose()?;
    let out = a.out.clone().unwrap_or_else(|| dir.clone());

    let mut md = String::new();
    let _ = writeln!(md, "# Training report: `{}`\n", dir.display());
    let _ = writeln!(md, "## Configuration\n\n| option | value |\n|---|---|");
    match &config {
        Some(serde_json::Value::Object(map)) => {
            for (k, v) in map {
                let _ = writeln!(md, "| {k} | {} |", md_value(k, v));
            }
        }
        _ => {
            let _ = writeln!(md, "| config.json | (not written by this run) |");
        }
    }
    if let (Some(ck), Some(p)) = (&ckpt, &ckpt_path) {
        let _ = writeln!(md, "| checkpoint | `{}` |", p.display());
        for key in ["model", "preset", "fingerprint", "seed", "step"] {
            if let Ok(v) = ck.get(key) {
                let _ = writeln!(md, "| checkpoint {key} | `{v}` |");
            }
        }
    }
    let _ = writeln!(md);

    let _ = writeln!(md, "## Progress\n");
    match metrics_csv::best(&rows) {
        Some(b) => {
            let last = &rows[rows.len() - 1];
            let _ = writeln!(
                md,
                "{} epoch(s), {} step(s). Best epoch {} (step {}): validation Dice {:.4}, IoU \
                 {:.4}, training loss {:.4}. Last epoch {}: Dice {:.4}, IoU {:.4}, loss {:.4}.\n",
                rows.len(),
                last.step,
                b.epoch,
                b.step,
                b.val_dice,
                b.val_iou,
                b.train_loss,
                last.epoch,
                last.val_dice,
                last.val_iou,
                last.train_loss
            );
        }
        None => {
            let _ = writeln!(md, "No epoch has finished yet.\n");
        }
    }
    let _ = writeln!(
        md,
        "| epoch | step | training loss | val Dice | val IoU | lr |\n|---:|---:|---:|---:|---:|---:|"
    );
    for r in &rows {
        let _ = writeln!(
            md,
            "| {} | {} | {:.4} | {:.4} | {:.4} | {:.3e} |",
            r.epoch, r.step, r.train_loss, r.val_dice, r.val_iou, r.lr
        );
    }
    let _ = writeln!(md, "\n![curves]({CURVES})\n");

    if let Some(blob_path) = &a.blob {
        let cfg_str = |k: &str| {
            config
                .as_ref()
                .and_then(|c| c.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let data = a
            .data
            .clone()
            .or_else(|| cfg_str("data").map(PathBuf::from))
            .ok_or("--blob needs --data (the run's config.json does not name it)")?;
        let target = match a.target.clone().or_else(|| cfg_str("target")).as_deref() {
            Some("liver") => Target::Liver,
            _ => Target::Tumor,
        };
        let seed = config
            .as_ref()
            .and_then(|c| c.get("seed"))
            .and_then(serde_json::Value::as_u64)
            .or_else(|| ckpt.as_ref().and_then(|c| c.get_num("seed").ok()))
            .unwrap_or(0);
        let ck_path = ckpt_path
            .as_deref()
            .ok_or_else(|| format!("{}: no checkpoint to compare with", dir.display()))?;
        let mut f32_net = CheckpointNet::load(ck_path)?;
        let blob = BlobFile::read(blob_path)?;
        let mut int8_net = load_engine(&blob, EngineKind::Int8, None)?;
        let (f32_name, int8_name) = (f32_net.describe(), int8_net.describe());
        let prefix = format!("{} {} ", f32_net.model().name(), f32_net.preset());
        if !int8_name.starts_with(&prefix) {
            return Err(format!(
                "{}: holds {int8_name}, but the run trained {}",
                blob_path.display(),
                prefix.trim_end()
            ));
        }
        let [h, _] = f32_net.input_hw();
        let k = f32_net.input_channels();
        let subset = open_split(&data, h, k, target, a.split, seed)?;
        let agreement = compare::run(&mut f32_net, int8_net.as_mut(), &subset, target)?;
        md.push_str(&comparison_md(&agreement, a.split, &f32_name, &int8_name));
    }

    // Both files or neither.
    let mut staging = Staging::new();
    let (md_path, png_path) = (out.join("report.md"), out.join(CURVES));
    let pic = curves(&rows);
    staging.add(&png_path, |p| pic.write_png(p))?;
    staging.add(&md_path, |p| write_bytes_atomic(p, md.as_bytes()))?;
    staging.commit()?;
    Ok(format!(
        "{md}\nwrote {} and {}",
        md_path.display(),
        png_path.display()
    ))
}
