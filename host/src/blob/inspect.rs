//! `hepaseg inspect`: what a blob holds and whether it can be trusted, for people (a table) and
//! scripts (`--json`).
//!
//! The blob is validated in full by core's reader first: a blob `inspect` shows is one a
//! device would parse. A damaged or malformed blob is an error naming the file and the
//! problem; so is a signature that does not verify with the `--pubkey` given.

use super::keys::{load_public_key, to_hex};
use super::networks::{model_of, network};
use hepaseg_core::blob::{Blob, BlobError, Quant, SignaturePolicy, TensorInfo};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;

/// The file's bytes at an 8-byte aligned address, so typed views (per-channel scales) work.
fn read_aligned(path: &Path) -> Result<(Vec<u64>, usize), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let mut words = vec![0u64; bytes.len().div_ceil(8)];
    bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(&bytes);
    Ok((words, bytes.len()))
}

fn quant_json(blob: &Blob<'_>, t: &TensorInfo<'_>) -> Value {
    match t.quant {
        Quant::None => Value::Null,
        Quant::PerTensor { scale, zero_point } => {
            json!({ "kind": "per-tensor", "scale": scale, "zero_point": zero_point })
        }
        Quant::PerChannel {
            axis,
            scales,
            multiplier,
            shift,
        } => {
            let name = |i: Option<u32>| {
                i.and_then(|i| blob.tensor(i as usize).ok())
                    .map(|c| c.name.to_owned())
            };
            let (min, max) = blob
                .tensor_f32(scales as usize)
                .map(min_max)
                .unwrap_or((f32::NAN, f32::NAN));
            json!({
                "kind": "per-channel",
                "axis": axis,
                "scales": name(Some(scales)),
                "scale_min": min,
                "scale_max": max,
                "multiplier": name(multiplier),
                "shift": name(shift),
            })
        }
        Quant::PerChannelPacked { axis, record } => {
            let (min, max) = blob
                .packed_rows(record)
                .map(|r| min_max(r.scales))
                .unwrap_or((f32::NAN, f32::NAN));
            json!({
                "kind": "per-channel-packed",
                "axis": axis,
                "record": blob.tensor(record as usize).ok().map(|c| c.name.to_owned()),
                "scale_min": min,
                "scale_max": max,
            })
        }
    }
}

fn min_max(values: &[f32]) -> (f32, f32) {
    values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        })
}

fn quant_text(q: &Value) -> String {
    match q.get("kind").and_then(Value::as_str) {
        Some("per-tensor") => format!(
            "scale {} zp {}",
            q["scale"].as_f64().unwrap_or(f64::NAN) as f32,
            q["zero_point"]
        ),
        Some("per-channel") => format!(
            "per-channel axis {} scales {}..{}{}",
            q["axis"],
            q["scale_min"].as_f64().unwrap_or(f64::NAN) as f32,
            q["scale_max"].as_f64().unwrap_or(f64::NAN) as f32,
            if q["multiplier"].is_null() {
                ""
            } else {
                " +requant"
            }
        ),
        Some("per-channel-packed") => format!(
            "per-channel axis {} scales {}..{} +requant +bias (packed)",
            q["axis"],
            q["scale_min"].as_f64().unwrap_or(f64::NAN) as f32,
            q["scale_max"].as_f64().unwrap_or(f64::NAN) as f32,
        ),
        _ => "-".into(),
    }
}

/// Describes the blob at `path`; `pubkey` (a `KEY.pub` file) checks its signature.
pub fn inspect(path: &Path, pubkey: Option<&Path>, as_json: bool) -> Result<String, String> {
    let file = path.display().to_string();
    let (words, len) = read_aligned(path)?;
    let bytes = &bytemuck::cast_slice::<u64, u8>(&words)[..len];
    let blob = Blob::parse(bytes, SignaturePolicy::Optional).map_err(|e| match e {
        BlobError::BadMagic { .. } => format!("{file}: {e}"),
        _ => format!("{file}: invalid weight blob: {e}"),
    })?;
    let h = *blob.header();

    let signature = match (pubkey, blob.signature()) {
        (_, None) if pubkey.is_some() => {
            return Err(format!(
                "{file}: unsigned, but --pubkey asks for a signature check"
            ))
        }
        (_, None) => "absent".to_owned(),
        (None, Some(_)) => "present (not verified; pass --pubkey KEY.pub)".to_owned(),
        (Some(key_path), Some(_)) => {
            let key = load_public_key(key_path).map_err(|e| e.to_string())?;
            match blob.verify_signature(&key) {
                Ok(()) => format!("valid (Ed25519, key {})", to_hex(&key)),
                Err(e) => {
                    return Err(format!(
                        "{file}: signature INVALID for public key {}: {e}",
                        key_path.display()
                    ))
                }
            }
        }
    };

    let model = model_of(h.architecture);
    let known = network(model, h.preset.as_str());
    let fingerprint_matches = known.map(|n| n.fingerprint == h.fingerprint);
    let fingerprint_note = match fingerprint_matches {
        Some(true) => format!("matches core's {} {}", model.name(), h.preset.as_str()),
        Some(false) => format!(
            "DOES NOT MATCH core's {} {} ({:016x}): written for another wiring",
            model.name(),
            h.preset.as_str(),
            known.map_or(0, |n| n.fingerprint)
        ),
        None => "preset unknown to this build".to_owned(),
    };

    let mut tensors: Vec<TensorInfo<'_>> = blob.tensors().collect();
    tensors.sort_by(|a, b| a.name.cmp(b.name));
    let tensor_json: Vec<Value> = tensors
        .iter()
        .map(|t| {
            json!({
                "index": t.index,
                "name": t.name,
                "name_hash": format!("{:016x}", t.name_hash),
                "dtype": t.dtype.name(),
                "shape": t.shape(),
                "offset": t.offset,
                "bytes": t.len,
                "quant": quant_json(&blob, t),
            })
        })
        .collect();
    let report = json!({
        "file": file,
        "size": len,
        "format_version": format!("{}.{}", h.major, h.minor),
        "compact": h.is_compact(),
        "model": model.name(),
        "preset": h.preset.as_str(),
        "fingerprint": format!("{:016x}", h.fingerprint),
        "fingerprint_matches": fingerprint_matches,
        "quant_scheme": h.scheme.name(),
        "tensor_count": blob.tensor_count(),
        "checksum": {
            "algorithm": "crc32c",
            "value": format!("{:08x}", blob.stored_checksum()),
            "status": "ok",
        },
        "signature": signature,
        "tensors": tensor_json,
    });
    if as_json {
        return serde_json::to_string_pretty(&report).map_err(|e| e.to_string());
    }

    let mut out = String::new();
    let _ = writeln!(out, "file          {file} ({len} bytes)");
    let _ = writeln!(
        out,
        "format        HSEG {}.{}{}",
        h.major,
        h.minor,
        if h.is_compact() { " (compact)" } else { "" }
    );
    let _ = writeln!(
        out,
        "network       {} · preset {}",
        model.name(),
        h.preset.as_str()
    );
    let _ = writeln!(
        out,
        "fingerprint   {:016x} ({fingerprint_note})",
        h.fingerprint
    );
    let _ = writeln!(out, "quantization  {}", h.scheme.name());
    let _ = writeln!(
        out,
        "checksum      crc32c {:08x} ok",
        blob.stored_checksum()
    );
    let _ = writeln!(out, "signature     {signature}");
    let _ = writeln!(out, "tensors       {}", blob.tensor_count());
    let _ = writeln!(out, "{:-<110}", "");
    let _ = writeln!(
        out,
        "{:<44} {:<5} {:<18} {:>10} {:>10}  quantization",
        "name", "dtype", "shape", "offset", "bytes"
    );
    let _ = writeln!(out, "{:-<110}", "");
    for (t, j) in tensors.iter().zip(&tensor_json) {
        let shape = t
            .shape()
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join("×");
        let _ = writeln!(
            out,
            "{:<44} {:<5} {:<18} {:>10} {:>10}  {}",
            t.name,
            t.dtype.name(),
            if shape.is_empty() { "scalar" } else { &shape },
            t.offset,
            t.len,
            quant_text(&j["quant"])
        );
    }
    Ok(out)
}
