// An 8×8 map has 64 pixels, so 64 tokens; 32 tokens is a wrong patch count.
use hepaseg_core::{ops::map_to_tokens, Map, Tokens};

fn main() {
    let x: Map<4, 8, 8> = [[[1.0; 8]; 8]; 4];
    let mut t: Tokens<32, 4> = [[0.0; 4]; 32];
    map_to_tokens(&x, &mut t);
}
