//! Helpers shared by the `cli_quant*` tests: phantom and synthetic slices, aligned blobs.
#![allow(dead_code)]

use hepaseg::data::phantom;
use hepaseg::data::Window;
use hepaseg::quant::report::AlignedBytes;
use hepaseg::quant::EvalSlice;
use hepaseg_core::blob::{
    encode, encoded_len, Blob, BlobSpec, Dtype, Quant, QuantDesc, SignaturePolicy, TensorDesc,
};
use hepaseg_core::nets::Architecture;

/// Liver slices of phantom volumes `seeds` at 64 × 64, windowed to [0, 1], with tumour masks.
pub fn phantom_slices(seeds: std::ops::Range<u64>, per_volume: usize) -> Vec<EvalSlice> {
    let w = Window::default();
    let mut out = Vec::new();
    for seed in seeds {
        let p = phantom::generate(64, 24, seed).expect("phantom");
        let liver: Vec<usize> = (0..p.ct.depth())
            .filter(|&z| p.labels.slice(z).iter().any(|&l| l != 0))
            .collect();
        let k = per_volume.min(liver.len());
        for i in 0..k {
            let z = liver[i * liver.len() / k];
            out.push(EvalSlice {
                image: p.ct.slice(z).iter().map(|&hu| w.apply(hu)).collect(),
                mask: Some(
                    p.labels
                        .slice(z)
                        .iter()
                        .map(|&l| if l == 2 { 1.0 } else { 0.0 })
                        .collect(),
                ),
            });
        }
    }
    out
}

/// A CT-like 64 × 64 slice in [0, 1] from arithmetic alone (body, liver, lesions, noise), so
/// the golden test's data is the same on every platform.
pub fn synthetic_ct(seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut unit = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
    };
    let (lx, ly) = (24.0 + 8.0 * unit(), 30.0 + 6.0 * unit());
    let lesions: Vec<(f32, f32, f32)> = (0..3)
        .map(|_| {
            (
                lx + 12.0 * unit() - 6.0,
                ly + 10.0 * unit() - 5.0,
                2.0 + 4.0 * unit(),
            )
        })
        .collect();
    let mut out = Vec::with_capacity(64 * 64);
    for y in 0..64 {
        for x in 0..64 {
            let (xf, yf) = (x as f32, y as f32);
            let body = ((xf - 32.0) / 29.0).powi(2) + ((yf - 32.0) / 24.0).powi(2) <= 1.0;
            let liver = ((xf - lx) / 14.0).powi(2) + ((yf - ly) / 11.0).powi(2) <= 1.0;
            let mut v = if body { 0.52 } else { 0.0 };
            if liver {
                v = 0.64;
                if lesions
                    .iter()
                    .any(|&(cx, cy, r)| (xf - cx).powi(2) + (yf - cy).powi(2) <= r * r)
                {
                    v = 0.45;
                }
            }
            out.push((v + 0.04 * (unit() - 0.5)).clamp(0.0, 1.0));
        }
    }
    out
}

/// FNV-1a 64.
pub fn fnv(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Synthetic slices `seeds` without masks.
pub fn synthetic_slices(seeds: std::ops::Range<u64>) -> Vec<EvalSlice> {
    seeds
        .map(|s| EvalSlice {
            image: synthetic_ct(s),
            mask: None,
        })
        .collect()
}

/// An owned copy of a blob's tensors that can be edited and re-encoded.
#[derive(Debug, Clone)]
pub struct Tensor {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
    pub quant: Q,
}

#[derive(Debug, Clone)]
pub enum Q {
    None,
    PerTensor(f32, i32),
    PerChannel(u8, String, Option<String>, Option<String>),
    PerChannelPacked(u8, String),
}

#[derive(Debug, Clone)]
pub struct Editable {
    pub architecture: Architecture,
    pub preset: String,
    pub fingerprint: u64,
    pub tensors: Vec<Tensor>,
}

impl Editable {
    pub fn from(bytes: &[u8]) -> Self {
        let aligned = AlignedBytes::new(bytes);
        let b = Blob::parse(aligned.bytes(), SignaturePolicy::Optional).unwrap();
        let name = |i: u32| b.tensor(i as usize).unwrap().name.to_owned();
        let tensors = b
            .tensors()
            .map(|t| Tensor {
                name: t.name.to_owned(),
                dtype: t.dtype,
                shape: t.shape().iter().map(|&d| d as usize).collect(),
                data: b.payload_of(&t).unwrap().to_vec(),
                quant: match t.quant {
                    Quant::None => Q::None,
                    Quant::PerTensor { scale, zero_point } => Q::PerTensor(scale, zero_point),
                    Quant::PerChannel {
                        axis,
                        scales,
                        multiplier,
                        shift,
                    } => Q::PerChannel(axis, name(scales), multiplier.map(name), shift.map(name)),
                    Quant::PerChannelPacked { axis, record } => {
                        Q::PerChannelPacked(axis, name(record))
                    }
                },
            })
            .collect();
        let h = b.header();
        Self {
            architecture: h.architecture,
            preset: h.preset.as_str().to_owned(),
            fingerprint: h.fingerprint,
            tensors,
        }
    }

    pub fn get(&mut self, name: &str) -> &mut Tensor {
        self.tensors.iter_mut().find(|t| t.name == name).unwrap()
    }

    pub fn remove(&mut self, name: &str) {
        self.tensors.retain(|t| t.name != name);
    }

    /// The same network in format 1.0's layout: every packed per-channel record (1.1) split
    /// back into `W.scale`, `W.multiplier`, `W.shift` companions and the layer's `.bias`, so
    /// that a test can check the engine reads both versions to the same integers.
    pub fn unpacked(&self) -> Self {
        let mut out = self.clone();
        out.tensors.clear();
        for t in &self.tensors {
            let Q::PerChannelPacked(axis, record) = &t.quant else {
                if !self
                    .tensors
                    .iter()
                    .any(|w| matches!(&w.quant, Q::PerChannelPacked(_, r) if *r == t.name))
                {
                    out.tensors.push(t.clone());
                }
                continue;
            };
            let rec = self.tensors.iter().find(|r| r.name == *record).unwrap();
            let c = rec.shape[1];
            let row = |k: usize| rec.data[4 * c * k..4 * c * (k + 1)].to_vec();
            let layer = t.name.strip_suffix(".weight").unwrap();
            let plain = |name: String, dtype: Dtype, data: Vec<u8>| Tensor {
                name,
                dtype,
                shape: vec![c],
                data,
                quant: Q::None,
            };
            let [scale, mult, shift] =
                [".scale", ".multiplier", ".shift"].map(|s| format!("{}{s}", t.name));
            out.tensors.push(Tensor {
                quant: Q::PerChannel(
                    *axis,
                    scale.clone(),
                    Some(mult.clone()),
                    Some(shift.clone()),
                ),
                ..t.clone()
            });
            out.tensors.push(plain(scale, Dtype::F32, row(0)));
            out.tensors.push(plain(mult, Dtype::I32, row(1)));
            out.tensors.push(plain(shift, Dtype::I32, row(2)));
            out.tensors
                .push(plain(format!("{layer}.bias"), Dtype::I32, row(3)));
        }
        out
    }

    pub fn encode(&self) -> AlignedBytes {
        let descs: Vec<TensorDesc<'_>> = self
            .tensors
            .iter()
            .map(|t| TensorDesc {
                name: &t.name,
                dtype: t.dtype,
                shape: &t.shape,
                data: &t.data,
                quant: match &t.quant {
                    Q::None => QuantDesc::None,
                    Q::PerTensor(scale, zero_point) => QuantDesc::PerTensor {
                        scale: *scale,
                        zero_point: *zero_point,
                    },
                    Q::PerChannel(axis, s, m, sh) => QuantDesc::PerChannel {
                        axis: *axis,
                        scales: s,
                        multiplier: m.as_deref(),
                        shift: sh.as_deref(),
                    },
                    Q::PerChannelPacked(axis, record) => QuantDesc::PerChannelPacked {
                        axis: *axis,
                        record,
                    },
                },
            })
            .collect();
        let spec = BlobSpec {
            architecture: self.architecture,
            preset: &self.preset,
            fingerprint: self.fingerprint,
            scheme: hepaseg_core::blob::QuantScheme::Int8PerChannel,
            signed: false,
        };
        let mut out = AlignedBytes::zeroed(encoded_len(&spec, &descs).unwrap());
        encode(&spec, &descs, out.bytes_mut()).unwrap();
        out
    }
}

/// The golden fixtures core's own test (`tests/tests/int8_golden.rs`, run in debug and in
/// release by CI) reads: the blob a golden test quantized and its input. The exporter must
/// keep producing exactly the checked-in bytes; after a deliberate change, regenerate them
/// with `HEPASEG_WRITE_GOLDEN=1 cargo test -p hepaseg --test cli_quant_engine --test
/// cli_quant_cafct golden` and update the hashes (here and in int8_golden.rs).
pub fn check_golden_fixture(name: &str, blob: &[u8], input: &[f32]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/golden");
    let (blob_path, input_path) = (dir.join(format!("{name}.hseg")), dir.join("input.f32"));
    let input_bytes: Vec<u8> = input.iter().flat_map(|v| v.to_le_bytes()).collect();
    if std::env::var_os("HEPASEG_WRITE_GOLDEN").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&blob_path, blob).unwrap();
        std::fs::write(&input_path, &input_bytes).unwrap();
        return;
    }
    let regenerate = "regenerate with HEPASEG_WRITE_GOLDEN=1 (see cli_quant_support)";
    let stored = std::fs::read(&blob_path).unwrap_or_default();
    assert!(
        stored == blob,
        "{}: the exporter's bytes differ from the golden fixture; {regenerate}",
        blob_path.display()
    );
    assert_eq!(
        std::fs::read(&input_path).unwrap_or_default(),
        input_bytes,
        "{}: {regenerate}",
        input_path.display()
    );
}
