#!/usr/bin/env bash
# Builds target/release/hepaseg with `--features cuda` on a machine WITHOUT a GPU, using the
# CUDA 13.0 toolkit from PyPI wheels installed into a virtual environment outside the repository.
#
#   bash scripts/build-cuda.sh
#
# Environment (all optional):
#   HEPASEG_CUDA_VENV   where the toolkit venv goes   [~/.cache/hepaseg/cuda-13.0]
#   CUDA_COMPUTE_CAP    GPU architecture of the PTX, e.g. 90 (H100/H200), 80 (A100), 89 (L4)
#                       [90; on a machine with a GPU and nvidia-smi: that GPU's]
#   PYTHON              the Python 3 that creates the venv [python3]
#
# What the build needs and how this script provides it (see docs/cuda.md):
#   * dfdx's build script runs `nvcc --ptx` on its kernels and asks `nvidia-smi` for the GPU's
#     compute capability: nvcc comes from the wheels; without a GPU a small `nvidia-smi`
#     stand-in answers CUDA_COMPUTE_CAP (dfdx would then override it with that variable anyway).
#   * cudarc links libcuda, libnvrtc, libcublas and libcublasLt by their unversioned names:
#     the wheels ship only `.so.13` files, so a toolkit folder with unversioned links is laid
#     out; libcuda belongs to the GPU driver, so a link-time stub (soname libcuda.so.1, the
#     driver's) is compiled from the symbol list of cudarc's own bindings.
#   * both build scripts find the toolkit through CUDA_ROOT (include/cuda.h, lib64/...).
#
# The result links against the real libcublas/libnvrtc and the driver's libcuda.so.1 at run
# time; it has never been run on a GPU by this project's CI. docs/cuda.md says how to run it.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"

VENV="${HEPASEG_CUDA_VENV:-$HOME/.cache/hepaseg/cuda-13.0}"
PYTHON="${PYTHON:-python3}"
# The wheels of CUDA 13.0 (the toolkit of the 580 driver): compiler (nvcc, ptxas, cicc/NVVM,
# the crt and cccl headers it includes), runtime headers, NVRTC and cuBLAS.
WHEELS=(
    "nvidia-cuda-nvcc==13.0.*"
    "nvidia-nvvm==13.0.*"
    "nvidia-cuda-crt==13.0.*"
    "nvidia-cuda-cccl==13.0.*"
    "nvidia-cuda-runtime==13.0.*"
    "nvidia-cuda-nvrtc==13.0.*"
    "nvidia-cublas==13.0.*"
)

say() { echo "build-cuda: $*" >&2; }
die() {
    echo "build-cuda: error: $*" >&2
    exit 1
}

case "$(realpath -m "$VENV")/" in
"$ROOT"/*) die "HEPASEG_CUDA_VENV ($VENV) must lie outside the repository" ;;
esac

# ---------------------------------------------------------------------------------------------
# 1. The toolkit: a venv with the wheels (pip skips what is already installed).
if [ ! -x "$VENV/bin/python" ]; then
    say "creating the venv $VENV"
    "$PYTHON" -m venv "$VENV"
fi
say "installing the CUDA 13.0 wheels into $VENV (about 1.1 GB installed)"
"$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off -q "${WHEELS[@]}"
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
WHEEL_ROOT="$SITE/nvidia/cu13"
for f in bin/nvcc include/cuda.h include/cuda_fp16.h lib/libnvrtc.so.13 lib/libcublas.so.13 \
    lib/libcublasLt.so.13 nvvm/bin/cicc; do
    [ -e "$WHEEL_ROOT/$f" ] || die "the wheels did not install $WHEEL_ROOT/$f"
done

# ---------------------------------------------------------------------------------------------
# 2. A toolkit folder in the layout the build scripts search (CUDA_ROOT/{bin,include,lib64}).
CUDA_HOME_DIR="$VENV/cuda"
mkdir -p "$CUDA_HOME_DIR/lib64/stubs" "$CUDA_HOME_DIR/fake-bin"
for d in bin include nvvm; do
    ln -sfn "$WHEEL_ROOT/$d" "$CUDA_HOME_DIR/$d"
done
for lib in "$WHEEL_ROOT"/lib/*.so*; do
    ln -sfn "$lib" "$CUDA_HOME_DIR/lib64/$(basename "$lib")"
done
for name in nvrtc cublas cublasLt; do
    ln -sfn "lib$name.so.13" "$CUDA_HOME_DIR/lib64/lib$name.so"
done

# The link-time libcuda stub: one empty function per driver entry point that cudarc declares.
# Its soname is the driver's, so the binary asks for libcuda.so.1 at run time.
say "locating cudarc (cargo metadata)"
CUDARC_DIR="$(cargo metadata --format-version 1 --manifest-path host/Cargo.toml --features cuda |
    "$VENV/bin/python" -c '
import json, os, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "cudarc":
        print(os.path.dirname(p["manifest_path"]))
        break
')"
[ -f "$CUDARC_DIR/src/driver/sys.rs" ] || die "cannot find cudarc's driver bindings (got '$CUDARC_DIR')"
STUB_C="$CUDA_HOME_DIR/lib64/stubs/libcuda-stub.c"
grep -o 'pub fn cu[A-Za-z0-9_]*' "$CUDARC_DIR/src/driver/sys.rs" | sort -u |
    sed 's/^pub fn \(.*\)$/void \1(void) {}/' >"$STUB_C"
[ -s "$STUB_C" ] || die "no driver entry points found in $CUDARC_DIR/src/driver/sys.rs"
"${CC:-cc}" -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$CUDA_HOME_DIR/lib64/stubs/libcuda.so" "$STUB_C"
say "libcuda stub: $(wc -l <"$STUB_C") entry points from $CUDARC_DIR"

# nvidia-smi: the real one where there is a GPU, else a stand-in that reports CUDA_COMPUTE_CAP.
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=compute_cap --format=csv >/dev/null 2>&1; then
    FAKE_PATH=""
    say "using the real nvidia-smi: $(nvidia-smi --query-gpu=name,compute_cap --format=csv,noheader | head -1)"
else
    CAP="${CUDA_COMPUTE_CAP:-90}"
    CAP="${CAP//./}"
    [[ "$CAP" =~ ^[0-9]{2,3}$ ]] || die "CUDA_COMPUTE_CAP=$CAP: expected e.g. 90 or 9.0"
    export CUDA_COMPUTE_CAP="$CAP"
    cat >"$CUDA_HOME_DIR/fake-bin/nvidia-smi" <<EOF
#!/bin/sh
# Stand-in written by hepaseg's scripts/build-cuda.sh: answers dfdx's build-script query.
echo compute_cap
echo ${CAP%?}.${CAP: -1}
EOF
    chmod +x "$CUDA_HOME_DIR/fake-bin/nvidia-smi"
    FAKE_PATH="$CUDA_HOME_DIR/fake-bin:"
    say "no GPU here: building PTX for sm_$CAP (set CUDA_COMPUTE_CAP for another GPU)"
fi

# ---------------------------------------------------------------------------------------------
# 3. The build.
export CUDA_ROOT="$CUDA_HOME_DIR"
export PATH="$FAKE_PATH$CUDA_HOME_DIR/bin:$PATH"
say "cargo build --release -p hepaseg --features cuda (CUDA_ROOT=$CUDA_ROOT)"
cargo build --release -p hepaseg --features cuda --bin hepaseg

BIN="$ROOT/target/release/hepaseg"
[ -x "$BIN" ] || die "no binary at $BIN"
say "built $BIN"
say "it needs at run time (readelf NEEDED):"
readelf -d "$BIN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/    \1/p' >&2
DFDX_OUT="$(ls -d "$ROOT"/target/release/build/dfdx-*/out 2>/dev/null | while read -r d; do
    [ -f "$d/cuda_utils.cuh" ] && echo "$d"
done | head -1)"
cat >&2 <<EOF
build-cuda: to train on a GPU machine (driver 580 or newer; see docs/cuda.md):
    export LD_LIBRARY_PATH=$CUDA_HOME_DIR/lib64\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
    $BIN train --device cuda ...
  NVRTC compiles some kernels at run time and includes headers from these build-time paths,
  which must exist there too:
    $CUDA_HOME_DIR/include
    ${DFDX_OUT:-target/release/build/dfdx-*/out}
EOF
