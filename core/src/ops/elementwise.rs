//! Element-wise add and multiply, with channel broadcast (`[f32; C]`, a C×1×1 tensor) and
//! pixel broadcast (`Map<1, H, W>`, a 1×H×W tensor), in place on the first operand.

use crate::tensor::{Flat, Map};

/// `a += b` for two tensors of the same type.
pub fn add<T: Flat<Elem = f32>>(a: &mut T, b: &T) {
    for (x, y) in a.flat_mut().iter_mut().zip(b.flat()) {
        *x += *y;
    }
}

/// `out = a + b` for three tensors of the same type.
pub fn add_into<T: Flat<Elem = f32>>(a: &T, b: &T, out: &mut T) {
    for ((o, x), y) in out.flat_mut().iter_mut().zip(a.flat()).zip(b.flat()) {
        *o = *x + *y;
    }
}

/// `a *= b` for two tensors of the same type.
pub fn mul<T: Flat<Elem = f32>>(a: &mut T, b: &T) {
    for (x, y) in a.flat_mut().iter_mut().zip(b.flat()) {
        *x *= *y;
    }
}

/// `a *= s` for a scalar `s`.
pub fn scale(a: &mut impl Flat<Elem = f32>, s: f32) {
    for x in a.flat_mut() {
        *x *= s;
    }
}

/// `x[c, h, w] += v[c]` (a C×1×1 operand broadcast over pixels).
pub fn add_channel<const C: usize, const H: usize, const W: usize>(
    x: &mut Map<C, H, W>,
    v: &[f32; C],
) {
    for (plane, b) in x.iter_mut().zip(v) {
        for p in plane.flat_mut() {
            *p += *b;
        }
    }
}

/// `x[c, h, w] *= v[c]` (a C×1×1 operand broadcast over pixels; squeeze-excitation).
pub fn mul_channel<const C: usize, const H: usize, const W: usize>(
    x: &mut Map<C, H, W>,
    v: &[f32; C],
) {
    for (plane, s) in x.iter_mut().zip(v) {
        for p in plane.flat_mut() {
            *p *= *s;
        }
    }
}

/// `x[c, h, w] += p[0, h, w]` (a 1×H×W operand broadcast over channels).
pub fn add_pixel<const C: usize, const H: usize, const W: usize>(
    x: &mut Map<C, H, W>,
    p: &Map<1, H, W>,
) {
    for plane in x.iter_mut() {
        add(plane, &p[0]);
    }
}

/// `x[c, h, w] *= p[0, h, w]` (a 1×H×W operand broadcast over channels; attention gates).
pub fn mul_pixel<const C: usize, const H: usize, const W: usize>(
    x: &mut Map<C, H, W>,
    p: &Map<1, H, W>,
) {
    for plane in x.iter_mut() {
        mul(plane, &p[0]);
    }
}
