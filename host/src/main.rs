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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info {
            model,
            preset,
            json,
        } => hepaseg::info::run(model, &preset, json),
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
