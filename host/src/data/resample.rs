//! Resampling of slices to the network's input size.
//!
//! Images use bilinear interpolation, masks nearest neighbour (interpolating labels would invent
//! values between classes). Both use the half-pixel-centre convention (PyTorch
//! `interpolate(align_corners=False)`, OpenCV `resize`): output pixel `i` of `out` over `in`
//! samples the source at `(i + 0.5)·in/out − 0.5`, so equal sizes are the identity and the image
//! and its mask stay aligned. No antialiasing: large reductions alias, as they do in PyTorch.

/// Source coordinate of output index `i` under the half-pixel convention.
fn source_coord(i: usize, input: usize, output: usize) -> f32 {
    (i as f32 + 0.5) * input as f32 / output as f32 - 0.5
}

/// Bilinear sample of `src` (`w`×`h`, row-major) at `(x, y)`; coordinates outside the image are
/// clamped to the border (used by resizing, where every sample lies within half a pixel).
pub fn sample_bilinear_clamped(src: &[f32], w: usize, h: usize, x: f32, y: f32) -> f32 {
    if w == 0 || h == 0 || src.len() < w * h {
        return 0.0;
    }
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let x0 = x.floor() as usize;
    let y0 = y.floor() as usize;
    let x1 = (x0 + 1).min(w - 1);
    let y1 = (y0 + 1).min(h - 1);
    let fx = x - x0 as f32;
    let fy = y - y0 as f32;
    let top = src[y0 * w + x0] * (1.0 - fx) + src[y0 * w + x1] * fx;
    let bottom = src[y1 * w + x0] * (1.0 - fx) + src[y1 * w + x1] * fx;
    top * (1.0 - fy) + bottom * fy
}

/// Bilinear sample at `(x, y)` where the outside of the image has value `fill` (used by
/// rotations, which move corners out of the field of view).
pub fn sample_bilinear_fill(src: &[f32], w: usize, h: usize, x: f32, y: f32, fill: f32) -> f32 {
    let x0 = x.floor();
    let y0 = y.floor();
    let fx = x - x0;
    let fy = y - y0;
    let at = |xi: f32, yi: f32| -> f32 {
        if xi < 0.0 || yi < 0.0 || xi >= w as f32 || yi >= h as f32 {
            fill
        } else {
            src.get(yi as usize * w + xi as usize)
                .copied()
                .unwrap_or(fill)
        }
    };
    let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1.0, y0) * fx;
    let bottom = at(x0, y0 + 1.0) * (1.0 - fx) + at(x0 + 1.0, y0 + 1.0) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// Nearest-neighbour sample at `(x, y)`, `fill` outside the image.
pub fn sample_nearest_fill<T: Copy>(src: &[T], w: usize, h: usize, x: f32, y: f32, fill: T) -> T {
    // Pixel i covers [i − 0.5, i + 0.5): round to the nearest centre.
    let xi = (x + 0.5).floor();
    let yi = (y + 0.5).floor();
    if xi < 0.0 || yi < 0.0 || xi >= w as f32 || yi >= h as f32 {
        return fill;
    }
    src.get(yi as usize * w + xi as usize)
        .copied()
        .unwrap_or(fill)
}

/// Bilinear resize of a `w`×`h` image to `ow`×`oh`.
pub fn resize_bilinear(src: &[f32], w: usize, h: usize, ow: usize, oh: usize) -> Vec<f32> {
    if (w, h) == (ow, oh) {
        return src.to_vec();
    }
    let xs: Vec<f32> = (0..ow).map(|i| source_coord(i, w, ow)).collect();
    let mut out = Vec::with_capacity(ow * oh);
    for j in 0..oh {
        let y = source_coord(j, h, oh);
        out.extend(xs.iter().map(|&x| sample_bilinear_clamped(src, w, h, x, y)));
    }
    out
}

/// Nearest-neighbour index of output `i` (half-pixel convention): `floor((i + 0.5)·in/out)`.
fn nearest_index(i: usize, input: usize, output: usize) -> usize {
    (((2 * i + 1) * input) / (2 * output)).min(input.saturating_sub(1))
}

/// Nearest-neighbour resize of a `w`×`h` label map to `ow`×`oh` (exact integer arithmetic, so
/// masks resample identically on every platform).
pub fn resize_nearest<T: Copy + Default>(
    src: &[T],
    w: usize,
    h: usize,
    ow: usize,
    oh: usize,
) -> Vec<T> {
    if (w, h) == (ow, oh) {
        return src.to_vec();
    }
    if w == 0 || h == 0 || src.len() < w * h {
        return vec![T::default(); ow * oh];
    }
    let xs: Vec<usize> = (0..ow).map(|i| nearest_index(i, w, ow)).collect();
    let mut out = Vec::with_capacity(ow * oh);
    for j in 0..oh {
        let row = nearest_index(j, h, oh) * w;
        out.extend(xs.iter().map(|&x| src[row + x]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_upsample_of_known_pattern() {
        // 2×1 → 4×1: samples at −0.25, 0.25, 0.75, 1.25 → clamp, lerp.
        let out = resize_bilinear(&[0.0, 1.0], 2, 1, 4, 1);
        assert_eq!(out, vec![0.0, 0.25, 0.75, 1.0]);
        // 2×2 → 4×4 is separable.
        let out = resize_bilinear(&[0.0, 1.0, 2.0, 3.0], 2, 2, 4, 4);
        let col = [0.0, 0.25, 0.75, 1.0];
        for j in 0..4 {
            for i in 0..4 {
                let expect = col[i] + 2.0 * col[j];
                assert!((out[j * 4 + i] - expect).abs() < 1e-6, "{i},{j}");
            }
        }
    }

    #[test]
    fn bilinear_downsample_averages_pairs() {
        // 4 → 2: samples at 0.5 and 2.5, the mean of each pair.
        let out = resize_bilinear(&[0.0, 1.0, 2.0, 3.0], 4, 1, 2, 1);
        assert_eq!(out, vec![0.5, 2.5]);
        // Identity when sizes agree.
        let img = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
        assert_eq!(resize_bilinear(&img, 3, 2, 3, 2), img.to_vec());
    }

    #[test]
    fn nearest_keeps_labels_and_aligns() {
        let m: Vec<u8> = vec![0, 1, 2, 1];
        assert_eq!(
            resize_nearest(&m, 2, 2, 4, 4),
            vec![
                0, 0, 1, 1, //
                0, 0, 1, 1, //
                2, 2, 1, 1, //
                2, 2, 1, 1,
            ]
        );
        // 4 → 2 picks pixels 1 and 3 (centres at 0.5·2 = 1 and 3).
        assert_eq!(
            resize_nearest(&[10u8, 11, 12, 13], 4, 1, 2, 1),
            vec![11, 13]
        );
        // 3 → 2: floor(0.75) = 0, floor(2.25) = 2.
        assert_eq!(resize_nearest(&[5u8, 6, 7], 3, 1, 2, 1), vec![5, 7]);
        assert_eq!(resize_nearest::<u8>(&[], 0, 0, 2, 1), vec![0, 0]);
    }

    #[test]
    fn samplers_fill_outside() {
        let img = [1.0f32; 4];
        assert_eq!(sample_bilinear_fill(&img, 2, 2, -5.0, 0.0, 0.0), 0.0);
        assert_eq!(sample_bilinear_fill(&img, 2, 2, 0.5, 0.5, 0.0), 1.0);
        assert_eq!(sample_bilinear_fill(&img, 2, 2, 1.5, 0.0, 0.0), 0.5);
        assert_eq!(sample_nearest_fill(&[1u8, 2, 3, 4], 2, 2, 0.6, 0.4, 0), 2);
        assert_eq!(sample_nearest_fill(&[1u8, 2, 3, 4], 2, 2, 1.6, 0.0, 9), 9);
    }
}
