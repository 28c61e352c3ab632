#!/usr/bin/env bash
# Runs every fuzz target in fuzz/fuzz_targets/ for SECONDS each (default 60) with cargo-fuzz.
# Needs a nightly toolchain and `cargo install cargo-fuzz`. Corpora grow in fuzz/corpus/<target>
# and crashes land in fuzz/artifacts/<target> (both git-ignored). Exits non-zero on a crash.
#
#   fuzz/run.sh 30
set -euo pipefail

secs="${1:-60}"
case "$secs" in
    '' | *[!0-9]*)
        echo "usage: $0 [SECONDS]" >&2
        exit 2
        ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

targets=()
for f in fuzz/fuzz_targets/*.rs; do
    [ -e "$f" ] || continue
    targets+=("$(basename "$f" .rs)")
done
if [ "${#targets[@]}" -eq 0 ]; then
    echo "no fuzz targets in fuzz/fuzz_targets/" >&2
    exit 1
fi

summary=()
for t in "${targets[@]}"; do
    echo "=== fuzz target $t: ${secs}s"
    mkdir -p "fuzz/corpus/$t"
    log="$(mktemp)"
    # libFuzzer reports on stderr; keep it visible and keep a copy for the summary.
    if ! cargo +nightly fuzz run "$t" -- -max_total_time="$secs" 2>&1 | tee "$log"; then
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
