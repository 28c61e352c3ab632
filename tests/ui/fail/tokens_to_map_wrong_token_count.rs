// 64 tokens cannot be folded back into a 4×8 map (32 pixels).
use hepaseg_core::{ops::tokens_to_map, Map, Tokens};

fn main() {
    let t: Tokens<64, 4> = [[1.0; 4]; 64];
    let mut y: Map<4, 4, 8> = [[[0.0; 8]; 4]; 4];
    tokens_to_map(&t, &mut y);
}
