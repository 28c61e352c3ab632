//! Patch reshapes between a feature map (C×H×W) and a token sequence (N = H·W tokens of C
//! features, row-major pixel order) — the transformer branch's view of a map.

use crate::tensor::{Map, Tokens};

/// `y[h·W + w][c] = x[c][h][w]`.
pub fn map_to_tokens<const C: usize, const H: usize, const W: usize, const N: usize>(
    x: &Map<C, H, W>,
    y: &mut Tokens<N, C>,
) {
    const { assert!(N == H * W, "token count must equal H*W") };
    for (c, plane) in x.iter().enumerate() {
        for (p, v) in plane.as_flattened().iter().enumerate() {
            y[p][c] = *v;
        }
    }
}

/// `y[c][h][w] = x[h·W + w][c]`.
pub fn tokens_to_map<const C: usize, const H: usize, const W: usize, const N: usize>(
    x: &Tokens<N, C>,
    y: &mut Map<C, H, W>,
) {
    const { assert!(N == H * W, "token count must equal H*W") };
    for (c, plane) in y.iter_mut().enumerate() {
        for (p, v) in plane.as_flattened_mut().iter_mut().enumerate() {
            *v = x[p][c];
        }
    }
}
