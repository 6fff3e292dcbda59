#!/usr/bin/env bash
# The GPU proof: Whisper large-v3 then NLLB-200 1.3B (random weights, real shapes),
# each step its own process, on one NVIDIA card; writes bench/gpu-results.md.
#
#   bash bench/gpu.sh                 on the GPU machine (no network needed)
#   bash bench/gpu.sh --prepare       here, with PyPI: pack bench/carry/site.tar.xz
#
# On the GPU machine it uses, in this order: $AUTOKR_GPU_PYTHON; the project's
# .venv when it imports everything; else python3 (on the lent machine, the one
# that holds torch), with the packages that image lacks unpacked from
# bench/carry/site.tar.xz (made by --prepare, about 50 MiB; carry bench/carry).
# CTranslate2 4.8 loads CUDA 12's cuBLAS by name; where only CUDA 13's is there
# (the lent image: torch cu130), a link named libcublas.so.12 points at it.
# Without a GPU it says so in one line and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--prepare" ]]; then
    exec "${PYTHON:-.venv/bin/python}" bench/gpu.py prepare "${@:2}"
fi

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
    echo "autokr gpu bench: no NVIDIA GPU here; nothing to measure"
    exit 0
fi

WORK="${AUTOKR_GPU_WORK:-/tmp/autokr-gpu-bench}"
mkdir -p "$WORK"
needs='import torch, ctranslate2, faster_whisper, snakemake, av, srt, jsonschema, pynvml, yaml, ffmpeg'

PY="${AUTOKR_GPU_PYTHON:-}"
if [[ -z "$PY" && -x .venv/bin/python ]] && .venv/bin/python -c "$needs" 2>/dev/null; then
    PY=.venv/bin/python
fi
if [[ -z "$PY" ]]; then
    PY=python3
    if ! "$PY" -c "$needs" 2>/dev/null; then
        if [[ ! -f bench/carry/site.tar.xz ]]; then
            echo "autokr gpu bench: $PY lacks packages and bench/carry/site.tar.xz is missing;" \
                "run 'bash bench/gpu.sh --prepare' where PyPI is reachable, then carry bench/carry" >&2
            exit 1
        fi
        rm -rf "$WORK/site" && tar -xJf bench/carry/site.tar.xz -C "$WORK"
        export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
    fi
fi
TOKENIZER="$WORK/whisper-base-tokenizer.json"
[[ -f "$TOKENIZER" ]] || TOKENIZER=""

# cuBLAS for CTranslate2: CUDA 12's if found, else a link to CUDA 13's.
SHIM="$WORK/cublas"
mkdir -p "$SHIM"
found=$("$PY" - <<'EOF'
import glob, os, site, sys
dirs = [*site.getsitepackages(), *sys.path, "/usr/local/cuda/lib64", "/usr/lib/x86_64-linux-gnu"]
for version in ("12", "13"):
    for d in dirs:
        for hit in glob.glob(f"{d}/nvidia/**/libcublas.so.{version}*", recursive=True) + glob.glob(
            f"{d}/libcublas.so.{version}*"
        ):
            print(version, os.path.dirname(os.path.realpath(hit)))
            raise SystemExit
EOF
)
if [[ -n "$found" ]]; then
    read -r version libdir <<<"$found"
    [[ "$version" == 12 ]] || ln -sf "$libdir/libcublas.so.$version" "$SHIM/libcublas.so.12"
    export LD_LIBRARY_PATH="$SHIM:$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "autokr gpu bench: cuBLAS $version from $libdir"
fi

# No ffmpeg binary on the lent image: extract_audio's one command through PyAV.
if ! command -v ffmpeg >/dev/null 2>&1 && ! "$PY" -c 'import imageio_ffmpeg' 2>/dev/null; then
    mkdir -p "$WORK/bin"
    printf '#!/bin/sh\nexec %q %q "$@"\n' "$(command -v "$PY" || echo "$PY")" \
        "$PWD/bench/ffmpeg_pyav.py" >"$WORK/bin/ffmpeg"
    chmod +x "$WORK/bin/ffmpeg"
    export PATH="$WORK/bin:$PATH"
    echo "autokr gpu bench: no ffmpeg here; extract_audio decodes through PyAV (bench/ffmpeg_pyav.py)"
fi

export PYTHONUNBUFFERED=1
exec "$PY" bench/gpu.py run --work "$WORK" ${TOKENIZER:+--tokenizer "$TOKENIZER"} "$@"
