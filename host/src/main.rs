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
        /// Print JSON (keys: params, macs, arena_bytes_f32, arena_bytes_int8, input, output,
        /// fingerprint, blocks).
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
        /// Smallest lesion diameter in mm (at --size 64 a pixel is 5.6 mm: use ≥ 10 there).
        #[arg(long, default_value_t = 2.0)]
        lesion_min_mm: f32,
        /// Largest lesion diameter in mm.
        #[arg(long, default_value_t = 30.0)]
        lesion_max_mm: f32,
        /// Most lesions per volume (one volume in six has none).
        #[arg(long, default_value_t = 5)]
        max_lesions: usize,
        /// Lowest lesion contrast against the liver in HU (negative: hypodense).
        #[arg(long, default_value_t = -30.0, allow_hyphen_values = true)]
        lesion_contrast_min_hu: f32,
        /// Highest lesion contrast against the liver in HU.
        #[arg(long, default_value_t = 40.0, allow_hyphen_values = true)]
        lesion_contrast_max_hu: f32,
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
    /// Write a weight blob (docs/blob-format.md), or with `--format onnx` an ONNX model
    /// (docs/onnx.md).
    ///
    /// Today only --random-init: a development aid that writes a seed-initialised f32 network
    /// (untrained) so loading, signing and the f32 engine can be exercised; with `--quantize
    /// int8 --calib DIR` it is quantized (post-training, calibrated on DIR) into an int8 blob.
    Export {
        /// Output format: `blob` (core's weight blob) or `onnx` (an ONNX opset-17 graph with
        /// the f32 weights, for ONNX Runtime, TensorRT and other runtimes).
        #[arg(long, default_value = "blob", value_parser = ["blob", "onnx"])]
        format: String,
        /// With `--format onnx`: also write test cases into this new directory (ONNX's
        /// test_data_set_K/input_0.pb, output_0.pb: phantom slices of seed --seed and core
        /// f32's logits for them).
        #[arg(long)]
        test_data: Option<std::path::PathBuf>,
        /// Write seed-initialised (untrained) f32 parameters.
        #[arg(long)]
        random_init: bool,
        /// Export the parameters of a training checkpoint (`hepaseg train`'s *.safetensors)
        /// as an f32 blob; the preset comes from the checkpoint.
        #[arg(long, conflicts_with = "random_init")]
        checkpoint: Option<std::path::PathBuf>,
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
        /// Quantize: `int8` calibrates on --calib, writes an int8 blob (integer-only core
        /// engine) and reports f32 vs int8 on held-out slices.
        #[arg(long, value_parser = ["int8"])]
        quantize: Option<String>,
        /// Calibration dataset folder (lits-png, LiTS NIfTI or MSD; e.g. from `hepaseg synth`).
        #[arg(long)]
        calib: Option<std::path::PathBuf>,
        /// Activation ranges from this two-sided percentile (e.g. 99.99) instead of min/max.
        #[arg(long)]
        percentile: Option<f64>,
        /// Calibration slices (liver slices of the training patients, evenly spaced; fewer if
        /// the set has fewer). 256 by default: on a trained tiny AGCAF-Net, 32 slices moved the
        /// int8 tumour Dice by +0.0143 from f32, 256 by −0.0003 (docs/int8.md).
        #[arg(long, default_value_t = 256)]
        calib_slices: usize,
        /// Slices of the f32 vs int8 report (liver slices of held-out patients).
        #[arg(long, default_value_t = 32)]
        report_slices: usize,
        /// What the report's ground-truth masks mark: tumor or liver.
        #[arg(long, default_value = "tumor", value_parser = ["tumor", "liver"])]
        target: String,
        /// Also report, block by block, how much rounding that block's activations to int8
        /// costs (f32 forwards with fake-quantized points; slow: one forward per block and
        /// report slice).
        #[arg(long)]
        sensitivity: bool,
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
    /// Train a network on a dataset folder (paper recipes as defaults per network); writes
    /// RUN_DIR/metrics.csv and last/best checkpoints (safetensors), resumes with --resume.
    Train(hepaseg::train::run::TrainArgs),
    /// Score masks against ground truth (LiTS metrics): saved masks of any tool paired by
    /// file name (--pred-dir/--gt-dir), or a weight blob on a dataset split (--blob/--data).
    Eval(hepaseg::eval::EvalArgs),
    /// Report on a training run: loss and validation curves (RUN_DIR/curves.png) and a
    /// Markdown summary (RUN_DIR/report.md: configuration, best epoch, metrics, and f32 vs
    /// int8 on the validation split with --blob).
    Report(hepaseg::report::ReportArgs),
    /// Train and score the papers' ablation matrix (CAFCT-Net: full, w/o Transformer, w/o
    /// AFF, w/o ASPP, w/o AGs; AGCAF-Net: backbone, +CPM, +AFM, +CPM+AFM) with one seed and
    /// budget; writes OUT/ablation.md (a table like the papers') and OUT/ablation.json.
    Ablate(hepaseg::study::ablate::AblateArgs),
    /// Time one network on core's f32 or int8 engine (seed-initialised weights): median
    /// latency per slice, MAC/s and the fraction of the single-core MAC peak.
    Bench(hepaseg::bench::BenchArgs),
    /// Train and score several networks — CAFCT-Net, AGCAF-Net and the papers' baselines
    /// U-Net and Attention U-Net — on one split with one seed and budget; writes
    /// OUT/compare.md (a table like the papers' Tables 2/3) and OUT/compare.json.
    Compare(hepaseg::study::compare::CompareArgs),
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
            lesion_min_mm,
            lesion_max_mm,
            max_lesions,
            lesion_contrast_min_hu,
            lesion_contrast_max_hu,
            seed,
        } => hepaseg::data::synth_with(
            &out,
            volumes,
            &hepaseg::data::PhantomConfig {
                lesion_diameter_mm: (lesion_min_mm, lesion_max_mm),
                max_lesions,
                lesion_contrast_hu: (lesion_contrast_min_hu, lesion_contrast_max_hu),
                ..hepaseg::data::PhantomConfig::new(size, slices)
            },
            seed,
        )
        .map(|report| report.to_string())
        .map_err(|e| e.to_string()),
        Command::Keygen { out, force } => hepaseg::blob::keygen(&out, force)
            .map(|report| report.to_string())
            .map_err(|e| e.to_string()),
        Command::Export {
            format,
            test_data,
            random_init,
            checkpoint,
            model,
            preset,
            seed,
            out,
            sign,
            quantize,
            calib,
            percentile,
            calib_slices,
            report_slices,
            target,
            sensitivity,
        } => {
            if format == "onnx" {
                export_onnx(
                    model,
                    &preset,
                    (random_init.then_some(seed), checkpoint.as_deref()),
                    &out,
                    test_data.as_deref(),
                    seed,
                    sign.is_some()
                        || quantize.is_some()
                        || calib.is_some()
                        || percentile.is_some()
                        || sensitivity,
                )
            } else if test_data.is_some() {
                Err("--test-data needs --format onnx".to_owned())
            } else if quantize.is_some() {
                export_int8(
                    model,
                    &preset,
                    (random_init.then_some(seed), checkpoint.as_deref()),
                    calib.as_deref(),
                    &out,
                    sign.as_deref(),
                    percentile,
                    (calib_slices, report_slices),
                    (&target, sensitivity),
                )
            } else if calib.is_some() || percentile.is_some() || sensitivity {
                Err("--calib, --percentile and --sensitivity need --quantize int8".to_owned())
            } else if let Some(ckpt) = checkpoint {
                hepaseg::train::run::export_checkpoint(model, &ckpt, &out, sign.as_deref())
            } else if random_init {
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
        Command::Train(args) => match hepaseg::train::run::run(&args) {
            Ok(hepaseg::train::run::Ended::Done(text)) => Ok(text),
            Ok(hepaseg::train::run::Ended::Interrupted { message, code }) => {
                eprintln!("hepaseg: {message}");
                return ExitCode::from(code);
            }
            Err(e) => Err(e),
        },
        Command::Report(args) => hepaseg::report::run(&args),
        Command::Ablate(args) => hepaseg::study::ablate::run(&args),
        Command::Bench(args) => hepaseg::bench::run(&args),
        Command::Compare(args) => hepaseg::study::compare::run(&args),
    };
    match result {
        Ok(text) => emit(&text),
        Err(message) => {
            eprintln!("hepaseg: {message}");
            ExitCode::from(2)
        }
    }
}

/// `export --format onnx`: the parameters (`--random-init` or `--checkpoint`) and the
/// output, handed to `hepaseg::onnx::export`; the blob-only options are refused.
fn export_onnx(
    model: Model,
    preset: &str,
    (random_init, checkpoint): (Option<u64>, Option<&std::path::Path>),
    out: &std::path::Path,
    test_data: Option<&std::path::Path>,
    seed: u64,
    blob_options: bool,
) -> Result<String, String> {
    use hepaseg::quant::export::ParamSource;
    if blob_options {
        return Err(
            "--sign, --quantize, --calib, --percentile and --sensitivity are for weight blobs; \
                    --format onnx writes f32 weights (quantize the ONNX model with your \
                    runtime's tools)"
                .to_owned(),
        );
    }
    let params = match (random_init, checkpoint) {
        (_, Some(path)) => ParamSource::Checkpoint(path.to_path_buf()),
        (Some(seed), None) => ParamSource::RandomInit { seed },
        (None, None) => {
            return Err("--format onnx needs --checkpoint CKPT or --random-init".to_owned())
        }
    };
    hepaseg::onnx::export(&hepaseg::onnx::OnnxExport {
        model,
        preset,
        params,
        out,
        test_data,
        seed,
    })
}

/// `export --quantize int8`: the parameters (`--random-init` or `--checkpoint`), the
/// calibration folder and the options, handed to `hepaseg::quant::export_int8`.
#[allow(clippy::too_many_arguments)]
fn export_int8(
    model: Model,
    preset: &str,
    (random_init, checkpoint): (Option<u64>, Option<&std::path::Path>),
    calib: Option<&std::path::Path>,
    out: &std::path::Path,
    sign: Option<&std::path::Path>,
    percentile: Option<f64>,
    (calib_slices, report_slices): (usize, usize),
    (target, sensitivity): (&str, bool),
) -> Result<String, String> {
    use hepaseg::quant::{Int8Export, ParamSource, RangeMode};
    let params = match (random_init, checkpoint) {
        (_, Some(path)) => ParamSource::Checkpoint(path.to_path_buf()),
        (Some(seed), None) => ParamSource::RandomInit { seed },
        (None, None) => {
            return Err("--quantize int8 needs --checkpoint CKPT or --random-init".to_owned())
        }
    };
    let calib = calib.ok_or("--quantize int8 needs --calib DIR (e.g. from `hepaseg synth`)")?;
    let mode = match percentile {
        None => RangeMode::MinMax,
        Some(p) if p > 50.0 && p <= 100.0 => RangeMode::Percentile(p),
        Some(p) => return Err(format!("--percentile {p} is not in (50, 100]")),
    };
    if calib_slices == 0 || report_slices == 0 {
        return Err("--calib-slices and --report-slices must be at least 1".to_owned());
    }
    hepaseg::quant::export_int8(&Int8Export {
        model,
        preset,
        params,
        calib,
        out,
        sign,
        mode,
        calib_slices,
        val_slices: report_slices,
        target: if target == "liver" {
            hepaseg::data::Target::Liver
        } else {
            hepaseg::data::Target::Tumor
        },
        sensitivity,
    })
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
