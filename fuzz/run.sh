#!/usr/bin/env bash
# Runs every fuzz target in fuzz/fuzz_targets/ for SECONDS each (default 60) with cargo-fuzz,
# starting from the seed corpora that fuzz/seed.sh writes (real files, exported blobs).
# Needs `cargo install cargo-fuzz`. Corpora grow in fuzz/corpus/<target> and crashes land in
# fuzz/artifacts/<target> (both git-ignored). Exits non-zero on a crash.
#
#   fuzz/run.sh 30              # every target
#   fuzz/run.sh 600 blob_parse  # one target
#
# Toolchain: the stable one, without a sanitizer (`-s none`), with debug assertions and
# overflow checks (`-a`). The reader targets link the host crate, whose dfdx 0.13 does not
# build on current nightlies; every crate involved forbids `unsafe`, so AddressSanitizer would
# only watch the dependencies' unsafe code, at about half the speed. libFuzzer's coverage
# instrumentation works on stable.
set -euo pipefail

secs="${1:-60}"
case "$secs" in
    '' | *[!0-9]*)
        echo "usage: $0 [SECONDS] [TARGET...]" >&2
        exit 2
        ;;
esac
shift || true

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    for f in fuzz/fuzz_targets/*.rs; do
        [ -e "$f" ] || continue
        targets+=("$(basename "$f" .rs)")
    done
fi
if [ "${#targets[@]}" -eq 0 ]; then
    echo "no fuzz targets in fuzz/fuzz_targets/" >&2
    exit 1
fi

fuzz/seed.sh

summary=()
for t in "${targets[@]}"; do
    echo "=== fuzz target $t: ${secs}s"
    mkdir -p "fuzz/corpus/$t"
    log="$(mktemp)"
    # libFuzzer caps inputs at 1 MiB unless told otherwise; the blob targets' seeds (f32
    # CAFCT-Net tiny: 1,090,948 B) must fit whole.
    extra=()
    case "$t" in
        blob_*) extra=(-max_len=1200000) ;;
    esac
    # libFuzzer reports on stderr; keep it visible and keep a copy for the summary. A run
    # slower than 30 s is reported as a hang.
    if ! cargo fuzz run -s none -a "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -timeout=30 -print_final_stats=1 "${extra[@]}" 2>&1 |
        tee "$log"; then
        rm -f "$log"
        echo "=== fuzz target $t FAILED (see fuzz/artifacts/$t)" >&2
        exit 1
    fi
    done_line="$(grep -E '^Done [0-9]+ runs' "$log" | tail -n 1 || true)"
    rm -f "$log"
    summary+=("$t: ${done_line:-no run count reported}")
done

echo "=== fuzz summary"
printf '  %s\n' "${summary[@]}"
