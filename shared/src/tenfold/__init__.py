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
- ``tenfold.training``: what every training shares: the base config, a candidate model,
  the result of a training and of its evaluation (nothing heavy imported).
- ``tenfold.tracking``: MLflow runs, model logging, trainings logged and read back by run
  id.
- ``tenfold.promotion``: the ``challenger`` alias, the promotion gate with its audit
  history in the registry, rollback.
- ``tenfold.serving``: the FastAPI app factory every project serves through.
- ``tenfold.reports``: markdown tables and README sections generated from metrics files.
- ``tenfold.cli``: shared CLI plumbing (logging, user-facing errors, option groups
  declared once, the run / train / evaluate / serve / report commands).
"""

__version__ = "0.1.0"
