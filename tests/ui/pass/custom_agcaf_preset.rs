// A user-defined preset is a few lines, and its figures are compile-time constants.
use hepaseg_core::nets::Network;

hepaseg_core::agcaf_net! {
    mod small96 {
        preset: "small-96", base: 8, input: 96,
        scales: [8, 6, 4, 2], reduce: (4, 4), cpm: true, afm: true,
    }
}

fn main() {
    // Parameter shapes do not depend on the input size; the tiny preset has the same widths.
    assert_eq!(
        small96::Net::PARAM_COUNT,
        hepaseg_core::nets::agcaf::AgcafTiny::PARAM_COUNT
    );
    assert_eq!(small96::Net::INPUT, [1, 96, 96]);
    assert!(small96::Net::ARENA_BYTES > hepaseg_core::nets::agcaf::AgcafTiny::ARENA_BYTES);
}
