use clap::Parser;

/// hepaseg — liver-tumour segmentation in CT with CAFCT-Net and AGCAF-Net.
#[derive(Debug, Parser)]
#[command(name = "hepaseg", version, about, long_about = None)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
