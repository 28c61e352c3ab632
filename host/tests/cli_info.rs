//! `hepaseg info` and `hepaseg bench` through the real binary: every network × preset prints
//! real figures, the JSON has the documented keys, and a bad preset is a clear error with exit
//! status 2; `bench` times both engines with MACs equal to `info`'s and outputs equal across
//! thread counts.

use std::process::Command;

fn hepaseg(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hepaseg"))
        .args(args)
        .output()
        .expect("run hepaseg")
}

fn info_json(model: &str, preset: &str) -> serde_json::Value {
    json_of(&["info", "--model", model, "--preset", preset, "--json"])
}

/// Runs hepaseg, which must succeed, and parses its standard output as JSON.
fn json_of(args: &[&str]) -> serde_json::Value {
    let out = hepaseg(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

#[test]
fn json_reports_the_spec_figures_for_all_six_pairs() {
    // (model, preset, parameters, MACs within 1 % of SPEC §5 where it gives one)
    let cases: [(&str, &str, u64, Option<f64>); 6] = [
        ("agcaf-net", "paper", 12_354_189, Some(42.57e9)),
        ("agcaf-net", "edge", 849_453, Some(2.77e9)),
        ("agcaf-net", "tiny", 213_981, None),
        ("cafct-net", "paper", 4_043_402, Some(5.80e9)),
        ("cafct-net", "edge", 1_022_154, Some(1.61e9)),
        ("cafct-net", "tiny", 261_194, None),
    ];
    for (model, preset, params, macs) in cases {
        let v = info_json(model, preset);
        for key in [
            "params",
            "macs",
            "arena_bytes_f32",
            "arena_bytes_int8",
            "input",
            "output",
            "fingerprint",
            "blocks",
        ] {
            assert!(v.get(key).is_some(), "{model}/{preset}: missing key {key}");
        }
        assert_eq!(v["params"].as_u64(), Some(params), "{model}/{preset}");
        let m = v["macs"].as_u64().unwrap() as f64;
        if let Some(expected) = macs {
            assert!(
                (m - expected).abs() <= 0.01 * expected,
                "{model}/{preset}: {m}"
            );
        }
        let size = if preset == "tiny" { 64 } else { 256 };
        assert_eq!(v["input"], serde_json::json!([1, size, size]));
        assert_eq!(v["output"], serde_json::json!([1, size, size]));
        let (f32_arena, int8_arena) = (
            v["arena_bytes_f32"].as_u64().unwrap(),
            v["arena_bytes_int8"].as_u64().unwrap(),
        );
        assert!(f32_arena > 0 && int8_arena > 0);
        // The int8 plan holds the same buffers at a quarter of the width (measured 0.25–0.31).
        assert!(
            int8_arena * 10 <= f32_arena * 4,
            "{model}/{preset}: int8 arena {int8_arena} is not below 0.4 × f32 {f32_arena}"
        );
        assert_eq!(v["fingerprint"].as_str().unwrap().len(), 16);
        let blocks = v["blocks"].as_array().unwrap();
        let block_params: u64 = blocks.iter().map(|b| b["params"].as_u64().unwrap()).sum();
        let block_macs: u64 = blocks.iter().map(|b| b["macs"].as_u64().unwrap()).sum();
        assert_eq!(
            block_params, params,
            "{model}/{preset}: blocks do not add up"
        );
        assert_eq!(block_macs as f64, m);
    }
}

#[test]
fn table_is_human_readable() {
    let out = hepaseg(&["info", "--model", "agcaf-net", "--preset", "paper"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("12,354,189"), "{text}");
    assert!(text.contains("42.57 G"), "{text}");
    assert!(text.contains("cpm"), "{text}");
}

#[test]
fn unknown_preset_names_the_known_ones() {
    let out = hepaseg(&["info", "--model", "cafct-net", "--preset", "huge"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("unknown preset 'huge'") && err.contains("tiny-no-aspp"),
        "{err}"
    );
}

#[test]
fn help_and_version_work() {
    assert!(hepaseg(&["--help"]).status.success());
    let v = hepaseg(&["--version"]);
    assert!(String::from_utf8(v.stdout)
        .unwrap()
        .contains(env!("CARGO_PKG_VERSION")));
}

fn bench_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["bench", "--iters", "2", "--warmup", "0", "--json"];
    all.extend_from_slice(args);
    json_of(&all)
}

#[test]
fn bench_times_both_engines_with_the_networks_macs() {
    for model in ["agcaf-net", "cafct-net"] {
        let macs = info_json(model, "tiny")["macs"].as_u64().unwrap();
        let mut hashes = Vec::new();
        for (engine, threads) in [("f32", "1"), ("int8", "1"), ("int8", "2")] {
            let v = bench_json(&[
                "--model",
                model,
                "--preset",
                "tiny",
                "--engine",
                engine,
                "--threads",
                threads,
            ]);
            assert_eq!(v["macs"].as_u64(), Some(macs), "{model} {engine}");
            assert_eq!(v["engine"], engine);
            assert_eq!(v["iterations"], 2);
            let median = v["median_ms"].as_f64().unwrap();
            let min = v["min_ms"].as_f64().unwrap();
            assert!(min > 0.0 && min <= median, "{v}");
            // MAC/s is the MACs over the median latency.
            let rate = v["macs_per_s"].as_f64().unwrap();
            assert!(
                (rate * median / 1e3 / macs as f64 - 1.0).abs() < 1e-9,
                "{v}"
            );
            let peak = v["peak_macs_per_s"].as_f64().unwrap();
            let per_cycle = match (engine, v["simd"].as_str()) {
                ("f32", _) => 16.0,
                (_, Some("avx512-vnni")) => 64.0,
                _ => 32.0,
            };
            let clock = v["clock_ghz"].as_f64().unwrap();
            assert!((peak / (clock * 1e9 * per_cycle) - 1.0).abs() < 1e-9, "{v}");
            assert!((v["peak_fraction"].as_f64().unwrap() - rate / peak).abs() < 1e-12);
            hashes.push(v["output_fnv"].as_str().unwrap().to_owned());
        }
        // int8 on one and on two threads: the same logits; f32 differs from int8.
        assert_eq!(hashes[1], hashes[2], "{model}");
        assert_ne!(hashes[0], hashes[1], "{model}");
    }
}

#[test]
fn bench_rejects_bad_arguments_with_exit_2() {
    let out = hepaseg(&["bench", "--model", "agcaf-net", "--preset", "huge"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown preset `huge`") && err.contains("edge"),
        "{err}"
    );
    let out = hepaseg(&[
        "bench",
        "--model",
        "agcaf-net",
        "--preset",
        "tiny",
        "--threads",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--threads must be at least 1"));
    let out = hepaseg(&[
        "bench",
        "--model",
        "cafct-net",
        "--preset",
        "tiny",
        "--clock-ghz=0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--clock-ghz"));
}
