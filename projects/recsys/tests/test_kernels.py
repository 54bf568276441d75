"""The tuned models give the same lists whatever BLAS kernels the CPU makes OpenBLAS pick.

CI's machines differ (AVX-512 or AVX2 only); the committed results must reproduce on
either. Each fit runs in a fresh interpreter, because OpenBLAS reads ``OPENBLAS_CORETYPE``
once, when it loads; Nehalem's kernels (SSE4.2) run on any x86-64 machine Python 3.11's
wheels support, and differ from what a modern CPU picks by default.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

FIT = textwrap.dedent(
    """
    import json, sys
    import numpy as np, pandas as pd
    from threadpoolctl import threadpool_info
    from recsys import data as recsys_data
    from recsys.features import InteractionMatrix, catalogue_index
    from recsys.models import ImplicitALS, top_k

    frames = recsys_data.make_synthetic(300, 400, seed=5)
    ratings = frames["u.data"].rename(columns={"user_id": "user", "item_id": "item"})
    ratings = ratings.astype({"user": str, "item": str})
    items = catalogue_index(recsys_data.movielens_items(frames["u.item"]), ratings)
    data = InteractionMatrix.build(ratings, items)
    # the parameters the tuning picked on MovieLens: low regularisation, few factors
    model = ImplicitALS(factors=11, regularization=0.02, alpha=1.6, random_state=42).fit(data)
    rows = np.arange(data.matrix.shape[0])
    lists, _ = top_k(model.score(rows), data.binary(), 10)
    np.save(sys.argv[1], model.item_factors_)
    blas = [i for i in threadpool_info() if i.get("internal_api") == "openblas"]
    kernels = sorted({str(i.get("architecture")) for i in blas})
    print(json.dumps({"lists": lists.tolist(), "kernels": kernels}))
    """
)


def fit_with(coretype: str | None, out: Path) -> dict[str, list]:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    done = subprocess.run(
        [sys.executable, "-c", FIT, str(out)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, list] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.service
def test_als_factors_and_lists_do_not_depend_on_the_blas_kernels(tmp_path: Path) -> None:
    default = fit_with(None, tmp_path / "default.npy")
    nehalem = fit_with("Nehalem", tmp_path / "nehalem.npy")
    assert nehalem["kernels"] == ["Nehalem"]
    assert default["kernels"] != ["Nehalem"], "this CPU defaults to the kernels compared with"
    a, b = np.load(tmp_path / "default.npy"), np.load(tmp_path / "nehalem.npy")
    assert np.abs(a - b).max() <= 1e-9 * np.abs(a).max()
    assert default["lists"] == nehalem["lists"]
