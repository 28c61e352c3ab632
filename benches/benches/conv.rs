//! The convolutions that dominate AGCAF-Net `edge` (the 3×3 basic-block convolutions of the
//! four backbone stages: 16×256², 32×128², 64×64², 128×32², 604–537 M MAC each stage), plus a
//! 1×1 projection: f32 and int8 on the fast kernels (AVX2 + FMA / AVX2 micro-kernels when the
//! build enables them, else the portable ones) and on the scalar reference kernels, batch 1,
//! one thread. Throughput
//! is in MACs (criterion's "elem/s" = MAC/s); the single-core peak is 16 f32 / 32 int8 MACs per
//! cycle × clock (see `hepaseg::bench`).
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use hepaseg_core::int8::{Clamp, Conv2dQ, PerChannelQuant};
use hepaseg_core::ops::Conv2d;
use hepaseg_core::tensor::Map;
use std::hint::black_box;

fn boxed<T: Clone, const N: usize>(v: T) -> Box<[T; N]> {
    vec![v; N]
        .into_boxed_slice()
        .try_into()
        .ok()
        .expect("length N")
}

/// One `C → C` 3×3 (pad 1) or 1×1 convolution at `H × W` on all three kernels.
fn conv_case<const C: usize, const H: usize, const W: usize, const K: usize, const P: usize>(
    g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
) {
    let macs = (C * C * K * K * H * W) as u64;
    g.throughput(Throughput::Elements(macs));
    let name = format!("{K}x{K}_{C}x{H}x{W}");
    let xf: Box<Map<C, H, W>> = boxed([[0.25f32; W]; H]);
    let wf: Box<[[[[f32; K]; K]; C]; C]> = boxed([[[0.01f32; K]; K]; C]);
    let mut yf: Box<Map<C, H, W>> = boxed([[0f32; W]; H]);
    g.bench_function(format!("{name}/f32"), |b| {
        b.iter(|| Conv2d::<1, P>::forward(black_box(&*xf), &wf, None, &mut yf))
    });
    g.bench_function(format!("{name}/f32-reference"), |b| {
        b.iter(|| Conv2d::<1, P>::forward_reference(black_box(&*xf), &wf, None, &mut yf))
    });
    let mut xq: Box<Map<C, H, W, i8>> = boxed([[0i8; W]; H]);
    for (i, v) in xq.iter_mut().flatten().flatten().enumerate() {
        *v = (i * 37 % 251) as i8;
    }
    let mut wq: Box<[[[[i8; K]; K]; C]; C]> = boxed([[[0i8; K]; K]; C]);
    for (i, v) in wq.iter_mut().flatten().flatten().flatten().enumerate() {
        *v = (i * 13 % 255) as i8;
    }
    let (m, s) = ([1 << 30; C], [-8; C]);
    let q = PerChannelQuant {
        input_zp: -3,
        output_zp: 5,
        multiplier: &m,
        shift: &s,
        bias: None,
        clamp: Clamp::NONE,
    };
    let mut yq: Box<Map<C, H, W, i8>> = boxed([[0i8; W]; H]);
    g.bench_function(format!("{name}/int8"), |b| {
        b.iter(|| Conv2dQ::<1, P>::forward(black_box(&*xq), &wq, &q, &mut yq))
    });
    g.bench_function(format!("{name}/int8-reference"), |b| {
        b.iter(|| Conv2dQ::<1, P>::forward_reference(black_box(&*xq), &wq, &q, &mut yq))
    });
}

fn convs(c: &mut Criterion) {
    let mut g = c.benchmark_group("conv");
    g.sample_size(10);
    conv_case::<16, 256, 256, 3, 1>(&mut g);
    conv_case::<32, 128, 128, 3, 1>(&mut g);
    conv_case::<64, 64, 64, 3, 1>(&mut g);
    conv_case::<128, 32, 32, 3, 1>(&mut g);
    conv_case::<128, 32, 32, 1, 0>(&mut g);
    g.finish();
}

criterion_group!(benches, convs);
criterion_main!(benches);
