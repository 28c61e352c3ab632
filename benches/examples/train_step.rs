//! Times the host's training step (`hepaseg::train::StepBench`) and prints one line of JSON:
//! the side script benches/peers/train.py runs it alternately with PyTorch's step.
//!
//! `train_step MODEL PRESET BATCH SIDE STEPS [WARMUP] [SEED]`, e.g.
//! `RAYON_NUM_THREADS=1 cargo run --release -p hepaseg-benches --example train_step -- agcaf-net
//! tiny 8 64 5`. dfdx's CPU matmul splits over rayon's global pool, so `RAYON_NUM_THREADS`
//! sets the threads; the JSON says how many the pool has.
//!
//! Keys: model, preset, batch, side, threads, steps, median_s (one step), min_s,
//! images_per_s (batch / median_s), losses (every timed step's).
use hepaseg::registry::Model;
use hepaseg::train::StepBench;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    match run(&std::env::args().skip(1).collect::<Vec<_>>()) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("train_step: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<String, String> {
    const USAGE: &str = "usage: train_step MODEL PRESET BATCH SIDE STEPS [WARMUP] [SEED]";
    if !(5..=7).contains(&args.len()) {
        return Err(USAGE.into());
    }
    let model = match args[0].as_str() {
        "agcaf-net" => Model::AgcafNet,
        "cafct-net" => Model::CafctNet,
        other => return Err(format!("model `{other}`: expected agcaf-net or cafct-net")),
    };
    let num = |i: usize, name: &str, default: u64| -> Result<u64, String> {
        args.get(i).map_or(Ok(default), |s| {
            s.parse()
                .map_err(|_| format!("{name} `{s}` is not a whole number ({USAGE})"))
        })
    };
    let (batch, side) = (num(2, "BATCH", 0)? as usize, num(3, "SIDE", 0)? as usize);
    let steps = num(4, "STEPS", 0)?.max(1) as usize;
    let (warmup, seed) = (num(5, "WARMUP", 1)?, num(6, "SEED", 0)?);
    let mut bench = StepBench::new(model, &args[1], batch, side, seed)?;
    for _ in 0..warmup {
        bench.step()?;
    }
    let mut times = Vec::with_capacity(steps);
    let mut losses = Vec::with_capacity(steps);
    for _ in 0..steps {
        let t0 = Instant::now();
        losses.push(bench.step()?);
        times.push(t0.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    Ok(format!(
        "{{\"model\":\"{}\",\"preset\":\"{}\",\"batch\":{batch},\"side\":{side},\"threads\":{},\
         \"steps\":{steps},\"median_s\":{median},\"min_s\":{},\"images_per_s\":{},\"losses\":{:?}}}",
        model.name(),
        args[1],
        rayon::current_num_threads(),
        times[0],
        batch as f64 / median,
        losses
    ))
}
