//! Element-wise non-linearities, in place, on a tensor of any shape.

use crate::tensor::Flat;

/// `x = max(x, 0)`.
pub fn relu(x: &mut impl Flat<Elem = f32>) {
    for v in x.flat_mut() {
        *v = v.max(0.0);
    }
}

/// The logistic function `1 / (1 + e^(−x))`, written so neither branch overflows.
pub fn sigmoid_scalar(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + libm::expf(-x))
    } else {
        let e = libm::expf(x);
        e / (1.0 + e)
    }
}

/// `x = σ(x)` element-wise.
pub fn sigmoid(x: &mut impl Flat<Elem = f32>) {
    for v in x.flat_mut() {
        *v = sigmoid_scalar(*v);
    }
}

/// Exact GELU, `x · Φ(x) = ½x(1 + erf(x/√2))` (not the tanh approximation).
pub fn gelu_scalar(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x * core::f32::consts::FRAC_1_SQRT_2))
}

/// `x = GELU(x)` element-wise (exact erf form).
pub fn gelu(x: &mut impl Flat<Elem = f32>) {
    for v in x.flat_mut() {
        *v = gelu_scalar(*v);
    }
}
