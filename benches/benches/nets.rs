//! Whole networks on core's engines, batch 1, one thread: AGCAF-Net and CAFCT-Net at the
//! `tiny` and `edge` presets, f32 and int8 (seed-initialised weights; int8 quantized by the host
//! quantizer calibrated on a seeded phantom — exactly what `hepaseg bench` runs). Throughput is
//! in MACs, so criterion's "elem/s" is MAC/s; `hepaseg bench` adds the fraction of the
//! single-core peak (computed as in `hepaseg::bench`). The `paper` presets take seconds per
//! slice (AGCAF-Net paper: 42.6 G MAC) and are left to `hepaseg bench --preset paper`.
//!
//! `cargo bench -p hepaseg-benches --bench nets` (add `RUSTFLAGS="-C target-feature=+avx2,+fma"`
//! for the AVX2 int8 micro-kernel; see docs/performance.md).
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hepaseg::bench::{bench_slice, prepare};
use hepaseg::registry::Model;
use hepaseg::segment::engine::EngineKind;
use std::time::Duration;

fn nets(c: &mut Criterion) {
    let mut group = c.benchmark_group("nets");
    group.sample_size(10);
    for (model, preset) in [
        (Model::AgcafNet, "tiny"),
        (Model::CafctNet, "tiny"),
        (Model::AgcafNet, "edge"),
        (Model::CafctNet, "edge"),
    ] {
        for (engine, name) in [(EngineKind::F32, "f32"), (EngineKind::Int8, "int8")] {
            let bench = prepare(model, preset, engine, 0).expect("benchmark network");
            let input = bench_slice(bench.input_side(), 0).expect("phantom slice");
            group.throughput(Throughput::Elements(bench.macs()));
            let id = format!("{}/{preset}/{name}", model.name());
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    let (samples, _) = bench.time(&input, iters as usize).expect("forward");
                    samples.iter().map(|s| s.wall).sum::<Duration>()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, nets);
criterion_main!(benches);
