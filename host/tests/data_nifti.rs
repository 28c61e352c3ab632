//! NIfTI reader on real files from `../shared/testdata/` (written by nibabel, not by us), the
//! writer's header checked by the `nifti` crate, and broken files giving the right errors.

use hepaseg::data::nifti_read::{read_info, read_labels, read_volume};
use hepaseg::data::nifti_write::{write_ct, write_labels};
use hepaseg::data::{DataError, Geometry, Volume};
use std::path::{Path, PathBuf};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/testdata/");

fn real(name: &str) -> PathBuf {
    Path::new(TESTDATA).join(name)
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hepaseg-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn gunzip(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn assert_names(e: &DataError, file: &Path) {
    let name = file.file_name().unwrap().to_string_lossy();
    assert!(e.to_string().contains(&*name), "`{e}` does not name {name}");
}

#[test]
fn anatomical_nii_big_endian_int16() {
    let path = real("anatomical.nii");
    let info = read_info(&path).unwrap();
    assert_eq!(info.dims, [33, 41, 25]);
    assert_eq!(info.datatype, 4, "int16");
    assert!(info.big_endian);
    assert_eq!(info.vox_offset, 352);
    assert_eq!((info.scl_slope, info.scl_inter), (1.0, 0.0));
    let g = &info.geometry;
    assert_eq!(g.spacing, [2.0, 2.0, 2.0]);
    assert_eq!(g.qfac, -1.0);
    assert_eq!((g.qform_code, g.sform_code), (2, 2));
    assert_eq!(g.quatern, [0.0, 1.0, 0.0]);
    assert_eq!(g.qoffset, [32.0, -40.0, -16.0]);
    assert_eq!(g.srow[0], [-2.0, 0.0, 0.0, 32.0]);
    assert_eq!(g.srow[2], [0.0, 0.0, 2.0, -16.0]);
    assert_eq!(g.xyzt_units, 10);

    let v = read_volume(&path).unwrap();
    assert_eq!(v.dims(), [33, 41, 25]);
    // Reference values computed from the raw big-endian bytes with Python's struct module.
    let sum: f64 = v.data().iter().map(|&x| f64::from(x)).sum();
    assert_eq!(sum, 284_166_082.0);
    let min = v.data().iter().copied().fold(f32::INFINITY, f32::min);
    let max = v.data().iter().copied().fold(f32::NEG_INFINITY, f32::max);
    assert_eq!((min, max), (-610.0, 30393.0));
    assert_eq!(v.data()[0], 10712.0);
    assert_eq!(v.slice(12)[5], 12103.0);
    assert_eq!(v.slice(12)[20 * 33 + 16], 11881.0);
}

#[test]
fn standard_nii_gz_uint8() {
    let path = real("standard.nii.gz");
    let info = read_info(&path).unwrap();
    assert_eq!(info.dims, [4, 5, 7]);
    assert_eq!(info.datatype, 2, "uint8");
    assert!(!info.big_endian);
    assert_eq!(info.geometry.spacing, [1.0, 3.0, 2.0]);
    assert_eq!((info.geometry.qform_code, info.geometry.sform_code), (0, 2));
    assert_eq!(info.geometry.srow[1], [0.0, 3.0, 0.0, 0.0]);
    let v = read_volume(&path).unwrap();
    assert_eq!(v.data().len(), 140);
    assert_eq!(v.data().iter().sum::<f32>(), 7650.0);
    assert_eq!(v.data()[..5], [0.0, 255.0, 0.0, 0.0, 255.0]);
    // 255 is no LiTS label.
    let e = read_labels(&path).unwrap_err();
    assert!(
        matches!(e, DataError::InvalidLabel { value, .. } if value == 255.0),
        "{e}"
    );
    assert_names(&e, &path);
}

#[test]
fn scl_slope_and_inter_are_applied() {
    let dir = Scratch::new("scl");
    let mut bytes = gunzip(&real("standard.nii.gz"));
    bytes[112..116].copy_from_slice(&2.0f32.to_le_bytes());
    bytes[116..120].copy_from_slice(&(-10.0f32).to_le_bytes());
    let path = dir.path("scaled.nii");
    std::fs::write(&path, &bytes).unwrap();
    let v = read_volume(&path).unwrap();
    assert_eq!(v.data()[..3], [-10.0, 500.0, -10.0]);
    // Slope 0 means "no scaling" (NIfTI-1).
    bytes[112..116].copy_from_slice(&0.0f32.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(read_volume(&path).unwrap().data()[1], 255.0);
}

#[test]
fn truncated_and_corrupt_files_name_the_file() {
    let dir = Scratch::new("broken");
    let full = std::fs::read(real("anatomical.nii")).unwrap();

    let cut = dir.path("cut.nii");
    std::fs::write(&cut, &full[..1000]).unwrap();
    let e = read_volume(&cut).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::TruncatedNifti {
                expected: 68002,
                found: 1000,
                ..
            }
        ),
        "{e}"
    );
    assert_names(&e, &cut);
    // The header alone reads fine (datasets open on headers).
    assert_eq!(read_info(&cut).unwrap().dims, [33, 41, 25]);

    let stub = dir.path("stub.nii");
    std::fs::write(&stub, &full[..100]).unwrap();
    let e = read_info(&stub).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::TruncatedNifti {
                expected: 348,
                found: 100,
                ..
            }
        ),
        "{e}"
    );
    assert_names(&e, &stub);

    let junk = dir.path("junk.nii");
    std::fs::write(&junk, vec![7u8; 600]).unwrap();
    let e = read_volume(&junk).unwrap_err();
    assert!(matches!(e, DataError::NotNifti { .. }), "{e}");
    assert_names(&e, &junk);

    // Complex64 (datatype 32) is valid NIfTI but not a CT.
    let mut complex = full.clone();
    complex[70..72].copy_from_slice(&32i16.to_be_bytes());
    complex[72..74].copy_from_slice(&64i16.to_be_bytes());
    let cplx = dir.path("complex.nii");
    std::fs::write(&cplx, &complex).unwrap();
    let e = read_volume(&cplx).unwrap_err();
    assert!(
        matches!(e, DataError::UnsupportedDatatype { code: 32, .. }),
        "{e}"
    );
    assert_names(&e, &cplx);

    // A 4-D series with 3 time points is not one volume.
    let mut four = full.clone();
    four[40..42].copy_from_slice(&4i16.to_be_bytes());
    four[48..50].copy_from_slice(&3i16.to_be_bytes());
    let fourd = dir.path("fourd.nii");
    std::fs::write(&fourd, &four).unwrap();
    let e = read_volume(&fourd).unwrap_err();
    assert!(matches!(e, DataError::WrongDimensions { .. }), "{e}");
    assert_names(&e, &fourd);

    // A zero dimension.
    let mut zero = full.clone();
    zero[44..46].copy_from_slice(&0i16.to_be_bytes());
    let zdim = dir.path("zero.nii");
    std::fs::write(&zdim, &zero).unwrap();
    assert!(matches!(
        read_info(&zdim),
        Err(DataError::WrongDimensions { .. })
    ));

    let missing = dir.path("missing.nii");
    let e = read_volume(&missing).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }), "{e}");
    assert_names(&e, &missing);
}

#[test]
fn truncated_and_corrupt_gzip() {
    let dir = Scratch::new("gz");
    // A gzip of a bigger volume, so a cut lands inside the deflate stream.
    let ct = Volume::new(
        [16, 16, 4],
        (0..1024).map(|i| (i % 97) as f32 * 7.0 - 300.0).collect(),
        Geometry::with_spacing([0.8, 0.8, 2.5]),
    )
    .unwrap();
    let path = dir.path("vol.nii.gz");
    write_ct(&path, &ct, -1024.0).unwrap();
    let bytes = std::fs::read(&path).unwrap();

    let cut = dir.path("cut.nii.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = read_volume(&cut).unwrap_err();
    assert!(matches!(e, DataError::TruncatedNifti { .. }), "{e}");
    assert_names(&e, &cut);

    let mut bad = bytes.clone();
    for b in &mut bad[12..40] {
        *b ^= 0x5a;
    }
    let corrupt = dir.path("corrupt.nii.gz");
    std::fs::write(&corrupt, &bad).unwrap();
    let e = read_volume(&corrupt).unwrap_err();
    assert!(matches!(e, DataError::CorruptGzip { .. }), "{e}");
    assert_names(&e, &corrupt);
}

#[test]
fn writer_round_trips_and_the_nifti_crate_agrees() {
    let dir = Scratch::new("write");
    let mut geometry = Geometry::with_spacing([0.75, 0.8, 2.5]);
    geometry.qoffset = [-180.0, -170.0, 40.0];
    geometry.srow[0][3] = -180.0;
    let hu: Vec<f32> = (0..6 * 5 * 3)
        .map(|i| (i as f32 * 37.0) % 2400.0 - 1024.0)
        .collect();
    let ct = Volume::new([6, 5, 3], hu.clone(), geometry.clone()).unwrap();
    let labels = Volume::new(
        [6, 5, 3],
        (0..90).map(|i| (i % 3) as u8).collect(),
        geometry.clone(),
    )
    .unwrap();
    for name in ["ct.nii", "ct.nii.gz"] {
        let path = dir.path(name);
        write_ct(&path, &ct, -1024.0).unwrap();
        let back = read_volume(&path).unwrap();
        assert_eq!(back.data(), &hu[..], "{name}");
        assert_eq!(back.geometry(), &geometry);
        let info = read_info(&path).unwrap();
        assert_eq!(
            (info.datatype, info.scl_slope, info.scl_inter),
            (4, 1.0, -1024.0)
        );
    }
    let seg = dir.path("seg.nii.gz");
    write_labels(&seg, &labels).unwrap();
    assert_eq!(read_labels(&seg).unwrap(), labels);

    // Independent check of the header layout with the nifti crate's parser.
    let raw = std::fs::read(dir.path("ct.nii")).unwrap();
    let h = nifti::NiftiHeader::from_reader(&raw[..]).unwrap();
    assert_eq!(h.sizeof_hdr, 348);
    assert_eq!(&h.dim[..5], &[3, 6, 5, 3, 1]);
    assert_eq!(h.datatype, 4);
    assert_eq!(h.bitpix, 16);
    assert_eq!(h.vox_offset, 352.0);
    assert_eq!(&h.pixdim[..4], &[1.0, 0.75, 0.8, 2.5]);
    assert_eq!(h.srow_x, [0.75, 0.0, 0.0, -180.0]);
    assert_eq!(
        (h.quatern_x, h.quatern_y, h.quatern_z),
        (-180.0, -170.0, 40.0)
    );
    assert_eq!(&h.magic, b"n+1\0");
    assert_eq!(raw.len(), 352 + 90 * 2);
    // No temporary files are left behind.
    let names: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
}
