//! Helpers shared by the `nn_*` tests: deterministic data and the finite-difference
//! gradient check.
#![allow(dead_code)]

use dfdx::prelude::*;
use hepaseg::nn::{NnError, ParamStore};

/// Tape type of traced f64 tensors on the CPU.
pub type Traced = OwnedTape<f64, Cpu>;
/// A flat traced output.
pub type FlatOut = Tensor<(usize,), f64, Cpu, Traced>;

/// Deterministic values in about `[-1, 1]`, different for each `seed`.
pub fn data(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

/// A tensor of `shape` filled with [`data`].
pub fn tensor<S: Shape>(dev: &Cpu, shape: S, seed: u64) -> Tensor<S, f64, Cpu> {
    dev.tensor_from_vec(data(shape.num_elements(), seed), shape)
}

/// The same in f32.
pub fn tensor32<S: Shape>(dev: &Cpu, shape: S, seed: u64) -> Tensor<S, f32, Cpu> {
    let v = data(shape.num_elements(), seed)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    dev.tensor_from_vec(v, shape)
}

/// Flattens any traced tensor to `(len,)`.
pub fn flat<S: Shape>(t: Tensor<S, f64, Cpu, Traced>) -> FlatOut {
    let n = t.shape().num_elements();
    t.reshape_like(&(n,))
}

/// Coordinates to probe: all of them for small tensors, else an even spread of 40.
fn coords(len: usize) -> Vec<usize> {
    if len <= 40 {
        (0..len).collect()
    } else {
        (0..40).map(|i| (i * len + len / 81) / 40).collect()
    }
}

/// The layer under test: `f(store, x)` → flattened output.
pub type Layer<'a, S> = dyn FnMut(&mut ParamStore<f64, Cpu>, Tensor<S, f64, Cpu, Traced>) -> Result<FlatOut, NnError>
    + 'a;

/// Central-difference check of `∂(Σ r·f(x))/∂x` and `∂/∂θ` for every trainable parameter of
/// `store`; returns `max |analytic − numeric| / max |analytic|` over all probed coordinates.
pub fn gradcheck<S: Shape>(
    store: &mut ParamStore<f64, Cpu>,
    x: Tensor<S, f64, Cpu>,
    f: &mut Layer<'_, S>,
) -> f64 {
    let dev = store.device().clone();
    let shape = *x.shape();
    let len = f(store, x.leaky_trace()).unwrap().shape().0;
    let r = data(len, 99);
    let rt = dev.tensor_from_vec(r.clone(), (len,));
    // analytic
    let y = f(store, x.leaky_trace()).unwrap();
    let loss = (y * rt).sum::<(), _>();
    let grads = loss.backward();
    let dx = grads.get(&x).as_vec();
    let pg = store.collect_grads(grads).unwrap();

    let mut objective = |store: &mut ParamStore<f64, Cpu>, x: &Tensor<S, f64, Cpu>| -> f64 {
        let y = f(store, x.leaky_trace()).unwrap().as_vec();
        y.iter().zip(&r).map(|(a, b)| a * b).sum()
    };

    let h = 1e-6;
    let mut analytic = Vec::new();
    let mut numeric = Vec::new();
    let xv = x.as_vec();
    for i in coords(xv.len()) {
        let mut plus = xv.clone();
        plus[i] += h;
        let mut minus = xv.clone();
        minus[i] -= h;
        let lp = objective(store, &dev.tensor_from_vec(plus, shape));
        let lm = objective(store, &dev.tensor_from_vec(minus, shape));
        analytic.push(dx[i]);
        numeric.push((lp - lm) / (2.0 * h));
    }
    let ids: Vec<_> = store.trainable().map(|(id, _)| id).collect();
    for id in ids {
        let g = pg.values_f64(id).unwrap();
        let v = store.values_f64(id).unwrap();
        for i in coords(v.len()) {
            let mut plus = v.clone();
            plus[i] += h;
            store.set_values_f64(id, &plus).unwrap();
            let lp = objective(store, &x);
            let mut minus = v.clone();
            minus[i] -= h;
            store.set_values_f64(id, &minus).unwrap();
            let lm = objective(store, &x);
            store.set_values_f64(id, &v).unwrap();
            analytic.push(g[i]);
            numeric.push((lp - lm) / (2.0 * h));
        }
    }
    let scale = analytic.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(
        scale > 1e-6,
        "gradients are all ~0: the check would prove nothing"
    );
    let err = analytic
        .iter()
        .zip(&numeric)
        .fold(0.0f64, |m, (a, n)| m.max((a - n).abs()));
    err / scale
}

/// `max |a − b| / max(1, max |b|)`.
pub fn rel_diff(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    let scale = b.iter().fold(1.0f64, |m, v| m.max(f64::from(v.abs())));
    let d = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max(f64::from((x - y).abs())));
    d / scale
}

/// Per-tensor directional check of a whole model: for every trainable tensor θ and a fixed
/// random direction v, `∇θ(Σ r·f(x))·v` against `(F(θ + hv) − F(θ − hv)) / 2h`. Two forward
/// passes per tensor instead of two per coordinate, so it scales to a whole network, and a
/// gradient that never reaches a tensor (a lost tape) shows up as that tensor's error.
/// Returns `(name, analytic, numeric)` per tensor.
pub fn directional_gradcheck<S: Shape>(
    store: &mut ParamStore<f64, Cpu>,
    x: Tensor<S, f64, Cpu>,
    f: &mut Layer<'_, S>,
) -> Vec<(String, f64, f64)> {
    let dev = store.device().clone();
    let len = f(store, x.leaky_trace()).unwrap().shape().0;
    let r = data(len, 99);
    let rt = dev.tensor_from_vec(r.clone(), (len,));
    let loss = (f(store, x.leaky_trace()).unwrap() * rt).sum::<(), _>();
    let pg = store.collect_grads(loss.backward()).unwrap();
    let mut objective = |store: &mut ParamStore<f64, Cpu>| -> f64 {
        let y = f(store, x.leaky_trace()).unwrap().as_vec();
        y.iter().zip(&r).map(|(a, b)| a * b).sum()
    };
    // a network in train mode (batch statistics of 2 × 2 maps) is strongly curved: with
    // h = 1e-6 the truncation error reaches 1 %, with 1e-7 it is below the rounding noise
    let h = 1e-7;
    let ids: Vec<_> = store
        .trainable()
        .map(|(id, p)| (id, p.name().to_string()))
        .collect();
    let mut out = Vec::new();
    for (k, (id, name)) in ids.into_iter().enumerate() {
        let g = pg
            .values_f64(id)
            .unwrap_or_else(|| panic!("no gradient reached `{name}`"));
        let v0 = store.values_f64(id).unwrap();
        let dir = data(v0.len(), 1000 + k as u64);
        let analytic: f64 = g.iter().zip(&dir).map(|(a, b)| a * b).sum();
        let shifted =
            |s: f64| -> Vec<f64> { v0.iter().zip(&dir).map(|(v, d)| v + s * d).collect() };
        store.set_values_f64(id, &shifted(h)).unwrap();
        let lp = objective(store);
        store.set_values_f64(id, &shifted(-h)).unwrap();
        let lm = objective(store);
        store.set_values_f64(id, &v0).unwrap();
        out.push((name, analytic, (lp - lm) / (2.0 * h)));
    }
    out
}
