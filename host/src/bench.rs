//! `hepaseg bench`: the latency and multiply-accumulate rate of core's engines on one network,
//! with seed-initialised weights (the figures do not depend on training).
//!
//! * **f32**: `export --random-init`'s values ([`crate::blob::seeded_params`]) through
//!   [`SliceParams`], one arena of exactly `N::ARENA_BYTES`.
//! * **int8**: the same values quantized by the host quantizer ([`crate::quant`]) calibrated on
//!   a few slices of a seeded phantom, then core's integer engine on that blob.
//!
//! The input is a windowed phantom slice. `--threads T` runs `T` copies side by side (core is
//! single-threaded per slice; several slices in flight is how a device uses more cores), each
//! with its own arena; latency is per slice, throughput is slices over wall time.
//!
//! **Peak.** The single-core MAC peak is `clock × MACs per cycle` of the instructions the
//! kernels use on x86_64 AVX2 (AMD Zen 3, two vector multiply pipes): f32 `vfmadd231ps` ymm,
//! 2 per cycle × 8 lanes = 16 MAC/cycle; int8 `vpmaddwd` ymm, 2 per cycle × 16 products =
//! 32 MAC/cycle (without VNNI, `vpmaddubsw` + `vpmaddwd` reach the same 32); in a build with
//! the AVX-512 VNNI micro-kernel (`SIMD_PATH` "avx512-vnni"), `vpdpbusd` ymm, 2 per cycle × 32
//! products = 64 MAC/cycle (AMD Zen 4 runs two 256-bit or one 512-bit per cycle). The clock is the
//! CPU's maximum frequency as Linux reports it (`cpuinfo_max_freq`, else `/proc/cpuinfo`'s
//! `cpu MHz`), or `--clock-ghz`.

use crate::data::{phantom, Window};
use crate::quant::report::AlignedBytes;
use crate::quant::{quantize_network, Calib, RangeMode};
use crate::registry::{with_network, Model};
use crate::segment::engine::EngineKind;
use hepaseg_core::blob::{Blob, SignaturePolicy};
use hepaseg_core::nets::Int8Network;
use hepaseg_core::params::SliceParams;
use serde::Serialize;
use std::time::{Duration, Instant};

/// MACs per cycle of one core with the AVX2 instructions the kernels use (see the module doc).
pub const F32_MACS_PER_CYCLE: f64 = 16.0;
/// MACs per cycle of one core for int8 (`vpmaddwd`, or `vpdpbusd` in a VNNI build; see the
/// module doc).
pub const INT8_MACS_PER_CYCLE: f64 = if matches!(
    hepaseg_core::int8::conv::SIMD_PATH.as_bytes(),
    b"avx512-vnni"
) {
    64.0
} else {
    32.0
};

/// What to measure.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Architecture.
    #[arg(long, value_enum)]
    pub model: Model,
    /// Preset: paper, edge, tiny, or a tiny ablation.
    #[arg(long, default_value = "edge")]
    pub preset: String,
    /// Engine: f32 (reference) or int8 (integer-only, calibrated on a seeded phantom).
    #[arg(long, value_enum, default_value = "f32")]
    pub engine: EngineKind,
    /// Slices in flight at once, one thread each (1 = single-thread latency).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Timed slices per thread (default: as many as fit in about 3 s, at least 5).
    #[arg(long)]
    pub iters: Option<usize>,
    /// Untimed slices per thread before timing.
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// Seed of the weights and of the phantom.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Clock for the peak figure, in GHz (default: the CPU's maximum frequency).
    #[arg(long)]
    pub clock_ghz: Option<f64>,
    /// Print JSON (keys: model, preset, engine, threads, iterations, median_ms, min_ms,
    /// mean_ms, macs, macs_per_s, images_per_s, simd, clock_ghz, peak_macs_per_s,
    /// peak_fraction, median_cpu_ms, peak_fraction_cpu, output_fnv).
    #[arg(long)]
    pub json: bool,
}

/// What `hepaseg bench` measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Architecture.
    pub model: &'static str,
    /// Preset.
    pub preset: String,
    /// `f32` or `int8`.
    pub engine: &'static str,
    /// Threads (slices in flight).
    pub threads: usize,
    /// Timed slices per thread.
    pub iterations: usize,
    /// Median latency of one slice, milliseconds (over all threads' slices).
    pub median_ms: f64,
    /// Fastest slice, milliseconds.
    pub min_ms: f64,
    /// Mean latency, milliseconds.
    pub mean_ms: f64,
    /// Multiply-accumulates per slice.
    pub macs: u64,
    /// `macs / median`: one slice's MAC rate (one core).
    pub macs_per_s: f64,
    /// Slices per second over the wall time of the timed part (all threads).
    pub images_per_s: f64,
    /// The SIMD path core's kernels were built with (`avx2` or `portable`).
    pub simd: &'static str,
    /// Clock used for the peak, GHz.
    pub clock_ghz: f64,
    /// Single-core peak: `clock × MACs per cycle` of the engine's instructions.
    pub peak_macs_per_s: f64,
    /// `macs_per_s / peak_macs_per_s`.
    pub peak_fraction: f64,
    /// Median on-CPU time of one slice in milliseconds (Linux `schedstat`; `null` where
    /// unavailable): on a shared machine, the latency without the time spent descheduled.
    pub median_cpu_ms: Option<f64>,
    /// `macs / median_cpu_ms` over the peak: the kernels' efficiency while they run.
    pub peak_fraction_cpu: Option<f64>,
    /// FNV-1a of the output (f32 bits little-endian, or the int8 logits), 16 hex digits: equal
    /// across builds (portable / AVX2 kernels) and thread counts, since every engine is
    /// bit-exact and deterministic.
    pub output_fnv: String,
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} {} ({} engine, {} SIMD), {} thread(s), {} slices each",
            self.model, self.preset, self.engine, self.simd, self.threads, self.iterations
        )?;
        writeln!(
            f,
            "latency: median {:.3} ms, min {:.3} ms, mean {:.3} ms",
            self.median_ms, self.min_ms, self.mean_ms
        )?;
        writeln!(
            f,
            "{:.3} G MAC per slice, {:.2} G MAC/s per slice ({:.1} % of the one-core peak {:.1} G MAC/s at {:.2} GHz)",
            self.macs as f64 / 1e9,
            self.macs_per_s / 1e9,
            100.0 * self.peak_fraction,
            self.peak_macs_per_s / 1e9,
            self.clock_ghz
        )?;
        if let (Some(c), Some(p)) = (self.median_cpu_ms, self.peak_fraction_cpu) {
            writeln!(
                f,
                "on-CPU time: median {c:.3} ms ({:.1} % of the one-core peak)",
                100.0 * p
            )?;
        }
        writeln!(f, "throughput: {:.2} slices/s", self.images_per_s)?;
        write!(f, "output FNV-1a: {}", self.output_fnv)
    }
}

/// `hepaseg bench`: measures and formats (text or JSON).
pub fn run(args: &BenchArgs) -> Result<String, String> {
    let report = measure(args)?;
    if args.json {
        serde_json::to_string_pretty(&report).map_err(|e| e.to_string())
    } else {
        Ok(report.to_string())
    }
}

/// Builds the engine of `args` and times it.
pub fn measure(args: &BenchArgs) -> Result<BenchReport, String> {
    if args.threads == 0 {
        return Err("--threads must be at least 1".into());
    }
    let clock_ghz = match args.clock_ghz {
        Some(c) if c > 0.0 && c.is_finite() => c,
        Some(c) => return Err(format!("--clock-ghz {c} is not a positive number")),
        None => cpu_clock_ghz().ok_or("cannot read the CPU clock; pass --clock-ghz")?,
    };
    let bench = prepare(args.model, &args.preset, args.engine, args.seed)?;
    let input = bench_input(bench.input_side(), bench.input_channels(), args.seed)?;
    let per_thread = match args.iters {
        Some(n) => n.max(1),
        None => {
            // One probe slice decides how many fit in about 3 s.
            let t = bench
                .time(&input, 1)?
                .0
                .first()
                .map_or(Duration::ZERO, |s| s.wall);
            ((3.0 / t.as_secs_f64().max(1e-6)) as usize).clamp(5, 10_000)
        }
    };
    if args.warmup > 0 {
        bench.time(&input, args.warmup)?;
    }
    let start = Instant::now();
    let runs = std::thread::scope(|s| {
        let workers: Vec<_> = (0..args.threads)
            .map(|_| s.spawn(|| bench.time(&input, per_thread)))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .map_err(|_| "a benchmark thread panicked".to_owned())?
            })
            .collect::<Result<Vec<_>, String>>()
    })?;
    let wall = start.elapsed().as_secs_f64();
    let output_hash = runs[0].1;
    if runs.iter().any(|r| r.1 != output_hash) {
        return Err("threads computed different outputs for the same input".into());
    }
    let all: Vec<Sample> = runs.into_iter().flat_map(|r| r.0).collect();
    let mut samples: Vec<Duration> = all.iter().map(|s| s.wall).collect();
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let median = ms(samples[samples.len() / 2]);
    let mean = samples.iter().map(|&d| ms(d)).sum::<f64>() / samples.len() as f64;
    let mut cpu: Vec<Duration> = all.iter().filter_map(|s| s.cpu).collect();
    cpu.sort();
    let median_cpu = (cpu.len() == all.len()).then(|| ms(cpu[cpu.len() / 2]));
    let macs = bench.macs();
    let engine = args.engine;
    let per_cycle = match engine {
        EngineKind::F32 => F32_MACS_PER_CYCLE,
        EngineKind::Int8 => INT8_MACS_PER_CYCLE,
    };
    let peak = clock_ghz * 1e9 * per_cycle;
    let macs_per_s = macs as f64 / (median / 1e3);
    Ok(BenchReport {
        model: args.model.name(),
        preset: args.preset.clone(),
        engine: match engine {
            EngineKind::F32 => "f32",
            EngineKind::Int8 => "int8",
        },
        threads: args.threads,
        iterations: per_thread,
        median_ms: median,
        min_ms: ms(samples[0]),
        mean_ms: mean,
        macs,
        macs_per_s,
        images_per_s: samples.len() as f64 / wall,
        simd: hepaseg_core::int8::conv::SIMD_PATH,
        clock_ghz,
        peak_macs_per_s: peak,
        peak_fraction: macs_per_s / peak,
        median_cpu_ms: median_cpu,
        peak_fraction_cpu: median_cpu.map(|c| macs as f64 / (c / 1e3) / peak),
        output_fnv: format!("{output_hash:016x}"),
    })
}

/// A network with its parameters, ready to run slices; shared by the timing threads.
pub trait Bench: Sync {
    /// Input side (the input is `channels × side × side`).
    fn input_side(&self) -> usize;
    /// Input channels (1, or k slices for a 2.5D preset).
    fn input_channels(&self) -> usize;
    /// Multiply-accumulates per slice.
    fn macs(&self) -> u64;
    /// Runs `input` `n` times with an arena of its own; returns each run's wall and on-CPU
    /// times and the FNV-1a hash of the last run's output bytes (f32 little-endian bits, or
    /// int8 values).
    fn time(&self, input: &[f32], n: usize) -> Result<(Vec<Sample>, u64), String>;
}

/// The f32 engine of `N` with seed-initialised values.
struct F32Bench<N> {
    values: Vec<Vec<f32>>,
    _net: std::marker::PhantomData<fn() -> N>,
}

impl<N: Int8Network> Bench for F32Bench<N> {
    fn input_side(&self) -> usize {
        N::INPUT[1]
    }

    fn input_channels(&self) -> usize {
        N::INPUT[0]
    }

    fn macs(&self) -> u64 {
        N::MACS
    }

    fn time(&self, input: &[f32], n: usize) -> Result<(Vec<Sample>, u64), String> {
        let tensors: Vec<&[f32]> = self.values.iter().map(Vec::as_slice).collect();
        let params = SliceParams { tensors: &tensors };
        let mut arena = AlignedBytes::zeroed(N::ARENA_BYTES);
        let mut times = Vec::with_capacity(n);
        let mut hash = FNV_OFFSET;
        for _ in 0..n {
            let t = Clock::start();
            let out = N::forward_flat(&params, input, arena.bytes_mut())
                .map_err(|e| format!("f32 forward pass failed: {e:?}"))?;
            let out = std::hint::black_box(out);
            times.push(t.stop());
            hash = fnv1a(out.iter().flat_map(|v| v.to_bits().to_le_bytes()));
        }
        Ok((times, hash))
    }
}

/// The int8 engine of `N` on a quantized blob.
struct Int8Bench<N> {
    blob: AlignedBytes,
    _net: std::marker::PhantomData<fn() -> N>,
}

impl<N: Int8Network> Bench for Int8Bench<N> {
    fn input_side(&self) -> usize {
        N::INPUT[1]
    }

    fn input_channels(&self) -> usize {
        N::INPUT[0]
    }

    fn macs(&self) -> u64 {
        N::MACS
    }

    fn time(&self, input: &[f32], n: usize) -> Result<(Vec<Sample>, u64), String> {
        let blob = Blob::parse(self.blob.bytes(), SignaturePolicy::Optional)
            .map_err(|e| format!("int8 blob: {e}"))?;
        let mut arena = AlignedBytes::zeroed(N::ARENA_BYTES_INT8);
        let mut times = Vec::with_capacity(n);
        let mut hash = FNV_OFFSET;
        for _ in 0..n {
            let t = Clock::start();
            let (out, _) = N::forward_int8_flat(&blob, input, arena.bytes_mut())
                .map_err(|e| format!("int8 forward pass failed: {e:?}"))?;
            let out = std::hint::black_box(out);
            times.push(t.stop());
            hash = fnv1a(out.iter().map(|&v| v as u8));
        }
        Ok((times, hash))
    }
}

/// Builds the benchmark of one network and engine: seeded weights, quantized for int8.
pub fn prepare(
    model: Model,
    preset: &str,
    engine: EngineKind,
    seed: u64,
) -> Result<Box<dyn Bench>, String> {
    with_network!(model, preset, prepare_net, model, preset, engine, seed).ok_or_else(|| {
        format!(
            "unknown preset `{preset}` for {}; known: {}",
            model.name(),
            crate::registry::presets(model).join(", ")
        )
    })?
}

fn prepare_net<N: Int8Network + 'static>(
    model: Model,
    preset: &str,
    engine: EngineKind,
    seed: u64,
) -> Result<Box<dyn Bench>, String> {
    let values = crate::blob::seeded_params(N::PARAMS, seed);
    match engine {
        EngineKind::F32 => Ok(Box::new(F32Bench::<N> {
            values,
            _net: std::marker::PhantomData,
        })),
        EngineKind::Int8 => {
            let blob = int8_blob::<N>(model, preset, &values, seed)?;
            Ok(Box::new(Int8Bench::<N> {
                blob: AlignedBytes::new(&blob),
                _net: std::marker::PhantomData,
            }))
        }
    }
}

/// The int8 blob of `N` with parameter `values`, calibrated (min/max) on four slices of a
/// seeded phantom.
pub fn int8_blob<N: Int8Network>(
    model: Model,
    preset: &str,
    values: &[Vec<f32>],
    seed: u64,
) -> Result<Vec<u8>, String> {
    let calib = Calib::of(model, preset)
        .ok_or_else(|| format!("no calibration forward for {} {preset}", model.name()))?;
    let side = N::INPUT[1];
    let images = (0..4)
        .map(|i| bench_input(side, N::INPUT[0], seed.wrapping_add(1000 + i)))
        .collect::<Result<Vec<_>, _>>()?;
    quantize_network::<N>(&calib, values, &images, RangeMode::MinMax)?.to_bytes()
}

/// The middle slice of a seeded `side × side` phantom, windowed to `[0, 1]`.
pub fn bench_slice(side: usize, seed: u64) -> Result<Vec<f32>, String> {
    bench_input(side, 1, seed)
}

/// The middle slice of a seeded `side × side` phantom with its neighbours as `channels`
/// planes (one plane for a 2D network; [`crate::data::stack`]), windowed to `[0, 1]`.
pub fn bench_input(side: usize, channels: usize, seed: u64) -> Result<Vec<f32>, String> {
    Ok(bench_sample(side, channels, seed)?.0)
}

/// [`bench_input`] with the labels of its middle slice (0 background, 1 liver, 2 tumour): a
/// training sample for [`crate::train::StepBench`].
pub fn bench_sample(
    side: usize,
    channels: usize,
    seed: u64,
) -> Result<(Vec<f32>, Vec<u8>), String> {
    let ph = phantom::generate(side, 3, seed).map_err(|e| e.to_string())?;
    let window = Window::default();
    let image = crate::data::stack::neighbours(1, 3, channels)
        .flat_map(|z| {
            ph.ct
                .slice(z)
                .iter()
                .map(|&hu| window.apply(hu))
                .collect::<Vec<_>>()
        })
        .collect();
    Ok((image, ph.labels.slice(1).to_vec()))
}

/// The CPU's maximum clock in GHz, from Linux (`cpufreq`, else `/proc/cpuinfo`).
pub fn cpu_clock_ghz() -> Option<f64> {
    let max_khz = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok());
    if let Some(khz) = max_khz.filter(|&k| k > 0.0) {
        return Some(khz / 1e6);
    }
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("cpu MHz"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|&mhz| mhz > 0.0)
        .map(|mhz| mhz / 1e3)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a over bytes.
fn fnv1a(bytes: impl Iterator<Item = u8>) -> u64 {
    bytes.fold(FNV_OFFSET, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One slice's wall time and, where Linux reports it, the thread's on-CPU time.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Wall-clock time.
    pub wall: Duration,
    /// Time the thread spent running (`/proc/thread-self/schedstat`).
    pub cpu: Option<Duration>,
}

/// A started measurement of one slice.
struct Clock {
    wall: Instant,
    cpu: Option<u64>,
}

impl Clock {
    fn start() -> Self {
        Clock {
            cpu: thread_cpu_ns(),
            wall: Instant::now(),
        }
    }

    fn stop(self) -> Sample {
        let wall = self.wall.elapsed();
        let cpu = match (self.cpu, thread_cpu_ns()) {
            (Some(a), Some(b)) if b >= a => Some(Duration::from_nanos(b - a)),
            _ => None,
        };
        Sample { wall, cpu }
    }
}

/// Nanoseconds this thread has run on a CPU (the first field of Linux's schedstat).
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
