//! Shared helpers of the `blob_*` tests: aligned buffers, `f32` blobs of real networks from
//! seeded parameters, a small int8 blob exercising every dtype and quantization kind, and the
//! documented field offsets (so the tests also pin `docs/blob-format.md`).
#![allow(dead_code)]

use hepaseg_core::blob::{
    encode, encoded_len, BlobSpec, Dtype, QuantDesc, QuantScheme, TensorDesc, HEADER_LEN,
};
use hepaseg_core::nets::{Architecture, Network};
use hepaseg_tests::seeded::seeded_params;

/// Header field offsets (docs/blob-format.md, "Header").
pub mod off {
    pub const MAJOR: usize = 4;
    pub const MINOR: usize = 6;
    pub const HEADER_LEN: usize = 8;
    pub const FLAGS: usize = 12;
    pub const BODY_LEN: usize = 16;
    pub const TENSOR_COUNT: usize = 20;
    pub const TABLE_OFFSET: usize = 24;
    pub const ENTRY_LEN: usize = 28;
    pub const NAMES_OFFSET: usize = 32;
    pub const NAMES_LEN: usize = 36;
    pub const FINGERPRINT: usize = 40;
    pub const ARCHITECTURE: usize = 48;
    pub const SCHEME: usize = 50;
    pub const PRESET_LEN: usize = 51;
    pub const PRESET: usize = 52;
    pub const RESERVED: usize = 84;
}

/// Entry field offsets (docs/blob-format.md, "Tensor table").
pub mod entry {
    pub const HASH: usize = 0;
    pub const NAME_OFF: usize = 8;
    pub const NAME_LEN: usize = 12;
    pub const DTYPE: usize = 14;
    pub const RANK: usize = 15;
    pub const DIMS: usize = 16;
    pub const DATA_OFF: usize = 32;
    pub const DATA_LEN: usize = 36;
    pub const QKIND: usize = 40;
    pub const QAXIS: usize = 41;
    pub const RESERVED: usize = 42;
    pub const SCALE: usize = 44;
    pub const ZERO_POINT: usize = 48;
    pub const Q_SCALES: usize = 52;
    pub const Q_MULTIPLIER: usize = 56;
    pub const Q_SHIFT: usize = 60;
}

/// Bytes at an 8-byte aligned address (a `Vec<u8>` promises only 1).
#[derive(Debug, Clone)]
pub struct Aligned {
    words: Vec<u64>,
    len: usize,
}

impl Aligned {
    pub fn zeroed(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(8)],
            len,
        }
    }
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut a = Self::zeroed(bytes.len());
        a.bytes_mut().copy_from_slice(bytes);
        a
    }
    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u64, u8>(&self.words)[..self.len]
    }
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut::<u64, u8>(&mut self.words)[..self.len]
    }
    /// Drops the last `n` bytes.
    pub fn truncate(&mut self, len: usize) {
        self.len = len.min(self.len);
    }
}

pub fn spec<N: Network>(scheme: QuantScheme, signed: bool) -> BlobSpec<'static> {
    BlobSpec {
        architecture: N::ARCHITECTURE,
        preset: N::PRESET,
        fingerprint: N::FINGERPRINT,
        scheme,
        signed,
    }
}

/// Encodes `descs` into a fresh aligned buffer.
pub fn encode_aligned(spec: &BlobSpec<'_>, descs: &[TensorDesc<'_>]) -> Aligned {
    let n = encoded_len(spec, descs).expect("encoded_len");
    let mut a = Aligned::zeroed(n);
    let written = encode(spec, descs, a.bytes_mut()).expect("encode");
    assert_eq!(written, n);
    a
}

/// `f32` descriptors of every row of `N::PARAMS`, in table order.
pub fn f32_descs<'a, N: Network>(params: &'a [Vec<f32>]) -> Vec<TensorDesc<'a>> {
    N::PARAMS
        .iter()
        .zip(params)
        .map(|(p, v)| TensorDesc {
            name: p.name.as_str(),
            dtype: Dtype::F32,
            shape: p.shape(),
            data: bytemuck::cast_slice(v),
            quant: QuantDesc::None,
        })
        .collect()
}

/// The seeded parameters of `N` (the same as the network tests use).
pub fn params<N: Network>(seed: u64) -> Vec<Vec<f32>> {
    seeded_params(N::PARAMS, seed, 0.5)
}

/// An `f32` blob of `N` with seeded parameters.
pub fn f32_blob<N: Network>(seed: u64) -> Aligned {
    let p = params::<N>(seed);
    encode_aligned(&spec::<N>(QuantScheme::F32, false), &f32_descs::<N>(&p))
}

/// Owned payloads of the small int8 blob.
pub struct Int8Parts {
    pub weight: Vec<i8>,
    pub scales: Vec<f32>,
    pub multiplier: Vec<i32>,
    pub shift: Vec<i32>,
    pub bias: Vec<i32>,
    pub act: Vec<i8>,
    pub lut: Vec<i8>,
    pub exp: Vec<i32>,
    pub bytes: Vec<u8>,
}

impl Int8Parts {
    pub fn new() -> Self {
        Self {
            weight: (0..72).map(|i| (i * 7 % 255 - 127) as i8).collect(),
            scales: vec![0.01, 0.02, 0.03, 0.04],
            multiplier: vec![1 << 30, 1_500_000_000, 2_000_000_000, 0],
            shift: vec![-5, -7, 0, 0],
            bias: vec![10, -20, 30, -40],
            act: vec![-3],
            lut: (0..256).map(|i| (i as u8) as i8).collect(),
            exp: (0..256).collect(),
            bytes: (0..16).collect(),
        }
    }

    /// A convolution's per-channel weight with all companions, a bias, an activation point
    /// (rank 0), a LUT, an exp table and a `u8` tensor: every dtype and quantization kind.
    pub fn descs(&self) -> Vec<TensorDesc<'_>> {
        vec![
            TensorDesc {
                name: "conv.weight",
                dtype: Dtype::I8,
                shape: &[4, 2, 3, 3],
                data: bytemuck::cast_slice(&self.weight),
                quant: QuantDesc::PerChannel {
                    axis: 0,
                    scales: "conv.weight.scale",
                    multiplier: Some("conv.weight.multiplier"),
                    shift: Some("conv.weight.shift"),
                },
            },
            TensorDesc {
                name: "conv.weight.scale",
                dtype: Dtype::F32,
                shape: &[4],
                data: bytemuck::cast_slice(&self.scales),
                quant: QuantDesc::None,
            },
            TensorDesc {
                name: "conv.weight.multiplier",
                dtype: Dtype::I32,
                shape: &[4],
                data: bytemuck::cast_slice(&self.multiplier),
                quant: QuantDesc::None,
            },
            TensorDesc {
                name: "conv.weight.shift",
                dtype: Dtype::I32,
                shape: &[4],
                data: bytemuck::cast_slice(&self.shift),
                quant: QuantDesc::None,
            },
            TensorDesc {
                name: "conv.bias",
                dtype: Dtype::I32,
                shape: &[4],
                data: bytemuck::cast_slice(&self.bias),
                quant: QuantDesc::PerTensor {
                    scale: 0.0002,
                    zero_point: 0,
                },
            },
            TensorDesc {
                name: "act.stem",
                dtype: Dtype::I8,
                shape: &[],
                data: bytemuck::cast_slice(&self.act),
                quant: QuantDesc::PerTensor {
                    scale: 0.02,
                    zero_point: -3,
                },
            },
            TensorDesc {
                name: "lut.sigmoid",
                dtype: Dtype::I8,
                shape: &[256],
                data: bytemuck::cast_slice(&self.lut),
                quant: QuantDesc::None,
            },
            TensorDesc {
                name: "softmax.exp",
                dtype: Dtype::I32,
                shape: &[256],
                data: bytemuck::cast_slice(&self.exp),
                quant: QuantDesc::None,
            },
            TensorDesc {
                name: "input.u8",
                dtype: Dtype::U8,
                shape: &[2, 8],
                data: &self.bytes,
                quant: QuantDesc::PerTensor {
                    scale: 0.5,
                    zero_point: 128,
                },
            },
        ]
    }
}

impl Int8Parts {
    /// The packed per-channel record of `conv.weight` (format 1.1): rows scales' bit
    /// patterns, multipliers, shifts, biases.
    pub fn record(&self) -> Vec<i32> {
        self.scales
            .iter()
            .map(|s| s.to_bits() as i32)
            .chain(self.multiplier.iter().copied())
            .chain(self.shift.iter().copied())
            .chain(self.bias.iter().copied())
            .collect()
    }

    /// Format 1.1's compact form of [`Int8Parts::descs`]: the convolution's companions and
    /// bias as one packed record (`record`, from [`Int8Parts::record`]), a small `i32` op
    /// tensor, and the other tensors as before (the exp table is 1 KiB: still 64-aligned).
    pub fn compact_descs<'a>(&'a self, record: &'a [i32]) -> Vec<TensorDesc<'a>> {
        let mut d: Vec<TensorDesc<'a>> = self
            .descs()
            .into_iter()
            .filter(|t| !t.name.starts_with("conv."))
            .collect();
        d.push(TensorDesc {
            name: "conv.weight",
            dtype: Dtype::I8,
            shape: &[4, 2, 3, 3],
            data: bytemuck::cast_slice(&self.weight),
            quant: QuantDesc::PerChannelPacked {
                axis: 0,
                record: "conv.weight.quant",
            },
        });
        d.push(TensorDesc {
            name: "conv.weight.quant",
            dtype: Dtype::I32,
            shape: &[4, 4],
            data: bytemuck::cast_slice(record),
            quant: QuantDesc::None,
        });
        d.push(TensorDesc {
            name: "stem.add",
            dtype: Dtype::I32,
            shape: &[6],
            data: bytemuck::cast_slice(&self.exp[..6]),
            quant: QuantDesc::None,
        });
        d
    }
}

/// A format 1.1 (compact) int8 blob labelled as AGCAF-Net `tiny`: [`Int8Parts::compact_descs`].
pub fn compact_blob(signed: bool) -> Aligned {
    let parts = Int8Parts::new();
    let record = parts.record();
    encode_aligned(
        &spec::<hepaseg_core::nets::agcaf::AgcafTiny>(QuantScheme::Int8PerChannel, signed),
        &parts.compact_descs(&record),
    )
}

/// An int8-scheme blob labelled as AGCAF-Net `tiny`.
pub fn int8_blob(signed: bool) -> Aligned {
    let parts = Int8Parts::new();
    encode_aligned(
        &spec::<hepaseg_core::nets::agcaf::AgcafTiny>(QuantScheme::Int8PerChannel, signed),
        &parts.descs(),
    )
}

/// Start of table entry `i`.
pub fn entry_at(i: usize) -> usize {
    HEADER_LEN + 64 * i
}

pub fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

pub fn write_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

pub fn arch_name(a: Architecture) -> &'static str {
    a.name()
}
