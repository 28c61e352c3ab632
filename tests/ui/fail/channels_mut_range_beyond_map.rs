// Channels 4..8 of a 6-channel concat buffer do not exist.
use hepaseg_core::{tensor::channels_mut, Map};

fn main() {
    let mut buf: Map<6, 4, 4> = [[[0.0; 4]; 4]; 6];
    let part: &mut Map<4, 4, 4> = channels_mut::<f32, 4, 4, 6, 4, 4>(&mut buf);
    part[0][0][0] = 1.0;
}
