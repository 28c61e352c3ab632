#!/usr/bin/env python3
"""Training-step comparison: the host's CPU training step against PyTorch's on the same network.

1. Exports the network with `hepaseg export --format onnx --random-init` (with its test cases)
   and converts the graph to a `torch.nn.Module` with onnx2torch. Every operator of both
   networks converts (opset 17 LayerNormalization, Erf, Resize included). The converted module
   is checked against core f32's logits on the export's test cases (eval mode; max relative
   error printed), so it is the same architecture and the same parameter table.
2. Counts the forward multiply-accumulates per image of the ONNX graph (Conv, MatMul, Gemm, from
   ONNX shape inference) and prints them beside `hepaseg info`'s figure for the preset.
3. Times, alternating in `--rounds` rounds within one run, for each T in `--threads`:
   * the host: `train_step MODEL PRESET B S STEPS` (benches/examples/train_step.rs: the training
     loop's own step, `hepaseg::train::StepBench`, the preset's recipe, a fixed batch of B
     phantom slices) with RAYON_NUM_THREADS=T (dfdx's CPU matmul splits over rayon's pool);
   * PyTorch: forward in train mode, the preset's loss (Dice pooled over the batch for the tiny
     presets; Dice per slice for AGCAF-Net edge/paper; BCE + Dice per slice for CAFCT-Net
     edge/paper), backward, the preset's optimizer update (Adam lr 2e-3 for tiny; SGD
     momentum 0.9 otherwise; weight decay 1e-4 for AGCAF-Net), torch.set_num_threads(T).
   Median seconds per step over STEPS steps (after a warm-up step), then the median over rounds;
   images/s = B / that, and the ratio host/PyTorch in images/s.

What PyTorch runs differs from the host in two places, both stated in the output:
* the exported graph has batch 1 folded into its reshapes (tokens as [N, C]), so a batch of B
  is B forward passes through the module, one loss over the B outputs (the pooled Dice sees
  all of them, as the host's does), one backward, one update — the same MACs per image;
* the host trains batch norms on the batch's statistics (B images); PyTorch's module trains
  its BatchNorm2d layers (onnx2torch converts the graph's inference-form BatchNormalization
  back into BatchNorm2d) on each pass's statistics (one image), except the batch norms that
  would see a single value per channel (1x1 gate maps), which stay in eval mode — what the
  host does at batch 1 (`hepaseg train --batch 1`). At `--batch 1` both sides compute the
  same thing.
The weights are seed-initialised on both sides, not the same values (the host's training
initialisation vs `export --random-init`); no operator's cost depends on the values.

Standard library + numpy + onnx + torch + onnx2torch (requirements-train.txt).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

warnings.filterwarnings("ignore")
import torch  # noqa: E402
import onnx2torch  # noqa: E402


def run(cmd, env=None):
    """Runs a command, failing loudly with its output."""
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}{p.stderr}")
    return p.stdout


def load_cases(d):
    """The (input, core f32 logits) arrays of every test_data_set_K in d."""
    cases, k = [], 0
    while os.path.isdir(os.path.join(d, f"test_data_set_{k}")):
        pair = []
        for f in ("input_0.pb", "output_0.pb"):
            t = onnx.TensorProto()
            with open(os.path.join(d, f"test_data_set_{k}", f), "rb") as fh:
                t.ParseFromString(fh.read())
            pair.append(numpy_helper.to_array(t))
        cases.append(tuple(pair))
        k += 1
    if not cases:
        sys.exit(f"{d}: no test cases from `hepaseg export --test-data`")
    return cases


def graph_macs(path):
    """Forward multiply-accumulates of one image: Conv, MatMul and Gemm nodes."""
    m = shape_inference.infer_shapes(onnx.load(path))
    g = m.graph
    shapes = {}
    for v in list(g.input) + list(g.output) + list(g.value_info):
        shapes[v.name] = [d.dim_value for d in v.type.tensor_type.shape.dim]
    for t in g.initializer:
        shapes[t.name] = list(t.dims)
    macs = 0
    for n in g.node:
        out = shapes.get(n.output[0])
        if out is None:
            continue
        if n.op_type == "Conv":
            w = shapes[n.input[1]]
            macs += int(np.prod(out)) * int(np.prod(w[1:]))
        elif n.op_type == "MatMul":
            macs += int(np.prod(out)) * shapes[n.input[0]][-1]
        elif n.op_type == "Gemm":
            a = shapes[n.input[0]]
            trans_a = any(x.name == "transA" and x.i for x in n.attribute)
            macs += int(np.prod(out)) * (a[0] if trans_a else a[-1])
    return macs


def info_macs(hepaseg, model, preset):
    text = run([hepaseg, "info", "--model", model, "--preset", preset, "--json"])
    return json.loads(text).get("macs")


def recipe(model, preset):
    """The host's default recipe (host/src/train/run.rs `recipe`)."""
    tiny = preset.startswith("tiny")
    agcaf = model == "agcaf-net"
    wd = 1e-4 if agcaf else 0.0
    if tiny:
        return dict(opt="adam", lr=2e-3, wd=wd, loss="dice", pooled=True)
    return dict(
        opt="sgd",
        lr=0.05 if agcaf else 1e-3,
        wd=wd,
        loss="dice" if agcaf else "bce-dice",
        pooled=False,
    )


def dice_loss(logits, masks, pooled):
    """Soft Dice on σ(logits) (host/src/train/loss.rs: smooth 1), pooled or per slice."""
    p = torch.sigmoid(logits)
    dims = None if pooled else (1, 2, 3)
    inter = (p * masks).sum(dim=dims) if dims else (p * masks).sum()
    total = (p.sum(dim=dims) + masks.sum(dim=dims)) if dims else p.sum() + masks.sum()
    return (1.0 - (2.0 * inter + 1.0) / (total + 1.0)).mean()


class TorchStep:
    def __init__(self, onnx_path, model, preset, images, masks):
        self.net = onnx2torch.convert(onnx_path)
        self.r = recipe(model, preset)
        self.images = [torch.from_numpy(x) for x in images]
        self.masks = torch.from_numpy(masks)
        self.frozen = self._freeze_single_value_batch_norms()
        params = [p for p in self.net.parameters() if p.requires_grad]
        if self.r["opt"] == "adam":
            self.opt = torch.optim.Adam(params, lr=self.r["lr"], weight_decay=self.r["wd"])
        else:
            self.opt = torch.optim.SGD(
                params, lr=self.r["lr"], momentum=0.9, weight_decay=self.r["wd"]
            )

    def _freeze_single_value_batch_norms(self):
        """Train mode, except batch norms that see one value per channel (eval mode)."""
        single = []
        hooks = []
        for m in self.net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                def hook(mod, inp, single=single):
                    x = inp[0]
                    if x.numel() // x.shape[1] == 1:
                        single.append(mod)
                hooks.append(m.register_forward_pre_hook(hook))
        self.net.eval()
        with torch.no_grad():
            self.net(self.images[0])
        for h in hooks:
            h.remove()
        self.net.train()
        for m in single:
            m.eval()
        return len(single)

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        logits = torch.cat([self.net(x) for x in self.images])
        loss = dice_loss(logits, self.masks, self.r["pooled"])
        if self.r["loss"] == "bce-dice":
            loss = loss + torch.nn.functional.binary_cross_entropy_with_logits(
                logits, self.masks
            )
        loss.backward()
        self.opt.step()
        return float(loss)


def time_torch(step, threads, steps):
    torch.set_num_threads(threads)
    step.step()
    t = []
    for _ in range(steps):
        t0 = time.perf_counter()
        loss = step.step()
        t.append(time.perf_counter() - t0)
        if not np.isfinite(loss):
            sys.exit(f"PyTorch loss is not finite ({loss})")
    return statistics.median(t)


def time_host(example, args, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    line = run(
        [example, args.model, args.preset, str(args.batch), str(args.side), str(args.steps)],
        env=env,
    )
    r = json.loads(line.strip().splitlines()[-1])
    if r["threads"] != threads:
        sys.exit(f"train_step ran on {r['threads']} rayon threads, not {threads}")
    return r["median_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, choices=["agcaf-net", "cafct-net"])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=3, help="timed steps per measurement")
    ap.add_argument("--hepaseg", default="target/release/hepaseg")
    ap.add_argument("--train-step", default="target/release/examples/train_step")
    args = ap.parse_args()
    for exe in (args.hepaseg, args.train_step):
        if not os.access(exe, os.X_OK):
            sys.exit(
                f"{exe}: not found; build with `cargo build --release -p hepaseg "
                "-p hepaseg-benches --bin hepaseg --example train_step`"
            )
    torch.set_num_interop_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = os.path.join(tmp, "model.onnx")
        cases_dir = os.path.join(tmp, "cases")
        run([args.hepaseg, "export", "--format", "onnx", "--random-init", "--model", args.model,
             "--preset", args.preset, "--seed", str(args.seed), "--out", onnx_path,
             "--test-data", cases_dir])
        cases = load_cases(cases_dir)
        side = cases[0][0].shape[-1]
        args.side = side
        macs_graph = graph_macs(onnx_path)
        macs_core = info_macs(args.hepaseg, args.model, args.preset)
        images = [cases[i % len(cases)][0] for i in range(args.batch)]
        # a fixed disc as the target (the cost of a step does not depend on the mask)
        yy, xx = np.mgrid[0:side, 0:side]
        disc = ((yy - side / 2) ** 2 + (xx - side / 2) ** 2 < (side / 8) ** 2).astype(np.float32)
        masks = np.broadcast_to(disc, (args.batch, 1, side, side)).copy()
        ts = TorchStep(onnx_path, args.model, args.preset, images, masks)
        ts.net.eval()
        with torch.no_grad():
            err = max(
                float(np.abs(ts.net(torch.from_numpy(x)).numpy() - y).max() / np.abs(y).max())
                for x, y in cases
            )
        ts._freeze_single_value_batch_norms()
        print(f"{args.model} {args.preset}: {side}x{side}, batch {args.batch}, torch "
              f"{torch.__version__}, onnx2torch module vs core f32 (eval): max rel error "
              f"{err:.2e} over {len(cases)} cases")
        print(f"forward MACs per image: ONNX graph {macs_graph:,}; hepaseg info {macs_core:,}")
        print(f"PyTorch: {args.batch} batch-1 passes per step, {ts.frozen} single-value batch "
              f"norms in eval mode, recipe {ts.r}")
        threads = [int(t) for t in args.threads.split(",")]
        host = {t: [] for t in threads}
        tor = {t: [] for t in threads}
        for r in range(args.rounds):
            for t in threads:
                host[t].append(time_host(args.train_step, args, t))
                tor[t].append(time_torch(ts, t, args.steps))
                print(f"  round {r + 1} T={t}: host {host[t][-1]:.3f} s/step, "
                      f"PyTorch {tor[t][-1]:.3f} s/step", flush=True)
        print(f"{'T':>2} {'host img/s':>11} {'PyTorch img/s':>14} {'host/PyTorch':>13}")
        for t in threads:
            h = args.batch / statistics.median(host[t])
            p = args.batch / statistics.median(tor[t])
            print(f"{t:>2} {h:>11.2f} {p:>14.2f} {h / p:>13.3f}")
        print(f"load average: {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
