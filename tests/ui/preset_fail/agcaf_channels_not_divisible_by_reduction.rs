// 8B = 64 channels cannot be reduced by r_c = 3.
hepaseg_core::agcaf_net! {
    mod odd_ratio {
        preset: "bad", base: 8, input: 64,
        scales: [6, 4, 3, 2], reduce: (3, 4), cpm: true, afm: true,
    }
}

fn main() {}
