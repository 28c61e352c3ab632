#!/usr/bin/env bash
# Writes the seed corpora of the fuzz targets into fuzz/corpus/<target> (git-ignored) from
# real files: the checked-in small seeds (fuzz/seeds/<target>), the test data in ../shared/testdata
# (CT_small.dcm, anatomical.nii, standard.nii.gz) when present, a small `hepaseg synth`
# phantom set (PNG slices, index CSV, NIfTI volumes) and `hepaseg export` blobs of both tiny
# networks (f32, int8, signed). Idempotent; run.sh calls it.
#
#   fuzz/seed.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
corpus="$root/fuzz/corpus"

cargo build -q -p hepaseg --bin hepaseg
hepaseg="$root/target/debug/hepaseg"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

put() { # put TARGET FILE...: copy files into a target's corpus
    local t="$1"
    shift
    mkdir -p "$corpus/$t"
    cp -f "$@" "$corpus/$t/"
}

# Checked-in seeds.
for d in fuzz/seeds/*/; do
    t="$(basename "$d")"
    put "$t" "$d"*
done

# Real test files.
testdata="$root/../shared/testdata"
if [ -d "$testdata" ]; then
    put read_dicom "$testdata/CT_small.dcm"
    put read_nifti "$testdata/anatomical.nii" "$testdata/standard.nii.gz"
fi

# Phantoms: a few slices of every kind, an index CSV, NIfTI volumes (plain and gzip).
"$hepaseg" synth --out "$work/synth" --volumes 2 --size 16 --slices 3 --seed 7 >/dev/null
put read_png "$work/synth/volume-0_1.png" "$work/synth/segmentation-0_livermask_1.png" \
    "$work/synth/segmentation-1_lesionmask_2.png"
put read_lits_csv "$work/synth/lits_df.csv"
mapfile -t volumes < <(find "$work/synth/nifti" -name '*.nii' | sort | head -n 2)
mapfile -t gzipped < <(find "$work/synth/msd" -name '*.nii.gz' | sort | head -n 1)
put read_nifti "${volumes[@]}" "${gzipped[@]}"

# Blobs of both tiny networks: f32, signed f32, int8 (calibrated on a few phantom slices).
"$hepaseg" synth --out "$work/calib" --volumes 4 --size 64 --slices 6 --seed 3 >/dev/null
"$hepaseg" keygen --out "$work/key" >/dev/null
for model in agcaf-net cafct-net; do
    "$hepaseg" export --random-init --model "$model" --seed 1 --out "$work/$model-f32.blob" >/dev/null
    "$hepaseg" export --random-init --model "$model" --seed 2 --sign "$work/key" \
        --out "$work/$model-signed.blob" >/dev/null
    "$hepaseg" export --random-init --model "$model" --seed 3 --quantize int8 \
        --calib "$work/calib" --calib-slices 4 --report-slices 2 --target liver \
        --out "$work/$model-int8.blob" >/dev/null
    put blob_parse "$work/$model-f32.blob" "$work/$model-signed.blob" "$work/$model-int8.blob"
    put blob_forward "$work/$model-f32.blob" "$work/$model-int8.blob"
done

for d in "$corpus"/*/; do
    echo "seeded $(basename "$d"): $(find "$d" -type f | wc -l) files"
done
