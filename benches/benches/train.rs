//! The host's training step (forward, loss, backward, optimizer update; dfdx on the CPU) for
//! AGCAF-Net and CAFCT-Net at their presets' input sizes: `tiny` (64 × 64) at batch 8, `edge`
//! (256 × 256) at batch 2 — the smallest batch whose batch norms all train on batch statistics;
//! an `edge` step takes seconds here, so ten samples of one step each.
//! Each at 1 and 2 threads: dfdx's CPU matmul (gemm) splits its products over the current rayon
//! pool, so the step runs inside a pool of that many threads (everything else in the step is
//! single-threaded). Throughput is in slices, so criterion's "elem/s" is training images/s.
//! The step is `hepaseg::train::StepBench` — the training loop's own `Run::step` with the
//! preset's recipe on a fixed batch of windowed phantom slices.
//!
//! `nice -n 10 cargo bench -p hepaseg-benches --bench train` (figures: docs/performance.md).
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use hepaseg::registry::Model;
use hepaseg::train::StepBench;
use std::time::{Duration, Instant};

fn train(c: &mut Criterion) {
    let mut group = c.benchmark_group("train");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(1));
    for (model, preset, batch, side) in [
        (Model::AgcafNet, "tiny", 8, 64),
        (Model::CafctNet, "tiny", 8, 64),
        (Model::AgcafNet, "edge", 2, 256),
        (Model::CafctNet, "edge", 2, 256),
    ] {
        // about ten steps' time, so criterion takes ten samples of one step each
        let per_step = if preset == "tiny" { 0.5 } else { 7.0 };
        group.measurement_time(Duration::from_secs_f64(10.0 * per_step));
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("rayon pool");
            let mut step = StepBench::new(model, preset, batch, side, 0).expect("training run");
            group.throughput(Throughput::Elements(batch as u64));
            let id = format!("{}/{preset}/{side}px-b{batch}/t{threads}", model.name());
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    pool.install(|| {
                        let t0 = Instant::now();
                        for _ in 0..iters {
                            let loss = step.step().expect("training step");
                            assert!(loss.is_finite());
                        }
                        t0.elapsed()
                    })
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, train);
criterion_main!(benches);
