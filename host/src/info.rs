//! `hepaseg info`: a network's figures and a per-block table, like torchinfo.

use crate::registry::{summary, Model, Summary};
use std::fmt::Write as _;

/// Renders a summary as a human-readable table.
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    let shape = |d: [usize; 3]| format!("{}×{}×{}", d[0], d[1], d[2]);
    let _ = writeln!(out, "{} · preset {}", s.model, s.preset);
    let _ = writeln!(out, "{:-<72}", "");
    let _ = writeln!(
        out,
        "{:<24}{:>16}{:>16}{:>16}",
        "block", "output", "params", "MACs"
    );
    let _ = writeln!(out, "{:-<72}", "");
    for b in &s.blocks {
        let _ = writeln!(
            out,
            "{:<24}{:>16}{:>16}{:>16}",
            b.name,
            shape(b.output),
            group(b.params as u64),
            group(b.macs)
        );
    }
    let _ = writeln!(out, "{:-<72}", "");
    let _ = writeln!(
        out,
        "parameters      {} ({} tensors)",
        group(s.params as u64),
        s.tensors
    );
    let _ = writeln!(
        out,
        "MACs per slice  {} ({:.2} G)",
        group(s.macs),
        s.macs as f64 / 1e9
    );
    let _ = writeln!(
        out,
        "arena (f32)     {} bytes ({:.2} MiB)",
        group(s.arena_bytes_f32 as u64),
        s.arena_bytes_f32 as f64 / (1024.0 * 1024.0)
    );
    let _ = writeln!(
        out,
        "arena (int8)    {} bytes ({:.2} MiB, {:.2} × f32)",
        group(s.arena_bytes_int8 as u64),
        s.arena_bytes_int8 as f64 / (1024.0 * 1024.0),
        s.arena_bytes_int8 as f64 / s.arena_bytes_f32 as f64
    );
    let _ = writeln!(out, "input           {}", shape(s.input));
    let _ = writeln!(out, "output          {}", shape(s.output));
    let _ = writeln!(out, "fingerprint     {}", s.fingerprint);
    out
}

/// Thousands separators: 12354189 → "12,354,189".
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Runs the command: prints the table or JSON, or explains which presets exist.
pub fn run(model: Model, preset: &str, json: bool) -> Result<String, String> {
    let s = summary(model, preset).ok_or_else(|| {
        if model.is_baseline() {
            crate::registry::unknown_preset(model, preset)
        } else {
            format!(
                "unknown preset '{preset}' for {}; known presets: {}",
                model.name(),
                crate::registry::presets(model).join(", ")
            )
        }
    })?;
    if json {
        serde_json::to_string_pretty(&s).map_err(|e| format!("cannot encode summary: {e}"))
    } else {
        Ok(render(&s))
    }
}
