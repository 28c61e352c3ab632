// Channel concatenation: `concat2` of existing maps, and the zero-copy route where each
// producer writes into its own channel range of the buffer.
use hepaseg_core::{
    ops::concat2,
    tensor::{channels, channels_mut, split_channels_mut},
    Map,
};

fn main() {
    let a: Map<2, 3, 3> = [[[1.0; 3]; 3]; 2];
    let b: Map<3, 3, 3> = [[[2.0; 3]; 3]; 3];
    let mut y: Map<5, 3, 3> = [[[0.0; 3]; 3]; 5];
    concat2(&a, &b, &mut y);
    assert_eq!(y[1][2][2], 1.0);
    assert_eq!(y[2][0][0], 2.0);
    assert_eq!(y[4][2][2], 2.0);

    let mut buf: Map<5, 3, 3> = [[[0.0; 3]; 3]; 5];
    channels_mut::<f32, 0, 2, 5, 3, 3>(&mut buf).copy_from_slice(&a);
    channels_mut::<f32, 2, 3, 5, 3, 3>(&mut buf).copy_from_slice(&b);
    assert_eq!(buf, y);

    let (lo, hi) = split_channels_mut::<f32, 1, 4, 5, 3, 3>(&mut buf);
    lo[0][0][0] = -1.0;
    hi[3][0][0] = -2.0;
    assert_eq!(channels::<f32, 0, 1, 5, 3, 3>(&buf)[0][0][0], -1.0);
    assert_eq!(channels::<f32, 4, 1, 5, 3, 3>(&buf)[0][0][0], -2.0);
}
