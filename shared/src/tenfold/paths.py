"""Where the repository, the manifest, the data cache and the local MLflow store live.

All functions compute paths; none creates a folder. Callers create what they write to.
"""

from __future__ import annotations

import os
from pathlib import Path

MANIFEST_RELATIVE = Path("data") / "datasets.toml"


def repo_root() -> Path:
    """The tenfold checkout: ``TENFOLD_HOME``, else the nearest parent holding the manifest.

    The search starts at the working directory, then at this file (an editable install
    lives inside the checkout), so commands work from any sub-folder.
    """
    env = os.environ.get("TENFOLD_HOME")
    if env:
        return Path(env).expanduser().resolve()
    for start in (Path.cwd().resolve(), Path(__file__).resolve().parent):
        for candidate in (start, *start.parents):
            if (candidate / MANIFEST_RELATIVE).is_file():
                return candidate
    return Path.cwd().resolve()


def manifest_path() -> Path:
    env = os.environ.get("TENFOLD_MANIFEST")
    return Path(env).expanduser() if env else repo_root() / MANIFEST_RELATIVE


def cache_dir() -> Path:
    """Downloaded datasets (git-ignored)."""
    env = os.environ.get("TENFOLD_CACHE_DIR")
    return Path(env).expanduser() if env else repo_root() / "data" / "cache"


def data_dir() -> Path | None:
    """A folder of provided datasets (one sub-folder per dataset), if configured."""
    env = os.environ.get("TENFOLD_DATA_DIR")
    return Path(env).expanduser() if env else None


def state_dir() -> Path:
    """Local MLflow store (sqlite + artifacts), git-ignored."""
    env = os.environ.get("TENFOLD_STATE_DIR")
    return Path(env).expanduser() if env else repo_root() / ".mlflow"
