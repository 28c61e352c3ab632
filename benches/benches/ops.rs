//! Benchmarks of core's f32 ops at the sizes the networks use.
use criterion::{criterion_group, criterion_main, Criterion};
use hepaseg_core::ops::Conv2d;

fn conv3x3(c: &mut Criterion) {
    let x = vec![[[0.5f32; 64]; 64]; 16];
    let x: &[[[f32; 64]; 64]; 16] = x.as_slice().try_into().unwrap();
    let w = [[[[0.01f32; 3]; 3]; 16]; 16];
    let mut y = vec![[[0f32; 64]; 64]; 16];
    let y: &mut [[[f32; 64]; 64]; 16] = y.as_mut_slice().try_into().unwrap();
    c.bench_function("conv3x3_16x64x64", |b| {
        b.iter(|| Conv2d::<1, 1>::forward(std::hint::black_box(x), &w, None, y))
    });
}

criterion_group!(benches, conv3x3);
criterion_main!(benches);
