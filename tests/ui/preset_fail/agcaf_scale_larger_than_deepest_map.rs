// A 64 × 64 input gives an 8 × 8 deepest map: a CPM scale of 9 cannot cut it into a 9 × 9 grid.
hepaseg_core::agcaf_net! {
    mod too_coarse {
        preset: "bad", base: 8, input: 64,
        scales: [9, 4, 3, 2], reduce: (4, 4), cpm: true, afm: true,
    }
}

fn main() {}
