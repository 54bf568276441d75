"""Scale: precompute and write top-100 for 10,000 → 100,000 synthetic users.

For each size: the synthetic twin (1,682 items, tastes and popularity as in
``recsys.data.make_synthetic``), implicit ALS (32 factors), the top-100 of every user
(``recsys.snapshot.precompute_user_lists``), then one versioned, pipelined write to a
fresh redis-server (``recsys.store.publish``). Reports the time of each step, Redis'
``used_memory`` growth and the bytes per user.

    uv run python projects/recsys/benchmarks/scale.py [--sizes 10000 30000 100000] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
PROJECT = HERE.parents[1]


def main() -> None:
    import numpy as np
    import pandas as pd
    import redis

    from recsys.data import make_synthetic
    from recsys.features import InteractionMatrix
    from recsys.models import ImplicitALS
    from recsys.snapshot import Snapshot, precompute_user_lists
    from recsys.store import publish
    from tenfold.testing import redis_server

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    for n_users in args.sizes:
        frames = make_synthetic(n_users, 1682, seed=42)
        raw = frames["u.data"]
        ratings = pd.DataFrame(
            {"user": raw["user_id"].astype(str), "item": raw["item_id"].astype(str)}
        )
        items = pd.Index([str(i) for i in range(1, 1683)])
        data = InteractionMatrix.build(ratings, items)
        started = time.perf_counter()
        model = ImplicitALS(factors=32, iterations=10).fit(data)
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        top, scores = precompute_user_lists(model, data, 100)
        precompute_s = time.perf_counter() - started
        empty = np.full((len(items), 1), -1, dtype=np.int32)
        snapshot = Snapshot(
            data.users,
            items,
            frames["u.item"]["title"].to_numpy(),
            top,
            scores,
            empty,
            np.zeros((len(items), 1), np.float32),
            np.arange(100, dtype=np.int32),
            np.ones(100, np.float32),
        )
        with redis_server() as url:
            client = redis.Redis.from_url(url)
            before = int(client.info("memory")["used_memory"])
            started = time.perf_counter()
            publish(client, snapshot, model="scale", model_version="1")
            write_s = time.perf_counter() - started
            after = int(client.info("memory")["used_memory"])
            keys = int(client.dbsize())
            client.close()
        row = {
            "users": n_users,
            "interactions": len(ratings),
            "fit_s": fit_s,
            "precompute_s": precompute_s,
            "write_s": write_s,
            "keys": keys,
            "keys_per_s": keys / write_s,
            "redis_memory_mb": (after - before) / 2**20,
            "bytes_per_user": (after - before) / n_users,
        }
        rows.append(row)
        print(
            f"{n_users:>7,} users ({len(ratings):,} interactions): ALS {fit_s:.1f} s, top-100 "
            f"{precompute_s:.2f} s, Redis write {write_s:.2f} s ({row['keys_per_s']:,.0f} keys/s), "
            f"+{row['redis_memory_mb']:.1f} MB ({row['bytes_per_user']:,.0f} B/user)"
        )
    first, last = rows[0], rows[-1]
    growth = last["users"] / first["users"]
    note = (
        f"{first['users']:,} → {last['users']:,} users (×{growth:.0f}): precompute "
        f"×{last['precompute_s'] / first['precompute_s']:.1f}, write "
        f"×{last['write_s'] / first['write_s']:.1f}, Redis memory "
        f"×{last['redis_memory_mb'] / first['redis_memory_mb']:.1f}. One thread, pipelined "
        f"batches of 2,000 SETs; shared 2-core machine (load average {os.getloadavg()[0]:.1f}): "
        "noisy, to re-measure on a quiet machine."
    )
    print(note)
    if args.write:
        path = PROJECT / "reports" / "scale.json"
        path.write_text(json.dumps({"rows": rows, "note": note}, indent=2) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
