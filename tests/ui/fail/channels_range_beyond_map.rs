// The read-only view is checked the same way: channel 3 of a 3-channel map does not exist.
use hepaseg_core::{tensor::channels, Map};

fn main() {
    let x: Map<3, 2, 2> = [[[1.0; 2]; 2]; 3];
    let last: &Map<1, 2, 2> = channels::<f32, 3, 1, 3, 2, 2>(&x);
    assert_eq!(last[0][0][0], 1.0);
}
