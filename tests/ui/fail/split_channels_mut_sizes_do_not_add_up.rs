// Splitting 8 channels into 3 + 4 leaves one channel unaccounted for.
use hepaseg_core::{tensor::split_channels_mut, Map};

fn main() {
    let mut x: Map<8, 2, 2> = [[[0.0; 2]; 2]; 8];
    let (a, b) = split_channels_mut::<f32, 3, 4, 8, 2, 2>(&mut x);
    a[0][0][0] = 1.0;
    b[0][0][0] = 2.0;
}
