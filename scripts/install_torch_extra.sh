#!/bin/sh
# Install a project's opt-in torch extra into the repository's .venv, CPU-only:
#
#   sh scripts/install_torch_extra.sh PACKAGE EXTRA [path/to/uv] [module to import ...]
#
# (`make nlp-deep` and `make anomaly-deep` run it.) The lock resolves torch from PyPI,
# whose Linux wheel pulls several GB of CUDA libraries. Where a CPU-only torch wheel is
# provided (this machine and CI: /opt/wheels, or TORCH_WHEEL_DIR), install it together
# with every other package of PACKAGE[EXTRA] pinned exactly as in uv.lock, so the CPU
# torch satisfies the extra and nothing from nvidia/CUDA is pulled. Elsewhere, fall back
# to the locked extra itself (`uv sync --extra EXTRA`). The modules named last are
# imported at the end as a check (torch always is).
set -eu

PACKAGE="$1"
EXTRA="$2"
UV="${3:-uv}"
shift 2
[ $# -gt 0 ] && shift
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PYTHON="$ROOT/.venv/bin/python"
WHEEL_DIR="${TORCH_WHEEL_DIR:-/opt/wheels}"
TAG="$PACKAGE-$EXTRA"

cpu_wheel=""
for candidate in "$WHEEL_DIR"/torch-*+cpu-*.whl; do
    [ -f "$candidate" ] && cpu_wheel="$candidate"
done

if [ -z "$cpu_wheel" ]; then
    echo "$TAG: no CPU torch wheel in $WHEEL_DIR; installing the locked '$EXTRA' extra (torch from PyPI)"
    "$UV" sync --frozen --all-packages --inexact --extra "$EXTRA"
else
    echo "$TAG: CPU torch from $cpu_wheel; the rest of $PACKAGE[$EXTRA] pinned from uv.lock"
    requirements="$(mktemp)"
    trap 'rm -f "$requirements"' EXIT
    # Every package of PACKAGE[EXTRA] at its locked version, minus torch and its GPU-only
    # deps (the CPU wheel needs none of them).
    "$UV" export --frozen --package "$PACKAGE" --extra "$EXTRA" --no-hashes --no-header \
        --no-annotate --no-emit-workspace \
        | grep -v -E '^(torch|triton)==|^(nvidia-|cuda-)' > "$requirements"
    "$UV" pip install --python "$PYTHON" -r "$requirements" "$cpu_wheel"
fi

# Fail loudly if anything from the CUDA stack slipped in anyway.
gpu_packages="$("$UV" pip list --python "$PYTHON" --format freeze | grep -i -E '^(nvidia-|cuda-|triton==)' || true)"
if [ -n "$gpu_packages" ]; then
    echo "$TAG: GPU packages were installed, expected none:" >&2
    echo "$gpu_packages" >&2
    exit 1
fi
for module in torch "$@"; do
    "$PYTHON" -c "import $module" || { echo "$TAG: cannot import $module" >&2; exit 1; }
done
"$PYTHON" -c "import torch; print(f'$TAG: torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}')"
