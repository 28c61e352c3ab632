//! The blob reader never panics: not on arbitrary bytes, not on arbitrary mutations of a valid
//! blob (with the checksum left stale, or re-computed so that the damage reaches the
//! structural checks), and whatever it accepts can be read through every accessor.

mod blob_support;

use blob_support::{compact_blob, f32_blob, int8_blob, off, Aligned};
use hepaseg_core::blob::{seal, Blob, BlobParams, SignaturePolicy, MAGIC};
use hepaseg_core::nets::{agcaf::AgcafTiny, Network};
use hepaseg_tests::seeded::{arena, arena_bytes, synthetic_slice};
use proptest::prelude::*;
use std::sync::OnceLock;

/// Reads everything an accepted blob offers; nothing may panic.
fn exercise(blob: &Blob<'_>) {
    let n = blob.tensor_count();
    let _ = blob.signature();
    let _ = blob.stored_checksum();
    let _ = blob.verify_signature(&[9; 32]);
    for i in 0..=n {
        if let Ok(t) = blob.tensor(i) {
            let _ = (t.shape(), t.numel());
            assert_eq!(blob.find(t.name_hash).ok(), Some(i));
            assert_eq!(blob.tensor_by_name(t.name).map(|u| u.index), Ok(t.index));
            let _ = blob.payload(i);
        }
        let _ = blob.tensor_f32(i);
        let _ = blob.tensor_i8(i);
        let _ = blob.tensor_i32(i);
        let _ = blob.tensor_u8(i);
        let _ = blob.packed_rows(i as u32);
    }
    assert_eq!(blob.tensors().count(), n);
}

fn parse_all_ways(bytes: &[u8]) {
    for policy in [
        SignaturePolicy::Optional,
        SignaturePolicy::VerifyIfPresent(&[7; 32]),
        SignaturePolicy::Required(&[7; 32]),
    ] {
        if let Ok(blob) = Blob::parse(bytes, policy) {
            exercise(&blob);
        }
    }
    let _ = Blob::for_network::<AgcafTiny>(bytes, SignaturePolicy::Optional);
    let _ = hepaseg_core::blob::total_len(bytes);
}

fn int8_clean() -> &'static Aligned {
    static B: OnceLock<Aligned> = OnceLock::new();
    B.get_or_init(|| int8_blob(false))
}

fn compact_clean() -> &'static Aligned {
    static B: OnceLock<Aligned> = OnceLock::new();
    B.get_or_init(|| compact_blob(false))
}

fn tiny_clean() -> &'static Aligned {
    static B: OnceLock<Aligned> = OnceLock::new();
    B.get_or_init(|| f32_blob::<AgcafTiny>(4))
}

fn mutate(clean: &Aligned, edits: &[(usize, u8)], cut: usize, reseal: bool) -> Aligned {
    let mut a = clean.clone();
    let len = a.bytes().len();
    for &(at, v) in edits {
        a.bytes_mut()[at % len] = v;
    }
    if reseal {
        let _ = seal(a.bytes_mut());
    }
    a.truncate(len - cut % 8.min(len));
    a
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        parse_all_ways(&bytes);
    }

    #[test]
    fn arbitrary_bytes_behind_a_valid_prefix_never_panic(
        rest in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 0, 0, 0]);
        bytes.extend_from_slice(&rest);
        parse_all_ways(&bytes);
        if bytes.len() >= off::RESERVED {
            let _ = seal(&mut bytes);
            parse_all_ways(&bytes);
        }
    }

    #[test]
    fn mutated_int8_blob_never_panics(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in 0usize..8,
        reseal in any::<bool>(),
    ) {
        let a = mutate(int8_clean(), &edits, cut, reseal);
        parse_all_ways(a.bytes());
    }

    #[test]
    fn mutated_compact_blob_never_panics(
        edits in proptest::collection::vec((0usize..1200, any::<u8>()), 1..6),
        reseal in any::<bool>(),
    ) {
        // Format 1.1: packed record, small alignment, shared names.
        let a = mutate(compact_clean(), &edits, 0, reseal);
        parse_all_ways(a.bytes());
    }

    #[test]
    fn mutated_header_and_table_never_panic(
        edits in proptest::collection::vec((0usize..800, any::<u8>()), 1..6),
    ) {
        // Concentrated on the header and the table, re-sealed: the structural checks.
        let a = mutate(int8_clean(), &edits, 0, true);
        parse_all_ways(a.bytes());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn mutated_network_blob_parses_or_is_refused_and_the_engine_never_panics(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        reseal in any::<bool>(),
    ) {
        let a = mutate(tiny_clean(), &edits, 0, reseal);
        if let Ok(src) = BlobParams::from_bytes::<AgcafTiny>(a.bytes(), SignaturePolicy::Optional)
        {
            let input = synthetic_slice(64, 64, 1);
            let mut ar = arena(AgcafTiny::ARENA_BYTES);
            let _ = AgcafTiny::forward_flat(
                &src,
                &input,
                arena_bytes(&mut ar, AgcafTiny::ARENA_BYTES),
            );
        }
    }
}
