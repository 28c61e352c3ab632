//! Prints, per `edge` network, where a 256² slice's time goes: every f32 block on its own
//! and the int8 engine's time per block (charged by its activation points), with MACs,
//! MAC/s and the fraction of the single-core peak (`hepaseg::bench`'s: clock × 16 f32 or
//! 32/64 int8 MACs per cycle), and the whole network's time next to the rows' sum. f32 rows
//! and whole networks: the fastest of ITERS runs (on a shared machine, the least disturbed);
//! int8 rows: the mean over ITERS runs of the time charged to each block.
//!
//! `blocks [ITERS] [MODEL…]` (default 9 runs per row, both networks), e.g.
//! `RUSTFLAGS="-C target-cpu=native" cargo run --release -p hepaseg-benches --example blocks
//! --target-dir target/native -- 9 cafct-net`. Markdown on stdout.
use hepaseg::bench::{
    bench_input, cpu_clock_ghz, prepare, F32_MACS_PER_CYCLE, INT8_MACS_PER_CYCLE,
};
use hepaseg::registry::Model;
use hepaseg::segment::engine::EngineKind;
use hepaseg_benches::blocks::edge_cases;
use hepaseg_benches::int8_points::Int8Net;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    match run(&std::env::args().skip(1).collect::<Vec<_>>()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("blocks: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let mut iters = 9;
    let mut models = Vec::new();
    for a in args {
        match a.as_str() {
            "agcaf-net" => models.push(Model::AgcafNet),
            "cafct-net" => models.push(Model::CafctNet),
            n => {
                iters = n
                    .parse()
                    .map_err(|_| format!("`{n}`: expected ITERS or a model"))?
            }
        }
    }
    if models.is_empty() {
        models = vec![Model::AgcafNet, Model::CafctNet];
    }
    let iters = usize::max(iters, 1);
    let clock = cpu_clock_ghz().ok_or("cannot read the CPU clock")?;
    println!(
        "clock {clock:.3} GHz; peak f32 {:.1} G MAC/s, int8 {:.1} G MAC/s ({}); {iters} runs per row\n",
        clock * F32_MACS_PER_CYCLE,
        clock * INT8_MACS_PER_CYCLE,
        hepaseg_core::int8::conv::SIMD_PATH
    );
    for model in models {
        f32_table(model, iters, clock * 1e9 * F32_MACS_PER_CYCLE)?;
        int8_table(model, iters, clock * 1e9 * INT8_MACS_PER_CYCLE)?;
    }
    Ok(())
}

/// The fastest run: on a shared machine, the run least disturbed by other jobs (the
/// kernels' own time varies little; a run that lost its core for a while does not).
fn fastest(runs: impl Iterator<Item = Duration>) -> Duration {
    runs.min().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `| name | M MAC | ms | share | G MAC/s | % of peak |`.
fn row(name: &str, macs: u64, t: Duration, whole: Duration, peak: f64) {
    let rate = macs as f64 / t.as_secs_f64().max(1e-12);
    let (gmacs, pct) = if macs == 0 {
        ("–".to_owned(), "–".to_owned())
    } else {
        (
            format!("{:.1}", rate / 1e9),
            format!("{:.0} %", 100.0 * rate / peak),
        )
    };
    println!(
        "| {name} | {:.1} | {:.2} | {:.1} % | {gmacs} | {pct} |",
        macs as f64 / 1e6,
        ms(t),
        100.0 * t.as_secs_f64() / whole.as_secs_f64(),
    );
}

/// The whole network's fastest run (`hepaseg bench`'s forward, no probe).
fn whole(model: Model, engine: EngineKind, iters: usize) -> Result<(Duration, u64), String> {
    let bench = prepare(model, "edge", engine, 0)?;
    let input = bench_input(bench.input_side(), bench.input_channels(), 0)?;
    bench.time(&input, 1)?;
    let (samples, _) = bench.time(&input, iters)?;
    Ok((fastest(samples.iter().map(|s| s.wall)), bench.macs()))
}

fn f32_table(model: Model, iters: usize, peak: f64) -> Result<(), String> {
    let mut cases = edge_cases(model).ok_or("not a core network")?;
    let mut timed = Vec::new();
    for c in &mut cases {
        c.run();
        let t = fastest((0..iters).map(|_| c.run()));
        timed.push((c.block, c.name.clone(), c.macs, t));
    }
    let (net, macs) = whole(model, EngineKind::F32, iters)?;
    let sum: Duration = timed.iter().map(|r| r.3).sum();
    println!(
        "### {} edge, f32 (each block on its own; fastest of {iters} runs)\n",
        model.name()
    );
    println!("| block | M MAC | ms | share of the rows | G MAC/s | % of peak |");
    println!("|---|---|---|---|---|---|");
    let mut i = 0;
    while i < timed.len() {
        let block = timed[i].0;
        let group: Vec<_> = timed[i..].iter().take_while(|r| r.0 == block).collect();
        if group.len() > 1 {
            let (m, t) = group
                .iter()
                .fold((0, Duration::ZERO), |a, r| (a.0 + r.2, a.1 + r.3));
            row(&format!("**{block}**"), m, t, sum, peak);
            for r in &group {
                row(&format!("&nbsp;&nbsp;{}", r.1), r.2, r.3, sum, peak);
            }
        } else if group[0].1 != block {
            row(
                &format!("{block}: {}", group[0].1),
                group[0].2,
                group[0].3,
                sum,
                peak,
            );
        } else {
            row(block, group[0].2, group[0].3, sum, peak);
        }
        i += group.len();
    }
    row("**rows' sum**", macs, sum, sum, peak);
    println!(
        "\nwhole network (no per-block split): {:.2} ms, {:.1} G MAC/s ({:.0} % of peak); the rows add up to {:.0} % of it\n",
        ms(net),
        macs as f64 / net.as_secs_f64() / 1e9,
        100.0 * macs as f64 / net.as_secs_f64() / peak,
        100.0 * sum.as_secs_f64() / net.as_secs_f64()
    );
    Ok(())
}

fn int8_table(model: Model, iters: usize, peak: f64) -> Result<(), String> {
    let mut net = Int8Net::edge(model).ok_or("not a core network")?;
    net.run(1);
    let b = net.run(iters);
    let per_run = |t: Duration| t / b.runs as u32;
    let total = per_run(b.total);
    let (plain, macs) = whole(model, EngineKind::Int8, iters)?;
    println!(
        "### {} edge, int8 (time charged per activation point, mean of {} runs)\n",
        model.name(),
        b.runs
    );
    println!("| block | M MAC | ms | share | G MAC/s | % of peak |");
    println!("|---|---|---|---|---|---|");
    for (name, t) in b.per_block(net.blocks()) {
        let m = net
            .blocks()
            .iter()
            .find(|r| r.name == name)
            .map_or(0, |r| r.macs);
        row(&name, m, per_run(t), total, peak);
    }
    row("**total (with the probe)**", macs, total, total, peak);
    println!(
        "\nwithout the probe (fastest run): {:.2} ms, {:.1} G MAC/s ({:.0} % of peak)\n",
        ms(plain),
        macs as f64 / plain.as_secs_f64() / 1e9,
        100.0 * macs as f64 / plain.as_secs_f64() / peak
    );
    let mut points = b.points.clone();
    points.sort_by_key(|p| std::cmp::Reverse(p.1));
    println!(
        "largest points: {}\n",
        points
            .iter()
            .take(12)
            .map(|(n, t)| format!("{n} {:.2} ms", ms(per_run(*t))))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
