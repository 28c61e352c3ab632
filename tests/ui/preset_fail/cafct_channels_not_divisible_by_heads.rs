// Level 4 has 4C = 32 channels, which 3 attention heads cannot split evenly.
hepaseg_core::cafct_net! {
    mod bad_heads {
        preset: "bad", base: 8, input: 64,
        depths: [1, 1, 2, 2], heads: [1, 2, 4, 3], sr: [8, 4, 2, 1], aspp_rates: [6, 12, 18],
        transformer: true, aff: true, aspp: true, ag: true,
    }
}

fn main() {}
