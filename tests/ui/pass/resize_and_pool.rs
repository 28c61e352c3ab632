// Resampling and pooling between pyramid levels: bilinear ×2 in both `align_corners` modes,
// adaptive average / max pooling down, and global average pooling.
use hepaseg_core::{
    ops::{adaptive_avg_pool, adaptive_max_pool, global_avg_pool, resize_bilinear, AlignCorners},
    Map,
};

fn main() {
    let mut x: Map<2, 4, 4> = [[[0.0; 4]; 4]; 2];
    for (c, plane) in x.iter_mut().enumerate() {
        for (h, row) in plane.iter_mut().enumerate() {
            for (w, v) in row.iter_mut().enumerate() {
                *v = (c * 16 + h * 4 + w) as f32;
            }
        }
    }

    let mut up: Map<2, 8, 8> = [[[0.0; 8]; 8]; 2];
    resize_bilinear(&x, &mut up, AlignCorners::True);
    assert_eq!(up[1][0][0], x[1][0][0]);
    assert_eq!(up[1][7][7], x[1][3][3]);
    resize_bilinear(&x, &mut up, AlignCorners::False);
    assert_eq!(up[0][0][0], x[0][0][0]);

    let mut down: Map<2, 2, 2> = [[[0.0; 2]; 2]; 2];
    adaptive_avg_pool(&up, &mut down);
    assert!(down[0][0][0] < down[0][1][1]);
    adaptive_max_pool(&x, &mut down);
    assert_eq!(down[0][1][1], 15.0);

    let mut same: Map<2, 4, 4> = [[[0.0; 4]; 4]; 2];
    adaptive_avg_pool(&x, &mut same);
    assert_eq!(same, x);

    let mut g = [0.0f32; 2];
    global_avg_pool(&x, &mut g);
    assert_eq!(g, [7.5, 23.5]);
}
