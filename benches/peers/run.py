#!/usr/bin/env python3
"""Peer comparison: hepaseg's core engines against ONNX Runtime on the same network and weights.

1. Exports the network with `hepaseg export --format onnx` (a checkpoint, or `--random-init`
   weights for a seed) together with its test cases: case 0 is the slice `hepaseg bench`
   times, cases 1-4 the slices `hepaseg bench --engine int8` calibrates on, each with core
   f32's logits.
2. (a) Agreement: ONNX Runtime f32 on every case against core f32's logits. The figure is
   the maximum relative error `max |ort - core| / max |core|` (target <= 1e-4); the maximum
   absolute error is printed too.
3. (b) Quantizes the ONNX model with ONNX Runtime's static QDQ quantization (per-channel
   weights, min/max calibration on cases 1-4: the slices hepaseg's int8 engine is
   calibrated on) and reports its error against core f32.
4. (c) Times, alternating in rounds within one run: `hepaseg bench --engine f32|int8
   --threads T --json` and ONNX Runtime f32/int8 sessions with T intra-op threads, for each T.
   Latency is the median over the iterations of a measurement, then the median over rounds.
   On-CPU time per slice is printed beside it where it means one slice on one core: core's
   from `hepaseg bench` (schedstat), ORT's at T = 1 from the process CPU time of each run
   (ORT runs a one-thread session in the calling thread). On a shared machine the on-CPU
   figures are the steadier comparison.
   hepaseg's `--threads T` runs T slices side by side (one core each); ONNX Runtime's T
   threads work on one slice: at T = 1 both are single-slice latency, at T > 1 the comparable
   figure is throughput (slices/s), so both are printed and the ratios use latency at T = 1
   and throughput otherwise.

Standard library + numpy + onnxruntime (+ onnx, which ORT's quantizer needs). See README.md.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)


def run(cmd):
    """Runs a command, failing loudly with its output."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}{p.stderr}")
    return p.stdout


def load_cases(d):
    """The (input, core f32 logits) arrays of every test_data_set_K in d, K ascending."""
    cases = []
    k = 0
    while os.path.isdir(os.path.join(d, f"test_data_set_{k}")):
        pair = []
        for f in ("input_0.pb", "output_0.pb"):
            t = onnx.TensorProto()
            with open(os.path.join(d, f"test_data_set_{k}", f), "rb") as fh:
                t.ParseFromString(fh.read())
            pair.append(numpy_helper.to_array(t))
        cases.append(tuple(pair))
        k += 1
    if len(cases) < 2:
        sys.exit(f"{d}: expected test cases from `hepaseg export --test-data`")
    return cases


def session(path, threads):
    o = ort.SessionOptions()
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])


def errors(sess, cases):
    """(max relative error, max absolute error) of sess against core f32 over the cases."""
    rel, ab = 0.0, 0.0
    for x, want in cases:
        (got,) = sess.run(["logits"], {"input": x})
        diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
        scale = float(np.max(np.abs(want)))
        rel = max(rel, diff / max(scale, 1e-30))
        ab = max(ab, diff)
    return rel, ab


class Cases(CalibrationDataReader):
    def __init__(self, inputs):
        self.it = iter([{"input": x} for x in inputs])

    def get_next(self):
        return next(self.it, None)


def quantize(f32_path, int8_path, calib_inputs, fmt):
    act, wt = {
        "s8s8": (QuantType.QInt8, QuantType.QInt8),
        "u8s8": (QuantType.QUInt8, QuantType.QInt8),
    }[fmt]
    src = f32_path
    try:
        # ONNX Runtime's recommended pre-processing (shape inference, graph optimisation).
        from onnxruntime.quantization.shape_inference import quant_pre_process

        pre = f32_path.replace(".onnx", "-pre.onnx")
        quant_pre_process(f32_path, pre)
        src = pre
    except Exception as e:  # pragma: no cover - older ORT or a graph it cannot pre-process
        print(f"(quant_pre_process skipped: {e})")
    quantize_static(
        src,
        int8_path,
        Cases(calib_inputs),
        quant_format=QuantFormat.QDQ,
        activation_type=act,
        weight_type=wt,
        per_channel=True,
        calibrate_method=CalibrationMethod.MinMax,
    )


def time_ort(sess, x, iters):
    """Median wall and process-CPU seconds per slice over iters runs (after a warm-up run)."""
    sess.run(["logits"], {"input": x})
    t, c = [], []
    for _ in range(iters):
        s, sc = time.perf_counter(), time.process_time()
        sess.run(["logits"], {"input": x})
        t.append(time.perf_counter() - s)
        c.append(time.process_time() - sc)
    return statistics.median(t), statistics.median(c)


def time_core(hepaseg, args, engine, threads):
    """hepaseg bench's median seconds per slice and slices/s."""
    out = run(
        [
            hepaseg,
            "bench",
            "--model",
            args.model,
            "--preset",
            args.preset,
            "--engine",
            engine,
            "--threads",
            str(threads),
            "--iters",
            str(args.iters),
            "--seed",
            str(args.seed),
            "--json",
        ]
    )
    r = json.loads(out)
    cpu = r.get("median_cpu_ms")
    return r["median_ms"] / 1e3, r["images_per_s"], r["simd"], None if cpu is None else cpu / 1e3


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hepaseg", default="target/release/hepaseg", help="the hepaseg binary")
    p.add_argument("--model", required=True, choices=["agcaf-net", "cafct-net"])
    p.add_argument("--preset", default="edge")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a training checkpoint (hepaseg train's *.safetensors)")
    src.add_argument("--random-init", action="store_true", help="seed-initialised weights")
    p.add_argument("--seed", type=int, default=0, help="weights (with --random-init) and slices")
    p.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    p.add_argument("--rounds", type=int, default=3, help="alternation rounds")
    p.add_argument("--iters", type=int, default=10, help="timed slices per measurement")
    p.add_argument("--int8-format", default="s8s8", choices=["s8s8", "u8s8"],
                   help="ORT QDQ activation/weight types (s8s8 is ORT's default)")
    p.add_argument("--no-timing", action="store_true", help="agreement only")
    p.add_argument("--work", help="working directory (default: a temporary one)")
    args = p.parse_args()
    if args.checkpoint is not None and args.preset != "edge":
        print("(a checkpoint brings its own preset; --preset is only used by hepaseg bench)")

    work = args.work or tempfile.mkdtemp(prefix="hepaseg-peers-")
    os.makedirs(work, exist_ok=True)
    f32_path = os.path.join(work, f"{args.model}-{args.preset}.onnx")
    int8_path = os.path.join(work, f"{args.model}-{args.preset}-int8.onnx")
    cases_dir = os.path.join(work, f"{args.model}-{args.preset}-cases")
    if os.path.exists(cases_dir):
        sys.exit(f"{cases_dir} exists; use a new --work directory")
    weights = ["--checkpoint", args.checkpoint] if args.checkpoint else ["--random-init"]
    print(run([args.hepaseg, "export", "--format", "onnx", *weights, "--model", args.model,
               "--preset", args.preset, "--seed", str(args.seed), "--out", f32_path,
               "--test-data", cases_dir]).strip())
    cases = load_cases(cases_dir)
    print(f"onnxruntime {ort.__version__}, numpy {np.__version__}, {len(cases)} test cases")

    # (a) f32 agreement.
    f32 = session(f32_path, 1)
    rel, ab = errors(f32, cases)
    verdict = "ok" if rel <= 1e-4 else "ABOVE the 1e-4 target"
    print(f"(a) ORT f32 vs core f32: max relative error {rel:.3e} ({verdict}), max abs {ab:.3e}")

    # (b) static QDQ int8, calibrated on the slices hepaseg's int8 engine calibrates on.
    quantize(f32_path, int8_path, [x for x, _ in cases[1:]], args.int8_format)
    rel8, ab8 = errors(session(int8_path, 1), cases)
    print(f"(b) ORT int8 ({args.int8_format} QDQ, per-channel, min/max on {len(cases) - 1} slices) "
          f"vs core f32: max relative error {rel8:.3e}, max abs {ab8:.3e}")
    if args.no_timing:
        return

    # (c) timing, alternating.
    threads = [int(t) for t in args.threads.split(",")]
    x = cases[0][0]
    sessions = {(k, t): session(path, t) for k, path in (("f32", f32_path), ("int8", int8_path))
                for t in threads}
    lat = {}
    ips = {}
    cpu = {}
    simd = "?"
    for r in range(args.rounds):
        for t in threads:
            for engine in ("f32", "int8"):
                s, i, simd, c = time_core(args.hepaseg, args, engine, t)
                lat.setdefault(("core", engine, t), []).append(s)
                ips.setdefault(("core", engine, t), []).append(i)
                if c is not None:
                    cpu.setdefault(("core", engine, t), []).append(c)
                s, c = time_ort(sessions[(engine, t)], x, args.iters)
                lat.setdefault(("ort", engine, t), []).append(s)
                ips.setdefault(("ort", engine, t), []).append(1.0 / s)
                cpu.setdefault(("ort", engine, t), []).append(c)
        print(f"round {r + 1}/{args.rounds} done", flush=True)
    med = {k: statistics.median(v) for k, v in lat.items()}
    thr = {k: statistics.median(v) for k, v in ips.items()}
    oncpu = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"\n{args.model} {args.preset}, {args.rounds} rounds x {args.iters} slices, "
          f"core SIMD path {simd}, ORT {ort.__version__} ({args.int8_format})")
    print(f"{'engine':6} {'T':>2} {'core ms':>9} {'ORT ms':>9} {'core sl/s':>10} {'ORT sl/s':>9} "
          f"{'core CPU ms':>12} {'ORT CPU ms':>11}  ratio")
    for t in threads:
        for engine in ("f32", "int8"):
            c, o = ("core", engine, t), ("ort", engine, t)
            if t == 1:
                ratio = f"core/ORT latency {med[c] / med[o]:.2f}x"
                if c in oncpu:
                    ratio += f", on-CPU {oncpu[c] / oncpu[o]:.2f}x"
                ccpu = f"{oncpu[c] * 1e3:12.1f}" if c in oncpu else f"{'-':>12}"
                ocpu = f"{oncpu[o] * 1e3:11.1f}"
            else:
                ratio = f"core/ORT throughput {thr[c] / thr[o]:.2f}x"
                ccpu = f"{oncpu[c] * 1e3:12.1f}" if c in oncpu else f"{'-':>12}"
                ocpu = f"{'-':>11}"
            print(f"{engine:6} {t:>2} {med[c] * 1e3:9.1f} {med[o] * 1e3:9.1f} "
                  f"{thr[c]:10.2f} {thr[o]:9.2f} {ccpu} {ocpu}  {ratio}")
    print("(latency ratio < 1: core faster; throughput ratio > 1: core faster)")


if __name__ == "__main__":
    main()
