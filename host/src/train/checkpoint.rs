//! Training checkpoints in safetensors: every store tensor by core name (`param/<name>`, BN
//! running statistics included), the optimizer state (`optim/<key>`), and string metadata
//! (network, preset, fingerprint, epoch/step, RNG position, best score). Written atomically
//! (temporary file + rename) so a crash never leaves a torn `last.safetensors`.

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Prefix of parameter tensors.
pub const PARAM: &str = "param/";
/// Prefix of optimizer-state tensors.
pub const OPTIM: &str = "optim/";

/// A checkpoint in memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpoint {
    /// String metadata (see `run.rs` for the keys).
    pub meta: BTreeMap<String, String>,
    /// `(name, shape, values)` of every store tensor, in store order.
    pub params: Vec<(String, Vec<usize>, Vec<f32>)>,
    /// Optimizer state entries `(key, values)`.
    pub optim: Vec<(String, Vec<f32>)>,
}

fn le_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl Checkpoint {
    /// The safetensors encoding.
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let mut bufs: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (name, shape, v) in &self.params {
            bufs.push((format!("{PARAM}{name}"), shape.clone(), le_bytes(v)));
        }
        for (key, v) in &self.optim {
            bufs.push((format!("{OPTIM}{key}"), vec![v.len()], le_bytes(v)));
        }
        let views = bufs
            .iter()
            .map(|(k, shape, b)| {
                TensorView::new(Dtype::F32, shape.clone(), b)
                    .map(|t| (k.clone(), t))
                    .map_err(|e| format!("tensor `{k}`: {e:?}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let meta: HashMap<String, String> = self.meta.clone().into_iter().collect();
        safetensors::tensor::serialize(views, &Some(meta)).map_err(|e| format!("{e:?}"))
    }

    /// Decodes a checkpoint (tensor order is not kept: readers look tensors up by name).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| format!("not a safetensors file: {e:?}"))?;
        let meta: BTreeMap<String, String> = header
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let st =
            SafeTensors::deserialize(bytes).map_err(|e| format!("damaged checkpoint: {e:?}"))?;
        let mut out = Checkpoint {
            meta,
            ..Default::default()
        };
        for (key, t) in st.tensors() {
            if t.dtype() != Dtype::F32 {
                return Err(format!("tensor `{key}` is {:?}, expected F32", t.dtype()));
            }
            let v: Vec<f32> = t
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            if let Some(name) = key.strip_prefix(PARAM) {
                out.params.push((name.to_string(), t.shape().to_vec(), v));
            } else if let Some(k) = key.strip_prefix(OPTIM) {
                out.optim.push((k.to_string(), v));
            } else {
                return Err(format!("unexpected tensor `{key}`"));
            }
        }
        Ok(out)
    }

    /// Writes `path` atomically.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let bytes = self.to_bytes()?;
        crate::data::atomic::write_bytes_atomic(path, &bytes).map_err(|e| e.to_string())
    }

    /// Reads `path`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Metadata `key`.
    pub fn get(&self, key: &str) -> Result<&str, String> {
        self.meta
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("checkpoint has no `{key}`"))
    }

    /// Metadata `key` as a number.
    pub fn get_num<T: std::str::FromStr>(&self, key: &str) -> Result<T, String> {
        self.get(key)?
            .parse()
            .map_err(|_| format!("checkpoint `{key}` is not a number"))
    }
}
