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
    /// Generate an Ed25519 key pair for signing weight blobs.
    ///
    /// Writes KEY (secret, mode 0600) and KEY.pub (public; what a device compiles in), both
    /// raw 32-byte files.
    Keygen {
        /// Secret-key file to create (the public key goes to the same path + ".pub").
        #[arg(long)]
        out: std::path::PathBuf,
        /// Replace an existing key pair.
        #[arg(long)]
        force: bool,
    },
    /// Write a weight blob (docs/blob-format.md).
    ///
    /// Today only --random-init: a development aid that writes a seed-initialised f32 network
    /// (untrained) so loading, signing and the f32 engine can be exercised; checkpoint export
    /// comes with the quantizer.
    Export {
        /// Write seed-initialised (untrained) f32 parameters.
        #[arg(long)]
        random_init: bool,
        /// Architecture.
        #[arg(long, value_enum)]
        model: Model,
        /// Preset: paper, edge, tiny, or a tiny ablation.
        #[arg(long, default_value = "tiny")]
        preset: String,
        /// Seed of the initialisation.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output blob (written atomically: a temporary file, then a rename).
        #[arg(long)]
        out: std::path::PathBuf,
        /// Sign with this Ed25519 secret key (from `hepaseg keygen`).
        #[arg(long)]
        sign: Option<std::path::PathBuf>,
    },
    /// Show a weight blob's header, tensors, checksum and signature status.
    ///
    /// Shows network, preset, fingerprint (and whether it matches this build's network),
    /// tensors with shapes, dtypes and scales. Fails on a damaged or malformed blob, and on a
    /// signature that does not verify with --pubkey.
    Inspect {
        /// The blob.
        blob: std::path::PathBuf,
        /// Verify the signature with this public key (KEY.pub); fails if it does not verify.
        #[arg(long)]
        pubkey: Option<std::path::PathBuf>,
        /// Print JSON (keys: file, size, format_version, model, preset, fingerprint,
        /// fingerprint_matches, quant_scheme, tensor_count, checksum, signature, tensors).
        #[arg(long)]
        json: bool,
    },
    /// Segment tumours in a PNG slice, a PNG directory, a NIfTI volume or a DICOM series with
    /// a weight blob on the core engine; writes masks (PNG / NIfTI with the input's geometry)
    /// and overlays, and reports tumour count, volume and time per slice.
    Segment(hepaseg::segment::SegmentArgs),
    /// Score masks against ground truth (LiTS metrics): saved masks of any tool paired by
    /// file name (--pred-dir/--gt-dir), or a weight blob on a dataset split (--blob/--data).
    Eval(hepaseg::eval::EvalArgs),
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
        Command::Keygen { out, force } => hepaseg::blob::keygen(&out, force)
            .map(|report| report.to_string())
            .map_err(|e| e.to_string()),
        Command::Export {
            random_init,
            model,
            preset,
            seed,
            out,
            sign,
        } => {
            if random_init {
                hepaseg::blob::export_random_init(model, &preset, seed, &out, sign.as_deref())
            } else {
                Err(
                    "export needs --random-init for now (a development aid); exporting a \
                     trained checkpoint comes with the quantizer"
                        .to_owned(),
                )
            }
        }
        Command::Inspect { blob, pubkey, json } => {
            hepaseg::blob::inspect(&blob, pubkey.as_deref(), json)
        }
        Command::Segment(args) => hepaseg::segment::run(&args),
        Command::Eval(args) => hepaseg::eval::run(&args),
    };
    match result {
        Ok(text) => emit(&text),
        Err(message) => {
            eprintln!("hepaseg: {message}");
            ExitCode::from(2)
        }
    }
}

/// Writes a command's output to stdout. A reader that goes away early (`hepaseg … | head`)
/// is not an error of ours: stop quietly with success instead of panicking like `print!`.
fn emit(text: &str) -> ExitCode {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let newline = if text.ends_with('\n') { "" } else { "\n" };
    match write!(out, "{text}{newline}").and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hepaseg: cannot write output: {e}");
            ExitCode::from(2)
        }
    }
}
