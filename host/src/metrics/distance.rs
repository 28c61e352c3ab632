//! Exact Euclidean distance transform with anisotropic voxel spacing.
//!
//! Felzenszwalb & Huttenlocher, "Distance Transforms of Sampled Functions" (Theory of Computing
//! 8, 2012): the squared Euclidean distance is separable,
//! `D(p) = min_q Σ_axis (s_axis·(p_axis − q_axis))²`, so it is computed exactly by a 1-D
//! transform `d(p) = min_q (w·(p − q)² + f(q))` with `w = s²` along x, then y, then z, each pass
//! reading the previous pass's output as `f`. The 1-D transform is the lower envelope of the
//! parabolas rooted at each finite `f(q)`, built in one left-to-right sweep, so the whole
//! transform is O(voxels) — no search over pairs of surface voxels. The result is exact up to
//! floating-point rounding (the per-axis minimum is taken over real values, not an
//! approximation by chamfer masks or propagation of nearest-site labels).

use super::{Mask, MetricsError};

/// Squared Euclidean distance from every voxel of `mask`'s grid to the nearest foreground voxel
/// of `mask`, in squared units of `spacing` (z, y, x). Foreground voxels get 0; every voxel gets
/// `f64::INFINITY` when the mask has no foreground.
///
/// The rank of the mask does not matter here: an axis of length 1 contributes nothing. Errors
/// unless every spacing component is finite and greater than zero.
pub fn squared_edt(mask: &Mask, spacing: [f64; 3]) -> Result<Vec<f64>, MetricsError> {
    if spacing.iter().any(|s| !s.is_finite() || *s <= 0.0) {
        return Err(MetricsError::InvalidSpacing(spacing));
    }
    let dims = mask.dims();
    let mut f: Vec<f64> = mask
        .data()
        .iter()
        .map(|&v| if v { 0.0 } else { f64::INFINITY })
        .collect();
    let mut scratch = Scratch::default();
    for axis in [2, 1, 0] {
        transform_axis(
            &mut f,
            dims,
            axis,
            spacing[axis] * spacing[axis],
            &mut scratch,
        );
    }
    Ok(f)
}

/// Buffers reused across lines, so a pass allocates nothing per line.
#[derive(Default)]
struct Scratch {
    line: Vec<f64>,
    out: Vec<f64>,
    /// Lower envelope: (root site q, left end of the interval where q's parabola is lowest).
    envelope: Vec<(usize, f64)>,
}

/// Applies the 1-D transform with weight `w` to every line of `f` along `axis`.
fn transform_axis(f: &mut [f64], dims: [usize; 3], axis: usize, w: f64, s: &mut Scratch) {
    let n = dims[axis];
    if n == 1 {
        return;
    }
    let [nz, ny, nx] = dims;
    let stride = [ny * nx, nx, 1][axis];
    s.line.resize(n, 0.0);
    s.out.resize(n, 0.0);
    let mut run = |start: usize| {
        for (i, v) in s.line.iter_mut().enumerate() {
            *v = f[start + i * stride];
        }
        lower_envelope(&s.line, w, &mut s.out, &mut s.envelope);
        for (i, v) in s.out.iter().enumerate() {
            f[start + i * stride] = *v;
        }
    };
    match axis {
        0 => (0..ny * nx).for_each(&mut run),
        1 => (0..nz).for_each(|z| (0..nx).for_each(|x| run(z * ny * nx + x))),
        _ => (0..nz * ny).for_each(|row| run(row * nx)),
    }
}

/// `d[p] = min_q (w·(p − q)² + f[q])` over the sites with finite `f[q]`; all `INFINITY` when
/// there is none.
fn lower_envelope(f: &[f64], w: f64, d: &mut [f64], env: &mut Vec<(usize, f64)>) {
    env.clear();
    // With lifted(q) = f[q] + w·q², the parabolas rooted at r < q intersect at
    // s = (lifted(q) − lifted(r)) / (2w·(q − r)); q's is the lower one right of s.
    let lifted = |q: usize| f[q] + w * (q as f64) * (q as f64);
    for (q, &fq) in f.iter().enumerate() {
        if fq == f64::INFINITY {
            continue;
        }
        let mut start = f64::NEG_INFINITY;
        while let Some(&(r, z_r)) = env.last() {
            let s = (lifted(q) - lifted(r)) / (2.0 * w * (q - r) as f64);
            if s <= z_r {
                // q's parabola is below r's everywhere r was lowest: r leaves the envelope.
                env.pop();
            } else {
                start = s;
                break;
            }
        }
        env.push((q, start));
    }
    if env.is_empty() {
        d.fill(f64::INFINITY);
        return;
    }
    let mut k = 0;
    for (p, out) in d.iter_mut().enumerate() {
        let p_f = p as f64;
        while k + 1 < env.len() && env[k + 1].1 < p_f {
            k += 1;
        }
        let q = env[k].0;
        let dq = p_f - q as f64;
        *out = w * dq * dq + f[q];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_with_spacing() {
        // One site at x = 2, spacing 2 along x: d = (2·|x − 2|)² = 16, 4, 0, 4, 16, 36.
        let m = Mask::from_fn_2d(1, 6, |_, x| x == 2).unwrap();
        let d = squared_edt(&m, [1.0, 1.0, 2.0]).unwrap();
        assert_eq!(d, vec![16.0, 4.0, 0.0, 4.0, 16.0, 36.0]);
    }

    #[test]
    fn two_sites_and_anisotropy() {
        // Sites (y, x) = (0, 0) and (2, 3), spacing y = 3, x = 1. Voxel (0, 3):
        // to (0,0): 3² = 9; to (2,3): (3·2)² = 36 → 9. Voxel (2, 0): to (0,0): 36, to (2,3): 9
        // → 9. Voxel (1, 2): to (0,0): 9 + 4 = 13; to (2,3): 9 + 1 = 10 → 10.
        let m = Mask::from_fn_2d(3, 4, |y, x| (y, x) == (0, 0) || (y, x) == (2, 3)).unwrap();
        let d = squared_edt(&m, [1.0, 3.0, 1.0]).unwrap();
        assert_eq!(d[3], 9.0);
        assert_eq!(d[2 * 4], 9.0);
        assert_eq!(d[4 + 2], 10.0);
        assert_eq!(d[0], 0.0);
    }

    #[test]
    fn no_foreground_is_infinite() {
        let m = Mask::from_fn_3d([2, 2, 2], |_, _, _| false).unwrap();
        let d = squared_edt(&m, [1.0; 3]).unwrap();
        assert!(d.iter().all(|v| *v == f64::INFINITY));
    }

    #[test]
    fn invalid_spacing_is_an_error() {
        let m = Mask::from_fn_2d(1, 1, |_, _| true).unwrap();
        assert!(squared_edt(&m, [1.0, 0.0, 1.0]).is_err());
    }
}
