//! Every way a weight blob can be wrong, each produced from a real blob by a real corruption
//! (a flipped byte, a cut, an edited field — re-sealed with a fresh checksum where the damage
//! must get past the CRC to reach a deeper check), and each refused with its own
//! [`BlobError`] variant.

mod blob_support;

use blob_support::{
    compact_blob, encode_aligned, entry, entry_at, f32_blob, f32_descs, int8_blob, off, params,
    read_u32, spec, write_u32, Aligned,
};
use hepaseg_core::blob::{
    encode, encoded_len, name_hash, seal, verify_ed25519, Blob, BlobError, BlobParams, BlobSpec,
    Dtype, QuantDesc, QuantScheme, Region, SignaturePolicy, TensorDesc, FLAG_COMPACT, NO_TENSOR,
};
use hepaseg_core::nets::{agcaf, cafct, Architecture, Network};

type Tiny = agcaf::AgcafTiny;

fn parse(b: &[u8]) -> Result<Blob<'_>, BlobError> {
    Blob::parse(b, SignaturePolicy::Optional)
}

/// An edit of a blob's bytes.
type Edit = Box<dyn Fn(&mut [u8])>;

fn resealed(mut a: Aligned, edit: impl FnOnce(&mut [u8])) -> Aligned {
    edit(a.bytes_mut());
    seal(a.bytes_mut()).expect("header still parses");
    a
}

fn err_of(a: &Aligned) -> BlobError {
    parse(a.bytes()).expect_err("blob must be refused")
}

/// Index of the tensor named `name` in `blob`'s table.
fn index_of(a: &Aligned, name: &str) -> usize {
    parse(a.bytes())
        .unwrap()
        .tensor_by_name(name)
        .unwrap()
        .index as usize
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// --- header --------------------------------------------------------------------------------

#[test]
fn wrong_magic() {
    let mut a = int8_blob(false);
    a.bytes_mut()[0] = b'X';
    assert_eq!(err_of(&a), BlobError::BadMagic { found: *b"XSEG" });
    // Not a blob at all: a PNG signature.
    assert!(matches!(
        parse(b"\x89PNG\r\n\x1a\n and more bytes"),
        Err(BlobError::BadMagic { .. })
    ));
}

#[test]
fn future_major_version_is_refused_and_future_minor_accepted() {
    let mut a = int8_blob(false);
    a.bytes_mut()[off::MAJOR..off::MAJOR + 2].copy_from_slice(&2u16.to_le_bytes());
    assert_eq!(
        err_of(&a),
        BlobError::UnsupportedVersion { major: 2, minor: 0 }
    );
    let mut a = int8_blob(false);
    a.bytes_mut()[off::MAJOR] = 0;
    assert_eq!(
        err_of(&a),
        BlobError::UnsupportedVersion { major: 0, minor: 0 }
    );

    // A reserved header byte is refused in a 1.0 or 1.1 blob (minors this reader knows), but
    // a 1.2 blob may have defined it.
    for minor in [0, 1] {
        let a = resealed(int8_blob(false), |b| {
            b[off::RESERVED + 3] = 7;
            b[off::MINOR] = minor;
        });
        assert_eq!(
            err_of(&a),
            BlobError::NonZeroPadding {
                offset: off::RESERVED + 3
            }
        );
    }
    let a = resealed(int8_blob(false), |b| {
        b[off::RESERVED + 3] = 7;
        b[off::MINOR] = 2;
    });
    let blob = parse(a.bytes()).expect("1.2 with a new header field reads as 1.1");
    assert_eq!(blob.header().minor, 2);
}

#[test]
fn truncated_at_every_position() {
    for a in [int8_blob(false), int8_blob(true)] {
        let full = a.bytes();
        assert!(parse(full).is_ok() || a.bytes()[off::FLAGS] & 1 == 1);
        for len in 0..full.len() {
            match parse(&full[..len]) {
                Err(BlobError::Truncated { needed, available }) => {
                    assert_eq!(available, len);
                    assert!(needed > len);
                }
                other => panic!("cut at {len}: {other:?}"),
            }
        }
    }
    // A whole network's blob, cut inside its header, table and payloads.
    let a = f32_blob::<Tiny>(1);
    let full = a.bytes();
    for len in (0..full.len()).step_by(997).chain(0..200) {
        assert!(
            matches!(parse(&full[..len]), Err(BlobError::Truncated { .. })),
            "cut at {len}"
        );
    }
}

#[test]
fn trailing_bytes() {
    let a = int8_blob(false);
    let mut longer = a.bytes().to_vec();
    longer.push(0);
    assert_eq!(
        parse(&longer).unwrap_err(),
        BlobError::TrailingBytes {
            expected: a.bytes().len(),
            found: a.bytes().len() + 1
        }
    );
}

#[test]
fn impossible_header_fields() {
    let cases: [(usize, u32, &str); 5] = [
        (off::HEADER_LEN, 100, "header_len"),
        (off::HEADER_LEN, 132, "header_len"),
        (off::BODY_LEN, 64, "body_len"),
        (off::ENTRY_LEN, 32, "entry_len"),
        (off::TABLE_OFFSET, 130, "table_offset"),
    ];
    for (at, value, field) in cases {
        // Lengths are read before the checksum (they locate it); the other fields after it.
        let mut a = int8_blob(false);
        write_u32(a.bytes_mut(), at, value);
        if at > off::BODY_LEN {
            seal(a.bytes_mut()).unwrap();
        }
        assert_eq!(
            err_of(&a),
            BlobError::BadHeader { field },
            "{field} = {value}"
        );
    }
    // Preset: empty, not printable, or non-zero padding after it.
    let a = resealed(int8_blob(false), |b| b[off::PRESET_LEN] = 0);
    assert_eq!(err_of(&a), BlobError::BadHeader { field: "preset" });
    let a = resealed(int8_blob(false), |b| b[off::PRESET] = b' ');
    assert_eq!(err_of(&a), BlobError::BadHeader { field: "preset" });
    let a = resealed(int8_blob(false), |b| b[off::PRESET + 20] = b'x');
    assert_eq!(
        err_of(&a),
        BlobError::NonZeroPadding {
            offset: off::PRESET + 20
        }
    );
    // A body length that disagrees with the regions (after re-sealing at the new place).
    let a = int8_blob(false);
    let body = read_u32(a.bytes(), off::BODY_LEN) as usize;
    let mut longer = a.bytes()[..body].to_vec();
    longer.extend_from_slice(&[0; 64]);
    longer.extend_from_slice(&[0; 4]);
    write_u32(&mut longer, off::BODY_LEN, (body + 64) as u32);
    seal(&mut longer).unwrap();
    assert_eq!(
        parse(&longer).unwrap_err(),
        BlobError::BadHeader { field: "body_len" }
    );
}

#[test]
fn unknown_flags_architecture_and_scheme() {
    let mut a = int8_blob(false);
    write_u32(a.bytes_mut(), off::FLAGS, 0b100);
    assert_eq!(err_of(&a), BlobError::UnsupportedFlags { flags: 4 });
    // The compact flag (1.1) in a blob that says 1.0: refused before the checksum.
    let mut a = int8_blob(false);
    write_u32(a.bytes_mut(), off::FLAGS, FLAG_COMPACT);
    assert_eq!(
        err_of(&a),
        BlobError::BadHeader {
            field: "version_minor"
        }
    );
    // "May ignore" flags (bits 16–31) are ignored.
    let a = resealed(int8_blob(false), |b| write_u32(b, off::FLAGS, 1 << 20));
    assert!(parse(a.bytes()).is_ok());

    let a = resealed(int8_blob(false), |b| b[off::ARCHITECTURE] = 9);
    assert_eq!(err_of(&a), BlobError::UnknownArchitecture { id: 9 });
    let a = resealed(int8_blob(false), |b| b[off::SCHEME] = 7);
    assert_eq!(err_of(&a), BlobError::UnknownQuantScheme { id: 7 });
}

// --- checksum and signature ----------------------------------------------------------------

#[test]
fn a_flipped_payload_byte_fails_the_checksum() {
    let mut a = f32_blob::<Tiny>(1);
    let n = a.bytes().len();
    a.bytes_mut()[n / 2] ^= 0x10;
    assert!(matches!(err_of(&a), BlobError::ChecksumMismatch { .. }));
    // So does a flipped bit anywhere after the fields that locate the checksum (sampled),
    // identity fields and the CRC itself included.
    let clean = int8_blob(false);
    let body = read_u32(clean.bytes(), off::BODY_LEN) as usize;
    for at in (off::TENSOR_COUNT..body + 4).step_by(7) {
        let mut a = clean.clone();
        a.bytes_mut()[at] ^= 1 << (at % 8);
        assert!(
            matches!(err_of(&a), BlobError::ChecksumMismatch { .. }),
            "byte {at}"
        );
    }
}

/// RFC 8032 §7.1, test 2 (one-byte message 0x72).
const RFC_KEY: &str = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
const RFC_SIG: &str = "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
                       085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";

fn rfc_key() -> [u8; 32] {
    hex(RFC_KEY).try_into().unwrap()
}

#[test]
fn the_verifier_accepts_the_rfc_8032_vector_and_nothing_else() {
    let key = rfc_key();
    let sig: [u8; 64] = hex(RFC_SIG).try_into().unwrap();
    assert_eq!(verify_ed25519(&[0x72], &sig, &key), Ok(()));
    assert_eq!(
        verify_ed25519(&[0x73], &sig, &key),
        Err(BlobError::SignatureInvalid)
    );
    for bit in [0, 100, 300, 511] {
        let mut s = sig;
        s[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            verify_ed25519(&[0x72], &s, &key),
            Err(BlobError::SignatureInvalid),
            "bit {bit}"
        );
    }
    // Some 32-byte strings are not points at all.
    let bad_key = (2u8..60)
        .map(|k| {
            let mut b = [0u8; 32];
            b[0] = k;
            b
        })
        .find(|k| verify_ed25519(&[0x72], &sig, k) == Err(BlobError::BadPublicKey));
    assert!(bad_key.is_some(), "no invalid point among the candidates");
}

#[test]
fn signature_policies() {
    let key = rfc_key();
    let unsigned = int8_blob(false);
    // Missing when required; fine when optional or verify-if-present.
    assert_eq!(
        Blob::parse(unsigned.bytes(), SignaturePolicy::Required(&key)).unwrap_err(),
        BlobError::SignatureMissing
    );
    assert!(Blob::parse(unsigned.bytes(), SignaturePolicy::Optional).is_ok());
    assert!(Blob::parse(unsigned.bytes(), SignaturePolicy::VerifyIfPresent(&key)).is_ok());
    assert_eq!(
        parse(unsigned.bytes()).unwrap().verify_signature(&key),
        Err(BlobError::SignatureMissing)
    );

    // Signed flag with a signature that is not this key's (here: never filled in).
    let signed = int8_blob(true);
    assert!(Blob::parse(signed.bytes(), SignaturePolicy::Optional).is_ok());
    for policy in [
        SignaturePolicy::Required(&key),
        SignaturePolicy::VerifyIfPresent(&key),
    ] {
        assert_eq!(
            Blob::parse(signed.bytes(), policy).unwrap_err(),
            BlobError::SignatureInvalid
        );
    }
    let blob = parse(signed.bytes()).unwrap();
    assert_eq!(blob.signature(), Some(&[0u8; 64]));
    assert_eq!(
        blob.verify_signature(&key),
        Err(BlobError::SignatureInvalid)
    );

    // Stripping the signature (clear the flag, drop the bytes, fix the CRC) leaves an
    // unsigned blob, which Required still refuses.
    let mut stripped = signed.bytes()[..signed.bytes().len() - 64].to_vec();
    write_u32(&mut stripped, off::FLAGS, 0);
    seal(&mut stripped).unwrap();
    assert_eq!(
        Blob::parse(&stripped, SignaturePolicy::Required(&key)).unwrap_err(),
        BlobError::SignatureMissing
    );
}

// --- regions -------------------------------------------------------------------------------

#[test]
fn payload_out_of_bounds_overlapping_or_misaligned() {
    let clean = int8_blob(false);
    let body = read_u32(clean.bytes(), off::BODY_LEN);
    let last = parse(clean.bytes()).unwrap().tensor_count() - 1;

    let a = resealed(clean.clone(), |b| {
        write_u32(
            b,
            entry_at(last) + entry::DATA_OFF,
            body.next_multiple_of(64) + 64,
        )
    });
    assert_eq!(
        err_of(&a),
        BlobError::OutOfBounds {
            region: Region::Payload(last as u32)
        }
    );

    let first = read_u32(clean.bytes(), entry_at(0) + entry::DATA_OFF);
    let a = resealed(clean.clone(), |b| {
        write_u32(b, entry_at(1) + entry::DATA_OFF, first)
    });
    assert_eq!(
        err_of(&a),
        BlobError::Overlap {
            region: Region::Payload(1)
        }
    );

    let a = resealed(clean.clone(), |b| {
        write_u32(
            b,
            entry_at(2) + entry::DATA_OFF,
            read_u32(b, entry_at(2) + entry::DATA_OFF) + 4,
        )
    });
    assert!(matches!(
        err_of(&a),
        BlobError::Misaligned { tensor: 2, .. }
    ));

    // The table reaching past the body, and the names region overlapping the table.
    let a = resealed(clean.clone(), |b| write_u32(b, off::TENSOR_COUNT, 1 << 20));
    assert_eq!(
        err_of(&a),
        BlobError::OutOfBounds {
            region: Region::Table
        }
    );
    let a = resealed(clean.clone(), |b| write_u32(b, off::NAMES_OFFSET, 200));
    assert_eq!(
        err_of(&a),
        BlobError::Overlap {
            region: Region::Names
        }
    );
}

/// Format 1.1: what the compact layout and packed records add, each refused from a real
/// corruption.
#[test]
fn compact_layout_and_packed_record_errors() {
    let clean = compact_blob(false);
    let blob = parse(clean.bytes()).unwrap();
    let weight = index_of(&clean, "conv.weight");
    let record = index_of(&clean, "conv.weight.quant");
    let add = index_of(&clean, "stem.add");
    let exp = index_of(&clean, "softmax.exp");
    let record_at = blob.tensor(record).unwrap().offset as usize;
    let bad_weight = BlobError::BadQuantParams {
        tensor: weight as u32,
    };
    let row = move |k: usize, c: usize| record_at + 4 * (4 * k + c);

    // Record values: a scale that is not a finite positive f32, a multiplier below 2^30, a
    // shift outside −31..=30.
    let cases: Vec<(&str, Edit)> = vec![
        (
            "scale NaN",
            Box::new(move |b| write_u32(b, row(0, 1), f32::NAN.to_bits())),
        ),
        ("scale 0", Box::new(move |b| write_u32(b, row(0, 2), 0))),
        (
            "multiplier 5",
            Box::new(move |b| write_u32(b, row(1, 0), 5)),
        ),
        ("shift 31", Box::new(move |b| write_u32(b, row(2, 3), 31))),
        // The record's shape: same bytes, other rows/columns.
        (
            "record [2, 8]",
            Box::new(move |b| {
                write_u32(b, entry_at(record) + entry::DIMS, 2);
                write_u32(b, entry_at(record) + entry::DIMS + 4, 8);
            }),
        ),
        // The record quantized itself.
        (
            "record per-tensor",
            Box::new(move |b| {
                b[entry_at(record) + entry::QKIND] = 1;
                write_u32(b, entry_at(record) + entry::SCALE, 1f32.to_bits());
            }),
        ),
        // Companion references: out of range, the weight itself, kind 2's fields set.
        (
            "record index out of range",
            Box::new(move |b| write_u32(b, entry_at(weight) + entry::Q_SCALES, 99)),
        ),
        (
            "record is the weight",
            Box::new(move |b| write_u32(b, entry_at(weight) + entry::Q_SCALES, weight as u32)),
        ),
        (
            "multiplier index set",
            Box::new(move |b| write_u32(b, entry_at(weight) + entry::Q_MULTIPLIER, record as u32)),
        ),
        (
            "record is an i8 tensor",
            Box::new(move |b| {
                let act = index_of(&compact_blob(false), "act.stem") as u32;
                write_u32(b, entry_at(weight) + entry::Q_SCALES, act)
            }),
        ),
    ];
    for (what, edit) in cases {
        let a = resealed(clean.clone(), edit);
        assert_eq!(err_of(&a), bad_weight, "{what}");
    }

    // Packed records are a 1.1 feature: kind 3 in a 1.0 blob (payloads still 64-aligned).
    let v10 = int8_blob(false);
    let w10 = index_of(&v10, "conv.weight");
    let a = resealed(v10, |b| {
        let e = entry_at(w10);
        b[e + entry::QKIND] = 3;
        write_u32(b, e + entry::Q_MULTIPLIER, NO_TENSOR);
        write_u32(b, e + entry::Q_SHIFT, NO_TENSOR);
    });
    assert_eq!(err_of(&a), BlobError::BadQuantParams { tensor: w10 as u32 });

    // Alignment: a short i32 payload off its element size, a 1 KiB payload off 64 bytes.
    let off_by = |i: usize, by: u32| -> Aligned {
        resealed(clean.clone(), move |b| {
            let at = entry_at(i) + entry::DATA_OFF;
            write_u32(b, at, read_u32(b, at) + by);
        })
    };
    assert!(matches!(
        err_of(&off_by(add, 2)),
        BlobError::Misaligned { tensor, .. } if tensor == add as u32
    ));
    assert!(matches!(
        err_of(&off_by(exp, 4)),
        BlobError::Misaligned { tensor, .. } if tensor == exp as u32
    ));
    // A compact blob read as 1.0 (flag and minor cleared) is refused, not misread.
    let a = resealed(clean.clone(), |b| {
        write_u32(b, off::FLAGS, 0);
        b[off::MINOR] = 0;
    });
    assert!(matches!(
        err_of(&a),
        BlobError::Misaligned { .. } | BlobError::BadQuantParams { .. }
    ));
}

#[test]
fn non_zero_padding_between_regions() {
    let clean = int8_blob(false);
    let names_end = (read_u32(clean.bytes(), off::NAMES_OFFSET)
        + read_u32(clean.bytes(), off::NAMES_LEN)) as usize;
    let first = read_u32(clean.bytes(), entry_at(0) + entry::DATA_OFF) as usize;
    assert!(
        first > names_end,
        "the layout has padding before the payloads"
    );
    let a = resealed(clean, |b| b[names_end] = 0xAA);
    assert_eq!(err_of(&a), BlobError::NonZeroPadding { offset: names_end });
}

#[test]
fn the_buffer_must_be_aligned_for_typed_views() {
    let a = f32_blob::<Tiny>(1);
    let mut shifted = vec![0u8; a.bytes().len() + 1];
    shifted[1..].copy_from_slice(a.bytes());
    let bytes = &shifted[1..];
    // Parsing reads bytes, so it works anywhere…
    let blob = parse(bytes).expect("parse works at any address");
    // …but an f32 view in place needs 4-byte alignment, and so does the engine.
    assert_eq!(
        blob.tensor_f32(0).unwrap_err(),
        BlobError::BufferMisaligned { required: 4 }
    );
    assert_eq!(
        Blob::for_network::<Tiny>(bytes, SignaturePolicy::Optional).unwrap_err(),
        BlobError::BufferMisaligned { required: 4 }
    );
    assert_eq!(
        blob.tensor_i8(0).unwrap_err(),
        BlobError::WrongDtype { tensor: 0 }
    );
}

// --- table entries -------------------------------------------------------------------------

#[test]
fn unsorted_and_duplicate_entries() {
    let clean = f32_blob::<Tiny>(1);
    let a = resealed(clean.clone(), |b| {
        let (e0, e1) = (entry_at(0), entry_at(1));
        let first: Vec<u8> = b[e0..e0 + 64].to_vec();
        b.copy_within(e1..e1 + 64, e0);
        b[e1..e1 + 64].copy_from_slice(&first);
    });
    assert_eq!(err_of(&a), BlobError::TableNotSorted { tensor: 1 });
    let a = resealed(clean, |b| {
        b.copy_within(entry_at(0)..entry_at(0) + 64, entry_at(1))
    });
    assert_eq!(err_of(&a), BlobError::DuplicateTensor { tensor: 1 });
}

#[test]
fn bad_names() {
    let clean = int8_blob(false);
    let names = read_u32(clean.bytes(), off::NAMES_OFFSET) as usize;
    let names_len = read_u32(clean.bytes(), off::NAMES_LEN);
    let at0 = names + read_u32(clean.bytes(), entry_at(0) + entry::NAME_OFF) as usize;
    let edits: [(&str, Edit); 3] = [
        ("empty", Box::new(|b| b[entry_at(0) + entry::NAME_LEN] = 0)),
        ("control char", Box::new(move |b| b[at0] = b'\n')),
        (
            "outside the names region",
            Box::new(move |b| write_u32(b, entry_at(0) + entry::NAME_OFF, names_len)),
        ),
    ];
    for (what, edit) in edits {
        let a = resealed(clean.clone(), edit);
        assert_eq!(err_of(&a), BlobError::BadName { tensor: 0 }, "{what}");
    }
    // A different but valid name: its stored hash no longer matches.
    let a = resealed(clean, move |b| {
        b[at0] = if b[at0] == b'a' { b'b' } else { b'a' }
    });
    assert_eq!(err_of(&a), BlobError::NameHashMismatch { tensor: 0 });
}

#[test]
fn bad_dtype_and_shape() {
    let clean = int8_blob(false);
    let a = resealed(clean.clone(), |b| b[entry_at(3) + entry::DTYPE] = 9);
    assert_eq!(err_of(&a), BlobError::BadDtype { tensor: 3, code: 9 });
    let shape_edits: [Edit; 4] = [
        Box::new(|b| b[entry_at(3) + entry::RANK] = 5),
        Box::new(|b| write_u32(b, entry_at(3) + entry::DIMS + 12, 1)), // unused dim set
        Box::new(|b| write_u32(b, entry_at(3) + entry::DATA_LEN, 3)),  // length ≠ numel·size
        Box::new(|b| {
            let r = b[entry_at(3) + entry::RANK] as usize;
            if r > 0 {
                write_u32(b, entry_at(3) + entry::DIMS, 0) // zero dimension
            } else {
                b[entry_at(3) + entry::RANK] = 1
            }
        }),
    ];
    for (k, edit) in shape_edits.into_iter().enumerate() {
        let a = resealed(clean.clone(), edit);
        assert_eq!(err_of(&a), BlobError::BadShape { tensor: 3 }, "edit {k}");
    }
    // Non-zero reserved bytes of an entry.
    let a = resealed(clean, |b| b[entry_at(3) + entry::RESERVED] = 1);
    assert_eq!(
        err_of(&a),
        BlobError::NonZeroPadding {
            offset: entry_at(3) + entry::RESERVED
        }
    );
}

#[test]
fn bad_quantization_parameters() {
    let clean = int8_blob(false);
    let bias = index_of(&clean, "conv.bias");
    let act = index_of(&clean, "act.stem");
    let weight = index_of(&clean, "conv.weight");
    let scales = index_of(&clean, "conv.weight.scale");
    let mult = index_of(&clean, "conv.weight.multiplier");
    let shift = index_of(&clean, "conv.weight.shift");
    let lut = index_of(&clean, "lut.sigmoid");
    let payload = |name: &str| {
        let blob = parse(clean.bytes()).unwrap();
        blob.tensor_by_name(name).unwrap().offset as usize
    };
    let (scales_at, mult_at, shift_at) = (
        payload("conv.weight.scale"),
        payload("conv.weight.multiplier"),
        payload("conv.weight.shift"),
    );

    let f32_at = |at: usize, v: f32| -> Edit { Box::new(move |b| write_u32(b, at, v.to_bits())) };
    let u32_at = |at: usize, v: u32| -> Edit { Box::new(move |b| write_u32(b, at, v)) };
    let cases: Vec<(&str, usize, Edit)> = vec![
        (
            "scale NaN",
            act,
            f32_at(entry_at(act) + entry::SCALE, f32::NAN),
        ),
        ("scale 0", act, f32_at(entry_at(act) + entry::SCALE, 0.0)),
        ("scale < 0", act, f32_at(entry_at(act) + entry::SCALE, -0.5)),
        (
            "scale ∞",
            act,
            f32_at(entry_at(act) + entry::SCALE, f32::INFINITY),
        ),
        (
            "i8 zero point 200",
            act,
            u32_at(entry_at(act) + entry::ZERO_POINT, 200),
        ),
        (
            "i32 zero point ≠ 0",
            bias,
            u32_at(entry_at(bias) + entry::ZERO_POINT, 1),
        ),
        (
            "unknown kind",
            lut,
            Box::new(move |b| b[entry_at(lut) + entry::QKIND] = 3),
        ),
        (
            "none with a scale",
            lut,
            f32_at(entry_at(lut) + entry::SCALE, 1.0),
        ),
        (
            "per-channel on i32",
            bias,
            Box::new(move |b| b[entry_at(bias) + entry::QKIND] = 2),
        ),
        (
            "axis ≥ rank",
            weight,
            Box::new(move |b| b[entry_at(weight) + entry::QAXIS] = 4),
        ),
        (
            "no scales",
            weight,
            u32_at(entry_at(weight) + entry::Q_SCALES, u32::MAX),
        ),
        (
            "scales index out of range",
            weight,
            u32_at(entry_at(weight) + entry::Q_SCALES, 99),
        ),
        (
            "scales = itself",
            weight,
            u32_at(entry_at(weight) + entry::Q_SCALES, weight as u32),
        ),
        (
            "scales of wrong dtype",
            weight,
            u32_at(entry_at(weight) + entry::Q_SCALES, mult as u32),
        ),
        (
            "multiplier without shift",
            weight,
            u32_at(entry_at(weight) + entry::Q_SHIFT, u32::MAX),
        ),
        ("channel scale 0", weight, f32_at(scales_at + 8, 0.0)),
        ("channel scale NaN", weight, f32_at(scales_at, f32::NAN)),
        ("multiplier below 2^30", weight, u32_at(mult_at + 4, 12345)),
        (
            "negative multiplier",
            weight,
            u32_at(mult_at + 4, (-(1i32 << 30)) as u32),
        ),
        ("shift 31", weight, u32_at(shift_at, 31)),
        ("shift −32", weight, u32_at(shift_at, (-32i32) as u32)),
    ];
    let _ = (scales, shift);
    for (what, tensor, edit) in cases {
        let a = resealed(clean.clone(), edit);
        match err_of(&a) {
            // A NaN in the f32 scales payload is caught as a non-finite value first.
            BlobError::NonFiniteValue { tensor: t } if what == "channel scale NaN" => {
                assert_eq!(t as usize, scales)
            }
            e => assert_eq!(
                e,
                BlobError::BadQuantParams {
                    tensor: tensor as u32
                },
                "{what}"
            ),
        }
    }
}

#[test]
fn non_finite_f32_values() {
    let a = f32_blob::<Tiny>(1);
    let at = parse(a.bytes()).unwrap().tensor(5).unwrap().offset as usize + 4;
    for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let b = resealed(a.clone(), |b| write_u32(b, at, v.to_bits()));
        assert_eq!(err_of(&b), BlobError::NonFiniteValue { tensor: 5 });
    }
}

#[test]
fn tensors_outside_the_scheme() {
    // An int8 tensor in a blob that says f32.
    let a = resealed(int8_blob(false), |b| b[off::SCHEME] = 0);
    assert!(matches!(err_of(&a), BlobError::SchemeMismatch { .. }));
}

// --- network checks ------------------------------------------------------------------------

#[test]
fn blob_of_another_network_preset_or_wiring() {
    let a = f32_blob::<Tiny>(1);
    assert_eq!(
        Blob::for_network::<cafct::tiny::Net>(a.bytes(), SignaturePolicy::Optional).unwrap_err(),
        BlobError::WrongNetwork {
            expected: Architecture::CafctNet,
            found: Architecture::AgcafNet
        }
    );
    match Blob::for_network::<agcaf::edge::Net>(a.bytes(), SignaturePolicy::Optional) {
        Err(BlobError::WrongPreset { expected, found }) => {
            assert_eq!((expected, found.as_str()), ("edge", "tiny"))
        }
        other => panic!("{other:?}"),
    }
    let e = Blob::for_network::<agcaf::tiny_cpm::Net>(a.bytes(), SignaturePolicy::Optional)
        .unwrap_err();
    assert!(matches!(
        e,
        BlobError::WrongPreset {
            expected: "tiny-cpm",
            ..
        }
    ));
    assert!(e.to_string().contains("`tiny`"), "{e}");

    // Same name, other wiring: the fingerprint catches it.
    let p = params::<Tiny>(1);
    let mut s = spec::<Tiny>(QuantScheme::F32, false);
    s.fingerprint ^= 1;
    let b = encode_aligned(&s, &f32_descs::<Tiny>(&p));
    assert_eq!(
        Blob::for_network::<Tiny>(b.bytes(), SignaturePolicy::Optional).unwrap_err(),
        BlobError::FingerprintMismatch {
            expected: Tiny::FINGERPRINT,
            found: Tiny::FINGERPRINT ^ 1
        }
    );
}

#[test]
fn f32_blob_with_missing_extra_or_reshaped_parameters() {
    let p = params::<Tiny>(1);
    let s = spec::<Tiny>(QuantScheme::F32, false);

    let mut descs = f32_descs::<Tiny>(&p);
    descs.remove(7);
    let a = encode_aligned(&s, &descs);
    assert_eq!(
        Blob::for_network::<Tiny>(a.bytes(), SignaturePolicy::Optional).unwrap_err(),
        BlobError::MissingTensor { param: 7 }
    );

    let extra = [1.0f32; 3];
    let mut descs = f32_descs::<Tiny>(&p);
    descs.push(TensorDesc {
        name: "not.a.parameter",
        dtype: Dtype::F32,
        shape: &[3],
        data: bytemuck::cast_slice(&extra),
        quant: QuantDesc::None,
    });
    let a = encode_aligned(&s, &descs);
    let idx = parse(a.bytes())
        .unwrap()
        .tensor_by_name("not.a.parameter")
        .unwrap()
        .index;
    assert_eq!(
        Blob::for_network::<Tiny>(a.bytes(), SignaturePolicy::Optional).unwrap_err(),
        BlobError::UnexpectedTensor { tensor: idx }
    );

    // Same element count, other shape (a conv weight [CO, CI, K, K] flattened to rank 1).
    let row = Tiny::PARAMS.iter().position(|p| p.rank == 4).unwrap();
    let flat = [Tiny::PARAMS[row].numel()];
    let mut descs = f32_descs::<Tiny>(&p);
    descs[row].shape = &flat;
    let a = encode_aligned(&s, &descs);
    assert_eq!(
        Blob::for_network::<Tiny>(a.bytes(), SignaturePolicy::Optional).unwrap_err(),
        BlobError::WrongShape { param: row }
    );
}

#[test]
fn lookups_and_typed_views_of_the_wrong_kind() {
    let a = int8_blob(false);
    let blob = parse(a.bytes()).unwrap();
    assert_eq!(
        blob.tensor_by_name("no.such.tensor").unwrap_err(),
        BlobError::UnknownTensor {
            name_hash: name_hash("no.such.tensor")
        }
    );
    assert_eq!(
        blob.tensor(blob.tensor_count()).unwrap_err(),
        BlobError::NoSuchIndex {
            index: blob.tensor_count()
        }
    );
    let lut = blob.tensor_by_name("lut.sigmoid").unwrap().index;
    assert_eq!(
        blob.tensor_f32(lut as usize).unwrap_err(),
        BlobError::WrongDtype { tensor: lut }
    );
    let bias = blob.tensor_by_name("conv.bias").unwrap().index;
    assert_eq!(
        blob.tensor_u8(bias as usize).unwrap_err(),
        BlobError::WrongDtype { tensor: bias }
    );
    let checked = Blob::for_network::<Tiny>(a.bytes(), SignaturePolicy::Optional).unwrap();
    assert!(matches!(
        BlobParams::new::<Tiny>(checked),
        Err(BlobError::WrongScheme { .. })
    ));
}

// --- encoder -------------------------------------------------------------------------------

#[test]
fn encoder_refuses_what_the_reader_would() {
    let s = spec::<Tiny>(QuantScheme::Int8PerChannel, false);
    let data = [0u8; 4];
    let desc = |name: &'static str, quant| TensorDesc {
        name,
        dtype: Dtype::I8,
        shape: &[4],
        data: &data,
        quant,
    };
    let mut out = vec![0u8; 4096];
    let enc = |d: &[TensorDesc<'_>], out: &mut [u8]| encode(&s, d, out);
    assert_eq!(
        enc(
            &[desc("a", QuantDesc::None), desc("a", QuantDesc::None)],
            &mut out
        ),
        Err(BlobError::DuplicateTensor { tensor: 0 })
    );
    assert_eq!(
        enc(&[desc("has space", QuantDesc::None)], &mut out),
        Err(BlobError::BadName { tensor: 0 })
    );
    let mut wrong = desc("w", QuantDesc::None);
    wrong.shape = &[5];
    assert_eq!(
        enc(&[wrong], &mut out),
        Err(BlobError::BadShape { tensor: 0 })
    );
    assert_eq!(
        enc(
            &[desc(
                "w",
                QuantDesc::PerChannel {
                    axis: 0,
                    scales: "w.scale",
                    multiplier: None,
                    shift: None
                }
            )],
            &mut out
        ),
        Err(BlobError::UnknownTensor {
            name_hash: name_hash("w.scale")
        })
    );
    assert!(matches!(
        enc(
            &[desc(
                "w",
                QuantDesc::PerTensor {
                    scale: -1.0,
                    zero_point: 0
                }
            )],
            &mut out
        ),
        Err(BlobError::BadQuantParams { .. })
    ));
    let ok = [desc("w", QuantDesc::None)];
    let n = encoded_len(&s, &ok).unwrap();
    assert_eq!(
        enc(&ok, &mut out[..n - 1]),
        Err(BlobError::OutputTooSmall {
            needed: n,
            available: n - 1
        })
    );
    let bad_preset = BlobSpec { preset: "", ..s };
    assert_eq!(
        encode(&bad_preset, &ok, &mut out),
        Err(BlobError::BadHeader { field: "preset" })
    );
}

#[test]
fn encoder_refuses_blobs_beyond_4_gib() {
    // Zeroed allocations are lazily mapped: nothing is touched by a layout computation.
    let big = vec![0u8; 1 << 30];
    let names = ["a", "b", "c", "d", "e"];
    let descs: Vec<TensorDesc<'_>> = names
        .iter()
        .map(|name| TensorDesc {
            name,
            dtype: Dtype::U8,
            shape: &[1 << 30],
            data: &big,
            quant: QuantDesc::None,
        })
        .collect();
    assert_eq!(
        encoded_len(&spec::<Tiny>(QuantScheme::Int8PerChannel, false), &descs),
        Err(BlobError::TooLarge)
    );
}

#[test]
fn every_error_displays_a_sentence() {
    let samples = [
        BlobError::ChecksumMismatch {
            stored: 1,
            computed: 2,
        },
        BlobError::WrongNetwork {
            expected: Architecture::CafctNet,
            found: Architecture::AgcafNet,
        },
        BlobError::SignatureMissing,
        BlobError::Truncated {
            needed: 10,
            available: 3,
        },
    ];
    for e in samples {
        let s = e.to_string();
        assert!(s.len() > 10 && !s.contains("{"), "{s}");
    }
}
