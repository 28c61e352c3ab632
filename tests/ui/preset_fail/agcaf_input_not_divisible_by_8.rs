// Three stride-2 levels need an input size divisible by 8; 60 is not.
hepaseg_core::agcaf_net! {
    mod odd_size {
        preset: "bad", base: 8, input: 60,
        scales: [6, 4, 3, 2], reduce: (4, 4), cpm: true, afm: true,
    }
}

fn main() {}
