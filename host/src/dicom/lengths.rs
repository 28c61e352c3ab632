//! A pre-check of a DICOM Part 10 file's declared value lengths against the file's size.
//!
//! dicom-rs 0.10 reserves *and zero-fills* a value's declared length before reading it, so one
//! corrupt length field (up to 4 GiB) in a 30 KB file makes it touch gigabytes of memory before
//! failing (found by the `read_dicom` fuzz target). This walk reads only element headers and
//! refuses a file in which any element claims more bytes than remain, which bounds every
//! allocation the parser makes by the file's size. It is deliberately permissive otherwise:
//! what it cannot walk (a deflated transfer syntax) is left to dicom-rs to judge.

/// The explicit VRs whose length is the 16-bit field right after the VR (PS3.5 §7.1.2, Table
/// 7.1-2). Every other VR — the long ones (OB, OW, SQ, UN, UT, …) *and any VR this list does
/// not know* — has 2 reserved bytes and a 32-bit length. That second rule is what dicom-rs
/// 0.10 does (an unrecognised VR is read as UN), and the walk must agree with it element by
/// element: the second read_dicom fuzz finding was an uppercase but invalid VR `IL` that this
/// walk read as short while dicom-rs read it as long, so the two parted ways and dicom-rs met a
/// 4 GB length inside the pixel data that the walk never saw.
const SHORT_VRS: [&[u8; 2]; 21] = [
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN",
    b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US",
];
const UNDEFINED: u32 = 0xFFFF_FFFF;
const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);

#[derive(Clone, Copy, PartialEq)]
enum Syntax {
    ExplicitLe,
    ImplicitLe,
    ExplicitBe,
}

/// `Err(detail)` naming the first element whose declared length runs past the end of `file`
/// (the whole Part 10 file: preamble, `DICM`, meta group, data set).
pub fn check(file: &[u8]) -> Result<(), String> {
    const START: usize = 132;
    // The meta group is explicit VR little endian; it tells the data set's syntax.
    let mut syntax = Syntax::ExplicitLe;
    let mut pos = START;
    while let Some(h) = header(file, pos, Syntax::ExplicitLe) {
        if h.tag.0 != 0x0002 {
            break;
        }
        let value = h.value_start..h.value_start.saturating_add(h.len as usize);
        h.fits(file)?;
        if h.tag == (0x0002, 0x0010) {
            let uid = file.get(value.clone()).unwrap_or_default();
            let uid = std::str::from_utf8(uid)
                .unwrap_or("")
                .trim_end_matches(['\0', ' ']);
            syntax = match uid {
                "1.2.840.10008.1.2" => Syntax::ImplicitLe,
                "1.2.840.10008.1.2.2" => Syntax::ExplicitBe,
                // Deflated: the data set is a zlib stream, not element headers.
                "1.2.840.10008.1.2.1.99" => return Ok(()),
                _ => Syntax::ExplicitLe,
            };
        }
        pos = value.end;
    }
    // The data set: defined lengths are checked and skipped; undefined lengths (sequences,
    // items, encapsulated pixel data) are entered, so their contents are checked too, except
    // the fragments of encapsulated pixel data, which hold compressed bytes.
    let mut in_fragments = false;
    while let Some(h) = header(file, pos, syntax) {
        h.fits(file)?;
        let is_item_tag = h.tag.0 == 0xFFFE;
        if h.tag == PIXEL_DATA && h.len == UNDEFINED {
            in_fragments = true;
        }
        if h.tag == (0xFFFE, 0xE0DD) {
            in_fragments = false;
        }
        let enter = h.len == UNDEFINED || (is_item_tag && !in_fragments) || (h.vr == Some(*b"SQ"));
        pos = if enter {
            h.value_start
        } else {
            h.value_start.saturating_add(h.len as usize)
        };
    }
    Ok(())
}

/// One element header.
struct Header {
    tag: (u16, u16),
    vr: Option<[u8; 2]>,
    len: u32,
    value_start: usize,
}

impl Header {
    fn fits(&self, file: &[u8]) -> Result<(), String> {
        let left = file.len().saturating_sub(self.value_start);
        if self.len != UNDEFINED && self.len as usize > left {
            return Err(format!(
                "element ({:04X},{:04X}) declares {} bytes but only {left} remain in the file \
                 (a damaged length field)",
                self.tag.0, self.tag.1, self.len
            ));
        }
        Ok(())
    }
}

/// The header at `pos`, or `None` at the end of the file.
fn header(file: &[u8], pos: usize, syntax: Syntax) -> Option<Header> {
    let b = file.get(pos..pos.checked_add(8)?)?;
    let be = syntax == Syntax::ExplicitBe;
    let u16_at = |i: usize| {
        let v = [b[i], b[i + 1]];
        if be {
            u16::from_be_bytes(v)
        } else {
            u16::from_le_bytes(v)
        }
    };
    let group = u16_at(0);
    // Big-endian syntax still writes the meta group little endian; items are in the syntax.
    let tag = (group, u16_at(2));
    let u32_of = |v: [u8; 4]| {
        if be {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        }
    };
    if tag.0 == 0xFFFE || syntax == Syntax::ImplicitLe {
        return Some(Header {
            tag,
            vr: None,
            len: u32_of([b[4], b[5], b[6], b[7]]),
            value_start: pos + 8,
        });
    }
    let vr = [b[4], b[5]];
    // dicom-rs reads an unknown VR as UN (reserved bytes and a 4-byte length), and so does
    // this walk: the fuzzer's 3.6 GB length sat behind the VR bytes `00 DD`, its 4 GB one
    // behind an element with the invalid VR `IL`.
    if !SHORT_VRS.contains(&&vr) {
        let l = file.get(pos + 8..pos + 12)?;
        Some(Header {
            tag,
            vr: Some(vr),
            len: u32_of([l[0], l[1], l[2], l[3]]),
            value_start: pos + 12,
        })
    } else {
        Some(Header {
            tag,
            vr: Some(vr),
            len: u32::from(u16_at(6)),
            value_start: pos + 8,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Part 10 file: preamble, DICM, a meta group naming `syntax`, then `body`.
    fn part10(syntax: &str, body: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 128];
        f.extend_from_slice(b"DICM");
        let mut uid = syntax.as_bytes().to_vec();
        if uid.len() % 2 == 1 {
            uid.push(0);
        }
        f.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
        f.extend_from_slice(&(uid.len() as u16).to_le_bytes());
        f.extend_from_slice(&uid);
        f.extend_from_slice(body);
        f
    }

    fn explicit(
        group: u16,
        elem: u16,
        vr: &[u8; 2],
        value: &[u8],
        declared: Option<u32>,
    ) -> Vec<u8> {
        let mut e = Vec::new();
        e.extend_from_slice(&group.to_le_bytes());
        e.extend_from_slice(&elem.to_le_bytes());
        e.extend_from_slice(vr);
        let len = declared.unwrap_or(value.len() as u32);
        if !SHORT_VRS.contains(&vr) {
            e.extend_from_slice(&[0, 0]);
            e.extend_from_slice(&len.to_le_bytes());
        } else {
            e.extend_from_slice(&(len as u16).to_le_bytes());
        }
        e.extend_from_slice(value);
        e
    }

    #[test]
    fn honest_lengths_pass_and_a_huge_one_is_named() {
        let ok = [
            explicit(0x0010, 0x0010, b"PN", b"DOE^J ", None),
            explicit(0x7FE0, 0x0010, b"OW", &[0; 8], None),
        ]
        .concat();
        assert_eq!(check(&part10("1.2.840.10008.1.2.1", &ok)), Ok(()));
        let bad = [
            explicit(0x0010, 0x0010, b"PN", b"DOE^J ", None),
            explicit(0x9400, 0xBB00, b"OB", &[0; 8], Some(3_623_931_648)),
        ]
        .concat();
        let e = check(&part10("1.2.840.10008.1.2.1", &bad)).unwrap_err();
        assert!(
            e.contains("(9400,BB00) declares 3623931648 bytes but only 8 remain"),
            "{e}"
        );
    }

    #[test]
    fn an_unknown_vr_is_read_as_un_like_dicom_rs_does() {
        // The fuzzer's case: tag (9400,BB00), VR bytes 00 DD, a 4-byte length 0xD8000000.
        let mut body = explicit(0x0010, 0x0010, b"PN", b"DOE^J ", None);
        body.extend_from_slice(&[0x00, 0x94, 0x00, 0xBB, 0x00, 0xDD, 0, 0, 0, 0, 0, 0xD8]);
        body.extend_from_slice(&[0; 8]);
        let e = check(&part10("1.2.840.10008.1.2.1", &body)).unwrap_err();
        assert!(e.contains("(9400,BB00) declares 3623878656 bytes"), "{e}");
    }

    #[test]
    fn an_uppercase_vr_that_is_not_a_short_one_has_a_4_byte_length() {
        // The second fuzz finding: VR `IL` (not a DICOM VR). Read as short (2-byte length 4)
        // the walk would step over 4 bytes; dicom-rs reads reserved bytes `04 00` and the
        // 4-byte length after them, and so must the walk — here that length is 60,000.
        let mut body = explicit(0x0010, 0x0010, b"PN", b"DOE^J ", None);
        body.extend_from_slice(&[0x19, 0x00, 0x60, 0x10, b'I', b'L', 4, 0]);
        body.extend_from_slice(&60_000u32.to_le_bytes());
        body.extend_from_slice(&[0; 16]);
        let e = check(&part10("1.2.840.10008.1.2.1", &body)).unwrap_err();
        assert!(e.contains("(0019,1060) declares 60000 bytes"), "{e}");
        // A real long VR the old list knew and a 64-bit one it did not (SV) read the same way.
        for vr in [b"OW", b"SV"] {
            let ok = explicit(0x0019, 0x1060, vr, &[0; 8], None);
            assert_eq!(check(&part10("1.2.840.10008.1.2.1", &ok)), Ok(()), "{vr:?}");
        }
    }

    #[test]
    fn sequences_and_items_of_undefined_length_are_entered() {
        // SQ (undefined) → item (undefined) → an element with a bad length.
        let mut body = explicit(0x0008, 0x1115, b"SQ", &[], Some(UNDEFINED));
        body.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        body.extend(explicit(0x0008, 0x1150, b"UI", b"12", Some(60_000)));
        let e = check(&part10("1.2.840.10008.1.2.1", &body)).unwrap_err();
        assert!(e.contains("(0008,1150) declares 60000"), "{e}");
    }

    #[test]
    fn implicit_syntax_and_fragments() {
        // Implicit VR: tag + 4-byte length.
        let mut body = vec![0x10, 0x00, 0x10, 0x00, 6, 0, 0, 0];
        body.extend_from_slice(b"DOE^J ");
        assert_eq!(check(&part10("1.2.840.10008.1.2", &body)), Ok(()));
        body.extend_from_slice(&[0x10, 0x00, 0x20, 0x00, 0, 0, 0, 0x40]);
        assert!(check(&part10("1.2.840.10008.1.2", &body)).is_err());
        // Encapsulated pixel data: fragment bytes are not parsed as headers.
        let mut px = explicit(0x7FE0, 0x0010, b"OB", &[], Some(UNDEFINED));
        px.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 4, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
        px.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        assert_eq!(check(&part10("1.2.840.10008.1.2.4.50", &px)), Ok(()));
    }
}
