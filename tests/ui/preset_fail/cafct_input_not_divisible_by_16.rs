// Four stride-2 levels need an input size divisible by 16; 72 is not.
hepaseg_core::cafct_net! {
    mod odd_size {
        preset: "bad", base: 8, input: 72,
        depths: [1, 1, 2, 2], heads: [1, 2, 4, 4], sr: [8, 4, 2, 1], aspp_rates: [6, 12, 18],
        transformer: true, aff: true, aspp: true, ag: true,
    }
}

fn main() {}
