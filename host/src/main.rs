//! The `hepaseg` command.
use clap::{Parser, Subcommand};
use hepaseg::registry::Model;
use std::process::ExitCode;

/// hepaseg — liver-tumour segmentation in CT with CAFCT-Net and AGCAF-Net.
#[derive(Debug, Parser)]
#[command(name = "hepaseg", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a network's parameter count, MACs, arena size, shapes, fingerprint and blocks.
    Info {
        /// Architecture.
        #[arg(long, value_enum)]
        model: Model,
        /// Preset: paper, edge, tiny, or a tiny ablation (see the error message for the list).
        #[arg(long, default_value = "paper")]
        preset: String,
        /// Print JSON (keys: params, macs, arena_bytes_f32, input, output, fingerprint, blocks).
        #[arg(long)]
        json: bool,
    },
    /// Write a synthetic CT phantom dataset (lits-png in DIR, LiTS NIfTI in DIR/nifti, MSD in
    /// DIR/msd), deterministic for a seed; needs no download.
    Synth {
        /// Output directory (created; must be new or empty).
        #[arg(long)]
        out: std::path::PathBuf,
        /// Number of volumes (patients).
        #[arg(long, default_value_t = 20)]
        volumes: usize,
        /// Slice side in pixels (360 mm field of view).
        #[arg(long, default_value_t = 128)]
        size: usize,
        /// Slices per volume (48 or more cover 24 cm: the whole liver and beyond).
        #[arg(long, default_value_t = 48)]
        slices: usize,
        /// Random seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info {
            model,
            preset,
            json,
        } => hepaseg::info::run(model, &preset, json),
        Command::Synth {
            out,
            volumes,
            size,
            slices,
            seed,
        } => hepaseg::data::synth(&out, volumes, size, slices, seed)
            .map(|report| report.to_string())
            .map_err(|e| e.to_string()),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("hepaseg: {message}");
            ExitCode::from(2)
        }
    }
}
