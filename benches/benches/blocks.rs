//! Every block of the `edge` networks (256² input, batch 1, one thread), f32 and int8.
//!
//! * **f32**: each block on its own at the shapes the network runs it, with the network's
//!   seeded parameters ([`hepaseg_benches::blocks`]; the CPM and the transformer stages are
//!   split into their AGCBs / embedding, attention and Mix-FFN). Throughput is in MACs, so
//!   criterion's "elem/s" is MAC/s.
//! * **int8**: the int8 blocks pass quantization points from one to the next inside the
//!   network, so they are timed there: each benchmark runs the whole network and reports the
//!   time its activation points charged to one block row ([`hepaseg_benches::int8_points`]).
//!
//! `RUSTFLAGS="-C target-cpu=native" cargo bench -p hepaseg-benches --bench blocks
//! --target-dir target/native`; `cargo run --release -p hepaseg-benches --example blocks`
//! prints the same as one table with the fraction of the single-core peak.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hepaseg::registry::Model;
use hepaseg_benches::blocks::edge_cases;
use hepaseg_benches::int8_points::Int8Net;
use std::time::Duration;

fn f32_blocks(c: &mut Criterion) {
    for model in [Model::AgcafNet, Model::CafctNet] {
        let mut g = c.benchmark_group(format!("blocks/{}-edge/f32", model.name()));
        g.sample_size(10);
        for mut case in edge_cases(model).expect("a core network") {
            g.throughput(Throughput::Elements(case.macs));
            g.bench_function(case.name.clone(), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| case.run()).sum::<Duration>())
            });
        }
        g.finish();
    }
}

fn int8_blocks(c: &mut Criterion) {
    for model in [Model::AgcafNet, Model::CafctNet] {
        let mut net = Int8Net::edge(model).expect("a core network");
        let mut g = c.benchmark_group(format!("blocks/{}-edge/int8", model.name()));
        g.sample_size(10);
        let rows: Vec<(String, u64)> = net
            .blocks()
            .iter()
            .map(|b| (b.name.to_owned(), b.macs))
            .collect();
        for (name, macs) in rows {
            g.throughput(Throughput::Elements(macs));
            g.bench_function(name.clone(), |b| {
                b.iter_custom(|iters| {
                    let run = net.run(iters as usize);
                    run.per_block(net.blocks())
                        .into_iter()
                        .find(|r| r.0 == name)
                        .map_or(Duration::ZERO, |r| r.1)
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, f32_blocks, int8_blocks);
criterion_main!(benches);
