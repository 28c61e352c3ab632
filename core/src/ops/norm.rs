//! Batch norm (inference form, and folding into a convolution) and layer norm over tokens.

use crate::tensor::{ConvWeight, Map, Tokens};

/// BatchNorm epsilon used by both networks (PyTorch's default).
pub const BN_EPS: f32 = 1e-5;
/// LayerNorm epsilon used by the transformer branch (PVT-v2).
pub const LN_EPS: f32 = 1e-6;

/// A batch norm's inference parameters: `y = (x − mean)/√(var + eps) · gamma + beta`.
#[derive(Debug, Clone, Copy)]
pub struct BatchNorm<'a, const C: usize> {
    /// Learned scale.
    pub gamma: &'a [f32; C],
    /// Learned shift.
    pub beta: &'a [f32; C],
    /// Running mean.
    pub mean: &'a [f32; C],
    /// Running (biased) variance.
    pub var: &'a [f32; C],
    /// Added to the variance before the square root.
    pub eps: f32,
}

impl<const C: usize> BatchNorm<'_, C> {
    /// The equivalent per-channel affine map `(scale, shift)`: `y = x·scale + shift`.
    pub fn affine(&self, c: usize) -> (f32, f32) {
        let scale = self.gamma[c] / libm::sqrtf(self.var[c] + self.eps);
        (scale, self.beta[c] - self.mean[c] * scale)
    }
}

/// Applies a batch norm in place (inference form).
pub fn batch_norm<const C: usize, const H: usize, const W: usize>(
    x: &mut Map<C, H, W>,
    bn: &BatchNorm<'_, C>,
) {
    for (c, plane) in x.iter_mut().enumerate() {
        let (scale, shift) = bn.affine(c);
        for row in plane.iter_mut() {
            for v in row.iter_mut() {
                *v = *v * scale + shift;
            }
        }
    }
}

/// Folds a batch norm into the convolution before it: afterwards `conv(x; w, bias)` equals
/// `bn(conv(x; w_old, bias_old))`. A convolution without bias starts from a zero `bias`.
pub fn fold_batch_norm<const CO: usize, const CIG: usize, const K: usize>(
    w: &mut ConvWeight<CO, CIG, K>,
    bias: &mut [f32; CO],
    bn: &BatchNorm<'_, CO>,
) {
    for (c, (filter, b)) in w.iter_mut().zip(bias.iter_mut()).enumerate() {
        let (scale, shift) = bn.affine(c);
        for v in crate::tensor::Flat::flat_mut(filter).iter_mut() {
            *v *= scale;
        }
        *b = *b * scale + shift;
    }
}

/// Layer norm over the features of each token (biased variance), in place.
pub fn layer_norm<const N: usize, const D: usize>(
    x: &mut Tokens<N, D>,
    gamma: &[f32; D],
    beta: &[f32; D],
    eps: f32,
) {
    const { assert!(D > 0, "layer norm over zero features") };
    for token in x.iter_mut() {
        let mean = token.iter().sum::<f32>() / D as f32;
        let var = token.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / D as f32;
        let inv = 1.0 / libm::sqrtf(var + eps);
        for ((v, g), b) in token.iter_mut().zip(gamma).zip(beta) {
            *v = (*v - mean) * inv * g + b;
        }
    }
}
