//! `hepaseg ablate`: the papers' ablation matrix of one network, trained and scored under one
//! budget ([`super::Budget`]).
//!
//! CAFCT-Net's Table 4 removes one module at a time from the full network (w/o Transformer,
//! w/o AFF, w/o ASPP, w/o AGs); AGCAF-Net's Table 2 adds modules to the ResNet-18 backbone
//! (backbone only, +CPM, +AFM, +CPM+AFM). Each variant is a core preset (`tiny-no-aff`,
//! `tiny-cpm`, …), so every variant is a real network that also exports to a blob. The table
//! gives mIoU, Dice and F-measure with each variant's difference to the full network.

use super::{run_study, Budget, Entry};
use crate::registry::{self, Model};

/// `hepaseg ablate` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct AblateArgs {
    /// Architecture whose ablation matrix to run.
    #[arg(long, value_enum)]
    pub model: Model,
    /// Base preset; its ablation presets are `<preset>-<variant>` (today: tiny).
    #[arg(long, default_value = "tiny")]
    pub preset: String,
    /// Data, budget and output.
    #[command(flatten)]
    pub budget: Budget,
}

/// One variant of the matrix: a core preset suffix and the label the paper's table gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    /// Preset suffix after `<base>` (`""` is the base preset itself).
    pub suffix: &'static str,
    /// Row label, as in the paper's table.
    pub label: &'static str,
}

/// The full network first (the reference of the deltas), then the variants in the papers'
/// order; empty for the baselines, which the papers do not ablate.
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
        Model::Unet | Model::AttentionUnet => &[],
    }
}

/// The entries of the matrix for `base`, or an error naming the bases that have one.
pub fn matrix(model: Model, base: &str) -> Result<Vec<Entry>, String> {
    if variants(model).is_empty() {
        return Err(format!(
            "{} is a baseline without an ablation matrix (the papers ablate CAFCT-Net and \
             AGCAF-Net)",
            model.name()
        ));
    }
    let known = registry::presets(model);
    let has_matrix = |b: &str| {
        variants(model)
            .iter()
            .all(|v| known.contains(&format!("{b}{}", v.suffix).as_str()))
    };
    if !has_matrix(base) {
        let bases: Vec<&str> = known.iter().copied().filter(|b| has_matrix(b)).collect();
        return Err(format!(
            "{} has no ablation presets for `{base}` (the matrix exists for: {})",
            model.name(),
            bases.join(", ")
        ));
    }
    Ok(variants(model)
        .iter()
        .map(|v| Entry {
            label: v.label.to_owned(),
            model,
            preset: format!("{base}{}", v.suffix),
        })
        .collect())
}

/// Runs `hepaseg ablate`; returns the table. Writes OUT/ablation.md and OUT/ablation.json.
pub fn run(a: &AblateArgs) -> Result<String, String> {
    let entries = matrix(a.model, &a.preset)?;
    let title = format!(
        "Ablation: {} `{}` — target {}",
        a.model.name(),
        a.preset,
        a.budget.target
    );
    run_study(&a.budget, &entries, &title, "ablation", true)
}
