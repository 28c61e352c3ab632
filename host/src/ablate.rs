//! `hepaseg ablate`: the papers' ablation matrix, trained and scored under one budget.
//!
//! CAFCT-Net's Table 4 removes one module at a time from the full network (w/o Transformer,
//! w/o AFF, w/o ASPP, w/o AGs); AGCAF-Net's Table 2 adds modules to the ResNet-18 backbone
//! (backbone only, +CPM, +AFM, +CPM+AFM). Each variant is a core preset (`tiny-no-aff`,
//! `tiny-cpm`, …), so every variant here is a real network that also exports to a blob.
//!
//! Every variant is trained with the same seed, recipe and budget (`hepaseg train`), then its
//! best checkpoint (else its last) is scored on the test patients of the same patient-level
//! split (`hepaseg eval --checkpoint`, host f32 forward). The table reports, as the papers do,
//! mIoU, Dice and F-measure, each with its difference to the full network in brackets.
//!
//! Which aggregate each column is (the papers do not say): **mIoU** and **F-measure** are the
//! means over test slices (2D cases; a slice where both masks are empty scores 1, SPEC §4),
//! **Dice** is the global (pooled) Dice of all test pixels. For binary masks the F1 of a
//! slice equals its Dice, so the F-measure column is also the per-slice mean Dice.

use crate::eval::{self, EvalArgs, Evaluation};
use crate::registry::{self, Model};
use crate::train::run::{self as train_run, TrainArgs};
use clap::Parser;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// `hepaseg ablate` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct AblateArgs {
    /// Dataset folder (lits-png, LiTS NIfTI or MSD; e.g. from `hepaseg synth`).
    #[arg(long)]
    pub data: PathBuf,
    /// Architecture whose ablation matrix to run.
    #[arg(long, value_enum)]
    pub model: Model,
    /// Base preset; its ablation presets are `<preset>-<variant>` (today: tiny).
    #[arg(long, default_value = "tiny")]
    pub preset: String,
    /// Output folder (new or empty): one run folder per variant, ablation.md, ablation.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Epochs per variant.
    #[arg(long, default_value_t = 10)]
    pub epochs: u64,
    /// Training-time budget per variant, in minutes (stops after saving).
    #[arg(long)]
    pub max_minutes: Option<f64>,
    /// Optimizer-step budget per variant.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Slices per batch.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Seed (initialisation, split, order, augmentation) — the same for every variant.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// What the masks mark.
    #[arg(long, default_value = "tumor", value_parser = ["tumor", "liver"])]
    pub target: String,
    /// Extra `hepaseg train` options passed to every variant, e.g. `--train-arg=--lr=0.01`
    /// (repeatable; the options above and --data/--model/--preset/--out are set here).
    #[arg(long = "train-arg", allow_hyphen_values = true)]
    pub train_args: Vec<String>,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

/// One variant of the matrix: a core preset and the label the paper's table gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    /// Preset suffix after `<base>` (`""` is the base preset itself).
    pub suffix: &'static str,
    /// Row label, as in the paper's table.
    pub label: &'static str,
}

/// The full network first (the reference of the deltas), then the variants in the papers'
/// order.
pub fn variants(model: Model) -> &'static [Variant] {
    const CAFCT: &[Variant] = &[
        Variant {
            suffix: "",
            label: "CAFCT-Net (full)",
        },
        Variant {
            suffix: "-no-transformer",
            label: "w/o Transformer",
        },
        Variant {
            suffix: "-no-aff",
            label: "w/o AFF",
        },
        Variant {
            suffix: "-no-aspp",
            label: "w/o ASPP",
        },
        Variant {
            suffix: "-no-ag",
            label: "w/o AGs",
        },
    ];
    const AGCAF: &[Variant] = &[
        Variant {
            suffix: "",
            label: "ResNet-18 + CPM + AFM (AGCAF-Net)",
        },
        Variant {
            suffix: "-backbone",
            label: "ResNet-18 backbone",
        },
        Variant {
            suffix: "-cpm",
            label: "ResNet-18 + CPM",
        },
        Variant {
            suffix: "-afm",
            label: "ResNet-18 + AFM",
        },
    ];
    match model {
        Model::CafctNet => CAFCT,
        Model::AgcafNet => AGCAF,
    }
}

/// The presets of the matrix for `base`, or an error naming the bases that have one.
pub fn matrix(model: Model, base: &str) -> Result<Vec<(String, Variant)>, String> {
    let known = registry::presets(model);
    let list: Vec<(String, Variant)> = variants(model)
        .iter()
        .map(|v| (format!("{base}{}", v.suffix), *v))
        .collect();
    if list.iter().all(|(p, _)| known.contains(&p.as_str())) {
        return Ok(list);
    }
    let bases: Vec<&str> = known
        .iter()
        .copied()
        .filter(|b| {
            variants(model)
                .iter()
                .all(|v| known.contains(&format!("{b}{}", v.suffix).as_str()))
        })
        .collect();
    Err(format!(
        "{} has no ablation presets for `{base}` (the matrix exists for: {})",
        model.name(),
        bases.join(", ")
    ))
}

/// One row of the result table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The paper's label.
    pub label: String,
    /// The core preset trained.
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

/// The `hepaseg train` options of one variant.
fn train_args(a: &AblateArgs, preset: &str, out: &Path) -> Result<TrainArgs, String> {
    let mut argv = vec![
        format!("--data={}", path_arg(&a.data)),
        format!("--model={}", a.model.name()),
        format!("--preset={preset}"),
        format!("--out={}", path_arg(out)),
        format!("--epochs={}", a.epochs),
        format!("--batch={}", a.batch),
        format!("--seed={}", a.seed),
        format!("--target={}", a.target),
    ];
    if let Some(m) = a.max_minutes {
        argv.push(format!("--max-minutes={m}"));
    }
    if let Some(s) = a.max_steps {
        argv.push(format!("--max-steps={s}"));
    }
    if a.quiet {
        argv.push("--quiet".into());
    }
    argv.extend(a.train_args.iter().cloned());
    parse("train", argv)
}

/// Scores `checkpoint` on the test patients of the run's split.
fn score(a: &AblateArgs, checkpoint: &Path) -> Result<Evaluation, String> {
    let argv = vec![
        format!("--checkpoint={}", path_arg(checkpoint)),
        format!("--data={}", path_arg(&a.data)),
        "--split=test".into(),
        format!("--split-seed={}", a.seed),
        format!("--target={}", a.target),
    ];
    let args: EvalArgs = parse("eval", argv)?;
    eval::evaluate(&args)
}

fn ensure_empty_dir(dir: &Path) -> Result<(), String> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(format!(
                    "{}: the output folder is not empty (ablate writes one run folder per \
                     variant; choose a new folder)",
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

/// Trains and scores one variant.
fn run_variant(a: &AblateArgs, preset: &str, v: Variant) -> Result<Row, String> {
    let dir = a.out.join(preset);
    let targs = train_args(a, preset, &dir)?;
    let started = std::time::Instant::now();
    let report = train_run::train(&targs).map_err(|e| format!("{} ({preset}): {e}", v.label))?;
    let train_minutes = started.elapsed().as_secs_f64() / 60.0;
    let checkpoint = ["best.safetensors", "last.safetensors"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{}: training wrote no checkpoint", dir.display()))?;
    let e = score(a, &checkpoint).map_err(|e| format!("{} ({preset}): {e}", v.label))?;
    let agg = e
        .slices
        .aggregate
        .ok_or_else(|| format!("{} ({preset}): the test split has no slices", v.label))?;
    let params = registry::summary(a.model, preset).map_or(0, |s| s.params);
    Ok(Row {
        label: v.label.to_owned(),
        preset: preset.to_owned(),
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

/// `x (±d)` in percent, with the difference to the reference row (none for the reference).
fn pct(x: f64, reference: Option<f64>) -> String {
    match reference {
        Some(r) => format!("{:.2} ({:+.2})", 100.0 * x, 100.0 * (x - r)),
        None => format!("{:.2}", 100.0 * x),
    }
}

/// The Markdown table, shaped like the papers' ablation tables, with a line on the setup.
pub fn markdown(a: &AblateArgs, rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Ablation: {} `{}` — target {}\n",
        a.model.name(),
        a.preset,
        a.target
    );
    let _ = writeln!(
        out,
        "Same seed ({}), recipe and budget for every variant (epochs {}, max minutes {}, \
         max steps {}, batch {}{}); scored on the test patients of the seed-{} split. \
         mIoU and F-measure: mean over test slices; Dice: global (pooled). Brackets: \
         difference to the full network, in points.\n",
        a.seed,
        a.epochs,
        a.max_minutes.map_or("—".into(), |m| m.to_string()),
        a.max_steps.map_or("—".into(), |s| s.to_string()),
        a.batch,
        if a.train_args.is_empty() {
            String::new()
        } else {
            format!(", train options `{}`", a.train_args.join(" "))
        },
        a.seed
    );
    let _ = writeln!(
        out,
        "| Method | preset | params | mIoU (%) | Dice (%) | F-measure (%) | steps | train min |"
    );
    let _ = writeln!(
        out,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let reference = rows.first();
    for (i, r) in rows.iter().enumerate() {
        let base = |f: fn(&Row) -> f64| if i == 0 { None } else { reference.map(f) };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {:.1} |",
            r.label,
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

/// Runs `hepaseg ablate`; returns the table.
pub fn run(a: &AblateArgs) -> Result<String, String> {
    let list = matrix(a.model, &a.preset)?;
    ensure_empty_dir(&a.out)?;
    let mut rows = Vec::with_capacity(list.len());
    for (preset, v) in &list {
        if !a.quiet {
            eprintln!("ablate: training {} ({preset})", v.label);
        }
        rows.push(run_variant(a, preset, *v)?);
    }
    let md = markdown(a, &rows);
    let json = serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?;
    for (name, text) in [("ablation.md", &md), ("ablation.json", &json)] {
        let path = a.out.join(name);
        crate::data::atomic::write_bytes_atomic(&path, text.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(format!(
        "{md}\nwrote {} and {}",
        a.out.join("ablation.md").display(),
        a.out.join("ablation.json").display()
    ))
}
