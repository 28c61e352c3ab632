//! `hepaseg compare`: several networks — the two papers' and their baselines (U-Net,
//! Attention U-Net) — trained and scored on one split under one budget
//! ([`super::Budget`]), in one table shaped like the papers' Tables 2/3.

use super::{run_study, Budget, Entry};
use crate::registry::Model;

/// `hepaseg compare` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// Networks to compare, in table order (comma-separated or repeated).
    #[arg(
        long = "models",
        value_enum,
        value_delimiter = ',',
        default_value = "unet,attention-unet,agcaf-net,cafct-net"
    )]
    pub models: Vec<Model>,
    /// Preset of every network (tiny, edge or paper).
    #[arg(long, default_value = "tiny")]
    pub preset: String,
    /// Data, budget and output.
    #[command(flatten)]
    pub budget: Budget,
}

/// The label of a network in the table (the papers' names).
pub fn label(model: Model) -> &'static str {
    match model {
        Model::Unet => "U-Net",
        Model::AttentionUnet => "Attention U-Net",
        Model::AgcafNet => "AGCAF-Net",
        Model::CafctNet => "CAFCT-Net",
    }
}

/// The entries for `models` at `preset`; every (network, preset) must exist, and each network
/// may appear once.
pub fn entries(models: &[Model], preset: &str) -> Result<Vec<Entry>, String> {
    if models.is_empty() {
        return Err("--models: name at least one network".into());
    }
    let mut out: Vec<Entry> = Vec::with_capacity(models.len());
    for &m in models {
        if out.iter().any(|e| e.model == m) {
            return Err(format!("--models names {} twice", m.name()));
        }
        if crate::models::identity(m, preset).is_none() {
            return Err(format!(
                "{} has no preset `{preset}` (every compared network trains at the same preset)",
                m.name()
            ));
        }
        out.push(Entry {
            label: label(m).to_owned(),
            model: m,
            preset: preset.to_owned(),
        });
    }
    Ok(out)
}

/// Runs `hepaseg compare`; returns the table. Writes OUT/compare.md and OUT/compare.json.
pub fn run(a: &CompareArgs) -> Result<String, String> {
    let entries = entries(&a.models, &a.preset)?;
    let title = format!(
        "Comparison at preset `{}` — target {}",
        a.preset, a.budget.target
    );
    run_study(&a.budget, &entries, &title, "compare", false)
}
