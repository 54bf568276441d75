"""MiniLM content vectors through the shared loader (needs the opt-in extra)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.features import minilm_content


@pytest.mark.deep
def test_minilm_vectors_are_unit_length_and_put_sequels_together() -> None:
    items = pd.DataFrame(
        {
            "item": ["1", "2", "3"],
            "title": ["Alien (1979)", "Aliens (1986)", "Sense and Sensibility (1995)"],
            "year": [1979.0, 1986.0, 1995.0],
            "genres": ["Sci-Fi|Horror", "Sci-Fi|Action", "Romance|Drama"],
        }
    )
    vectors = minilm_content(items)
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2]
