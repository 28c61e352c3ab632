//! Timings of the convolution paths and of a conv–BN–ReLU unit on the CPU (ignored by
//! default: `cargo test --release -p hepaseg --test nn_bench -- --ignored --nocapture
//! --test-threads 1`). Each figure is the fastest of several repetitions, which is robust to
//! other load on the machine.

use dfdx::prelude::*;
use hepaseg::nn::im2col::{unfold_cpu, unfold_gather, ConvGeometry};
use hepaseg::nn::{BatchNorm2d, Conv2d, ConvConfig, ParamStore};
use std::time::Instant;

type Map32 = Tensor<(usize, usize, usize, usize), f32, Cpu>;

/// Fastest of 7 runs of `f` (after one warm-up), in milliseconds.
fn fastest(mut f: impl FnMut()) -> f64 {
    f();
    (0..7)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

#[test]
#[ignore]
fn conv_timings() {
    let cases = [
        (
            "16→16 3×3 p1, 64², N=8",
            ConvConfig::new(16, 16, 3).padding(1),
            64,
        ),
        (
            "8→8 3×3 p1, 64², N=8",
            ConvConfig::new(8, 8, 3).padding(1),
            64,
        ),
        (
            "1→8 7×7 p3, 64², N=8",
            ConvConfig::new(1, 8, 7).padding(3),
            64,
        ),
        (
            "16→32 3×3 s2 p1, 64², N=8",
            ConvConfig::new(16, 32, 3).stride(2).padding(1),
            64,
        ),
        ("16→16 1×1, 64², N=8", ConvConfig::new(16, 16, 1), 64),
        (
            "16→16 3×3 p1 g2, 64², N=8",
            ConvConfig::new(16, 16, 3).padding(1).groups(2),
            64,
        ),
        (
            "64 depthwise 3×3 p1, 16², N=8",
            ConvConfig::new(64, 64, 3).padding(1).groups(64),
            16,
        ),
    ];
    for (label, cfg, h) in cases {
        let dev = Cpu::seed_from_u64(0);
        let mut store = ParamStore::<f32, Cpu>::new(dev.clone(), 0);
        let conv = Conv2d::new(&mut store, "c", cfg).unwrap();
        let x: Map32 = dev.sample_normal_like(&(8, cfg.in_channels, h, h));
        let fwd = fastest(|| {
            let _ = conv.forward(&store, x.clone()).unwrap();
        });
        let both = fastest(|| {
            let y = conv.forward(&store, x.leaky_trace()).unwrap();
            let _ = store.collect_grads(y.sum::<(), _>().backward()).unwrap();
        });
        println!("{label:32} forward {fwd:7.2} ms   forward+backward {both:7.2} ms");
    }
}

#[test]
#[ignore]
fn unfold_kernels() {
    let dev = Cpu::seed_from_u64(0);
    let store = ParamStore::<f32, Cpu>::new(dev.clone(), 0);
    let x: Map32 = dev.sample_normal_like(&(8, 16, 64, 64));
    let g = ConvGeometry {
        channels: 16,
        height: 64,
        width: 64,
        kernel: 3,
        stride: 1,
        padding: 1,
        dilation: 1,
    };
    let base = fastest(|| {
        let y: Tensor<(usize, usize), f32, Cpu> = dev.zeros_like(&(144, 64 * 64 * 8));
        let _ = y.leaky_traced().sum::<(), _>().backward();
    });
    let cpu = fastest(|| {
        let _ = unfold_cpu(x.clone(), &g).unwrap();
    });
    let cpu_both = fastest(|| {
        let _ = unfold_cpu(x.leaky_trace(), &g)
            .unwrap()
            .sum::<(), _>()
            .backward();
    });
    let gather = fastest(|| {
        let _ = unfold_gather(&store, x.clone(), &g).unwrap();
    });
    let gather_both = fastest(|| {
        let _ = unfold_gather(&store, x.leaky_trace(), &g)
            .unwrap()
            .sum::<(), _>()
            .backward();
    });
    println!("unfold 16ch 3×3 64² N=8: custom CPU kernel {cpu:.2} ms (fwd+bwd {:.2} ms), dfdx gather {gather:.2} ms (fwd+bwd {:.2} ms)",
        cpu_both - base, gather_both - base);
}

#[test]
#[ignore]
fn unit_timings() {
    let dev = Cpu::seed_from_u64(0);
    let mut store = ParamStore::<f32, Cpu>::new(dev.clone(), 0);
    let conv = Conv2d::new(
        &mut store,
        "c",
        ConvConfig::new(16, 16, 3).padding(1).bias(false),
    )
    .unwrap();
    let bn = BatchNorm2d::new(&mut store, "bn", 16).unwrap();
    let x: Map32 = dev.sample_normal_like(&(8, 16, 64, 64));
    for (label, with_conv) in [
        ("BN+ReLU 16ch 64², N=8", false),
        ("conv3×3+BN+ReLU 16ch 64², N=8", true),
    ] {
        let ms = fastest(|| {
            let t = x.leaky_trace();
            let t = if with_conv {
                conv.forward(&store, t).unwrap()
            } else {
                t
            };
            let y = bn.forward(&mut store, t).unwrap().relu();
            let _ = store.collect_grads(y.sum::<(), _>().backward()).unwrap();
        });
        println!("{label:32} forward+backward {ms:7.2} ms");
    }
}
