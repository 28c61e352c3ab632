//! Studies: several networks trained and scored under one budget, tabulated like the papers.
//!
//! * [`ablate`] — a network's ablation matrix (CAFCT-Net Table 4, AGCAF-Net Table 2).
//! * [`compare`] — a list of networks, baselines included (the papers' Tables 2/3).
//!
//! Every entry is trained by `hepaseg train` with the same seed, recipe and budget
//! ([`Budget`]) into its own run folder, then its best checkpoint (else its last) is scored on
//! the test patients of the same patient-level split (`hepaseg eval --checkpoint`, host f32
//! forward pass), so the rows differ only by the network.
//!
//! Which aggregate each column is (the papers do not say): **mIoU** and **F-measure** are the
//! means over test slices (2D cases; a slice where both masks are empty scores 1, SPEC §4),
//! **Dice** is the global (pooled) Dice of all test pixels. For binary masks the F1 of a
//! slice equals its Dice, so the F-measure column is also the per-slice mean Dice.

pub mod ablate;
pub mod compare;

use crate::eval::{self, EvalArgs, Evaluation};
use crate::registry::Model;
use crate::train::run::{self as train_run, TrainArgs};
use clap::Parser;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What every entry of a study shares: data, budget, seed, target and output folder.
#[derive(Debug, Clone, clap::Args)]
pub struct Budget {
    /// Dataset folder (lits-png, LiTS NIfTI or MSD; e.g. from `hepaseg synth`).
    #[arg(long)]
    pub data: PathBuf,
    /// Output folder (new or empty): one run folder per entry, the table (.md) and .json.
    #[arg(long)]
    pub out: PathBuf,
    /// Epochs per entry.
    #[arg(long, default_value_t = 10)]
    pub epochs: u64,
    /// Training-time budget per entry, in minutes (stops after saving).
    #[arg(long)]
    pub max_minutes: Option<f64>,
    /// Optimizer-step budget per entry.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Slices per batch.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Seed (initialisation, split, order, augmentation) — the same for every entry.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// What the masks mark.
    #[arg(long, default_value = "tumor", value_parser = ["tumor", "liver"])]
    pub target: String,
    /// Extra `hepaseg train` options for every entry, e.g. `--train-arg=--lr=0.01`
    /// (repeatable; the options above and --model/--preset are set by the study). Without
    /// `--lr`/`--optimizer`/`--loss` each network trains with its own paper recipe.
    #[arg(long = "train-arg", allow_hyphen_values = true)]
    pub train_args: Vec<String>,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

/// One entry to train and score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Row label.
    pub label: String,
    /// Architecture.
    pub model: Model,
    /// Preset.
    pub preset: String,
}

impl Entry {
    /// The run folder name: `<model>-<preset>`.
    fn folder(&self) -> String {
        format!("{}-{}", self.model.name(), self.preset)
    }
}

/// One row of a study's table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The label (the paper's wording).
    pub label: String,
    /// Architecture name.
    pub model: String,
    /// The preset trained.
    pub preset: String,
    /// Trainable parameters.
    pub params: usize,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Wall-clock training time in minutes.
    pub train_minutes: f64,
    /// Best validation Dice seen during training (pooled).
    pub best_val_dice: f64,
    /// The checkpoint scored.
    pub checkpoint: PathBuf,
    /// Test slices scored.
    pub test_slices: usize,
    /// Mean over test slices of the foreground IoU.
    pub miou: f64,
    /// Global (pooled) Dice over the test slices.
    pub dice: f64,
    /// Mean over test slices of F1.
    pub f_measure: f64,
}

/// Wraps an argument group so it can be parsed from an argument list like the command line.
#[derive(Debug, Parser)]
struct Wrap<A: clap::Args> {
    #[command(flatten)]
    inner: A,
}

fn parse<A: clap::Args>(name: &str, argv: Vec<String>) -> Result<A, String> {
    Wrap::<A>::try_parse_from(std::iter::once(name.to_owned()).chain(argv))
        .map(|w| w.inner)
        .map_err(|e| format!("{name} options: {e}"))
}

fn path_arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The `hepaseg train` options of one entry.
fn train_args(b: &Budget, e: &Entry, out: &Path) -> Result<TrainArgs, String> {
    let mut argv = vec![
        format!("--data={}", path_arg(&b.data)),
        format!("--model={}", e.model.name()),
        format!("--preset={}", e.preset),
        format!("--out={}", path_arg(out)),
        format!("--epochs={}", b.epochs),
        format!("--batch={}", b.batch),
        format!("--seed={}", b.seed),
        format!("--target={}", b.target),
    ];
    if let Some(m) = b.max_minutes {
        argv.push(format!("--max-minutes={m}"));
    }
    if let Some(s) = b.max_steps {
        argv.push(format!("--max-steps={s}"));
    }
    if b.quiet {
        argv.push("--quiet".into());
    }
    argv.extend(b.train_args.iter().cloned());
    parse("train", argv)
}

/// Scores `checkpoint` on the test patients of the budget's split.
fn score(b: &Budget, checkpoint: &Path) -> Result<Evaluation, String> {
    let argv = vec![
        format!("--checkpoint={}", path_arg(checkpoint)),
        format!("--data={}", path_arg(&b.data)),
        "--split=test".into(),
        format!("--split-seed={}", b.seed),
        format!("--target={}", b.target),
    ];
    let args: EvalArgs = parse("eval", argv)?;
    eval::evaluate(&args)
}

fn ensure_empty_dir(dir: &Path) -> Result<(), String> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(format!(
                    "{}: the output folder is not empty (a study writes one run folder per \
                     network; choose a new folder)",
                    dir.display()
                ));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir)
            .map_err(|e| format!("{}: cannot create the output folder: {e}", dir.display())),
        Err(e) => Err(format!("{}: {e}", dir.display())),
    }
}

/// Trains and scores one entry in `b.out/<model>-<preset>`.
fn train_and_score(b: &Budget, e: &Entry) -> Result<Row, String> {
    let dir = b.out.join(e.folder());
    let what = format!("{} ({} {})", e.label, e.model.name(), e.preset);
    let targs = train_args(b, e, &dir)?;
    let started = std::time::Instant::now();
    let report = train_run::train(&targs).map_err(|err| format!("{what}: {err}"))?;
    let train_minutes = started.elapsed().as_secs_f64() / 60.0;
    let checkpoint = ["best.safetensors", "last.safetensors"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{}: training wrote no checkpoint", dir.display()))?;
    let evaluation = score(b, &checkpoint).map_err(|err| format!("{what}: {err}"))?;
    let agg = evaluation
        .slices
        .aggregate
        .ok_or_else(|| format!("{what}: the test split has no slices"))?;
    let params = crate::models::identity(e.model, &e.preset).map_or(0, |id| id.params);
    Ok(Row {
        label: e.label.clone(),
        model: e.model.name().to_owned(),
        preset: e.preset.clone(),
        params,
        steps: report.steps,
        train_minutes,
        best_val_dice: report.best_dice,
        checkpoint,
        test_slices: agg.cases,
        miou: agg.per_case_mean.iou,
        dice: agg.global.dice,
        f_measure: agg.per_case_mean.f1,
    })
}

/// `x (±d)` in percent, with the difference to the reference (none for the reference).
fn pct(x: f64, reference: Option<f64>) -> String {
    match reference {
        Some(r) => format!("{:.2} ({:+.2})", 100.0 * x, 100.0 * (x - r)),
        None => format!("{:.2}", 100.0 * x),
    }
}

/// The setup line under a table's title.
fn setup_line(b: &Budget) -> String {
    format!(
        "Same seed ({}), budget and options for every row (epochs {}, max minutes {}, max \
         steps {}, batch {}{}); scored on the test patients of the seed-{} split, target {}. \
         mIoU and F-measure: mean over test slices; Dice: global (pooled).",
        b.seed,
        b.epochs,
        b.max_minutes.map_or("—".into(), |m| m.to_string()),
        b.max_steps.map_or("—".into(), |s| s.to_string()),
        b.batch,
        if b.train_args.is_empty() {
            ", each network's paper recipe".to_owned()
        } else {
            format!(", train options `{}`", b.train_args.join(" "))
        },
        b.seed,
        b.target
    )
}

/// A Markdown table of `rows`; with `deltas`, every row after the first shows its difference
/// to the first in brackets (the papers' ablation style).
pub fn table(rows: &[Row], deltas: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| Method | network | preset | params | mIoU (%) | Dice (%) | F-measure (%) | steps | \
         train min |"
    );
    let _ = writeln!(
        out,
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let reference = rows.first();
    for (i, r) in rows.iter().enumerate() {
        let base = |f: fn(&Row) -> f64| {
            if deltas && i > 0 {
                reference.map(f)
            } else {
                None
            }
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} |",
            r.label,
            r.model,
            r.preset,
            r.params,
            pct(r.miou, base(|r| r.miou)),
            pct(r.dice, base(|r| r.dice)),
            pct(r.f_measure, base(|r| r.f_measure)),
            r.steps,
            r.train_minutes
        );
    }
    out
}

/// Trains and scores every entry, writes `<name>.md` (title, setup, table) and
/// `<name>.json` atomically into `b.out`, and returns the Markdown and a line on the files.
fn run_study(
    b: &Budget,
    entries: &[Entry],
    title: &str,
    name: &str,
    deltas: bool,
) -> Result<String, String> {
    ensure_empty_dir(&b.out)?;
    let mut rows = Vec::with_capacity(entries.len());
    for e in entries {
        if !b.quiet {
            eprintln!(
                "{name}: training {} ({} {})",
                e.label,
                e.model.name(),
                e.preset
            );
        }
        rows.push(train_and_score(b, e)?);
    }
    let mut md = format!("# {title}\n\n{}", setup_line(b));
    if deltas {
        md.push_str(" Brackets: difference to the first row, in points.");
    }
    md.push_str("\n\n");
    md.push_str(&table(&rows, deltas));
    let json = serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?;
    let (md_path, json_path) = (
        b.out.join(format!("{name}.md")),
        b.out.join(format!("{name}.json")),
    );
    for (path, text) in [(&md_path, &md), (&json_path, &json)] {
        crate::data::atomic::write_bytes_atomic(path, text.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(format!(
        "{md}\nwrote {} and {}",
        md_path.display(),
        json_path.display()
    ))
}
