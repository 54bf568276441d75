"""tenfold: the small library shared by the ten projects.

Modules, one job each (nothing runs at import time):

- ``tenfold.data``: dataset manifest, resolution (data dir, cache, download, synthetic
  twin) and schema checks.
- ``tenfold.repro``: the byte-stable metrics writer.
- ``tenfold.pipelines``: typed tabular schema, ColumnTransformer builder, stratified splits
  and a compiled numpy path of a fitted preprocessor for low-latency serving.
- ``tenfold.splits``: time-ordered (rolling-origin) splits of timestamped rows.
- ``tenfold.tuning``: seeded Optuna studies with pruning, visible in MLflow.
- ``tenfold.evaluation``: metric sets, decision thresholds, bootstrap intervals, plots.
- ``tenfold.tracking``: MLflow runs, model logging, registry aliases.
- ``tenfold.serving``: the FastAPI app factory every project serves through.
- ``tenfold.reports``: markdown tables and README sections generated from metrics files.
- ``tenfold.cli``: shared CLI plumbing (logging, user-facing errors).
"""

__version__ = "0.1.0"
