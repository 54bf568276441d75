"""The backtest in MLflow, with today's ``tenfold.tracking`` helpers.

- a parent run (``tenfold.stage=train``: config, data provenance, git SHA, lock hash) holding
  the backtest itself as artifacts (every forecast window with its intervals, the
  calendar, Prophet's tuning table, LightGBM's importance), so ``evaluate`` can rebuild it;
- a nested run per model (``tenfold.stage=candidate``): its parameters, the CPU seconds
  per refit, per-origin metrics as the steps of one metric each, the overall metrics and
  the plots;
- the champion, refit on all the data, logged in the parent run and registered (alias
  ``champion``) under ``forecasting``, ``forecasting-synthetic`` or
  ``forecasting-<file stem>``: a synthetic or custom run never replaces the real one.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from forecasting.backtest import Backtest, Calendar
from forecasting.config import ForecastConfig
from forecasting.data import Series
from forecasting.evaluate import POINT_METRICS, Evaluation
from forecasting.models import Champion
from forecasting.train import TrainResult
from tenfold import tracking

# what the registered model needs to be loaded (pinned from the environment)
MODEL_REQUIREMENTS = ["pandas", "numpy", "lightgbm", "mlforecast", "prophet", "holidays", "tenfold"]


@dataclass(frozen=True)
class Runs:
    parent: str
    models: dict[str, str]


def experiment(cfg: ForecastConfig) -> str:
    return cfg.experiment if cfg.data_path is None else f"{cfg.experiment}-custom"


def log_training(cfg: ForecastConfig, series: Series, result: TrainResult) -> Runs:
    import mlflow

    bt = result.backtest
    name = experiment(cfg)
    with tracking.training_run(name, config=cfg, data=series.source, seed=cfg.seed) as parent:
        mlflow.set_tags(
            {"forecasting.cadence": series.cadence.name, "forecasting.series": ",".join(series.ids)}
        )
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            bt.track_record.to_csv(folder / "track_record.csv", index=False)
            result.tuning.to_csv(folder / "prophet_tuning.csv", index=False)
            bt.importance.rename("gain_share").to_csv(folder / "lightgbm_importance.csv")
            (folder / "backtest.json").write_text(
                json.dumps(
                    {
                        "origins": [str(o) for o in bt.calendar.origins],
                        "warmup": [str(o) for o in bt.calendar.warmup],
                        "models": list(bt.models),
                        "levels": list(bt.levels),
                        "fit_seconds": bt.fit_seconds,
                        "params": result.params,
                    },
                    indent=2,
                    default=str,
                ),
                encoding="utf-8",
            )
            mlflow.log_artifacts(str(folder), artifact_path="backtest")
        children = {}
        for model in bt.models:
            with tracking.start_run(
                name,
                model,
                nested=True,
                tags={"tenfold.stage": "candidate", "tenfold.candidate": model},
            ) as run:
                mlflow.log_params({k: str(v)[:500] for k, v in result.params[model].items()})
                seconds = bt.fit_seconds.get(model, [])
                for i, value in enumerate(seconds):
                    mlflow.log_metric("fit_cpu_seconds", float(value), step=i)
                children[model] = run.info.run_id
        return Runs(parent.info.run_id, children)


def log_evaluation(runs: Runs, evaluation: Evaluation, files: Sequence[Path]) -> None:
    """Per-origin metrics (one step per origin), overall metrics and the plots."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient()
    per_origin = evaluation.per_origin
    metric_columns = [c for c in per_origin.columns if c not in ("origin", "model")]
    for model, run_id in runs.models.items():
        rows = per_origin.loc[per_origin["model"] == model].reset_index(drop=True)
        batch = [
            Metric(f"origin_{column}", float(row[column]), 0, step)
            for step, row in enumerate(rows.to_dict("records"))
            for column in metric_columns
            if pd.notna(row[column])
        ]
        for start in range(0, len(batch), 900):  # MLflow takes 1000 metrics per batch
            client.log_batch(run_id, metrics=batch[start : start + 900])
        overall = evaluation.metrics["models"][model]
        tracking.log_metrics_to(
            run_id,
            {k: v for k, v in overall.items() if k not in ("params",)},
            prefix="backtest_",
        )
        for file in files:
            if file.suffix == ".png":
                client.log_artifact(run_id, str(file), "plots")
    tracking.log_metrics_to(
        runs.parent,
        {
            f"{m}.{k}": evaluation.metrics["models"][m][k]
            for m in runs.models
            for k in POINT_METRICS
        },
        prefix="backtest_",
    )
    tracking.log_artifacts_to(runs.parent, list(files), artifact_path="reports")


def log_champion(champion: Champion, runs: Runs, evaluation: Evaluation) -> tracking.LoggedModel:
    """The refit champion as a model of the parent run (not yet registered)."""
    import mlflow

    example = pd.DataFrame({"steps": [champion.cadence.horizon]})
    with mlflow.start_run(run_id=runs.parent):
        mlflow.set_tag("tenfold.champion", champion.name)
        return tracking.log_sklearn_model(
            champion,
            input_example=example,
            output_example=champion.predict(example),
            requirements=MODEL_REQUIREMENTS,
            metadata={
                "candidate": champion.name,
                "cadence": champion.cadence.name,
                "series": champion.ids,
                "data_end": str(champion.end),
                "levels": list(champion.levels),
                "backtest_mape": evaluation.metrics["models"][champion.name]["mape"],
                "backtest_run_id": runs.parent,
            },
        )


def promote(
    cfg: ForecastConfig, kind: str, logged: tracking.LoggedModel, evaluation: Evaluation
) -> str:
    """Register the logged champion and point the ``champion`` alias at it."""
    champion = evaluation.champion
    overall = evaluation.metrics["models"][champion]
    return tracking.register(
        logged.model_uri,
        cfg.registered_model_name(kind),
        tags={
            "candidate": champion,
            "data_kind": kind,
            "backtest_mape": f"{overall['mape']:.4f}",
            "backtest_coverage_80": f"{overall.get('coverage_80', float('nan')):.2f}",
            "backtest_coverage_95": f"{overall.get('coverage_95', float('nan')):.2f}",
        },
    )


def from_latest_run(cfg: ForecastConfig, series: Series) -> tuple[TrainResult, Runs]:
    """The latest training of the same data and seed, rebuilt from its artifacts."""
    import mlflow

    training = tracking.latest_training(experiment(cfg), data=series.source, seed=cfg.seed)
    parent = training.parent.info.run_id
    folder = Path(mlflow.artifacts.download_artifacts(run_id=parent, artifact_path="backtest"))
    meta = json.loads((folder / "backtest.json").read_text(encoding="utf-8"))
    track = pd.read_csv(folder / "track_record.csv", parse_dates=["cutoff", "ds"])
    track["unique_id"] = track["unique_id"].astype(str)
    origins = tuple(pd.Timestamp(o) for o in meta["origins"])
    importance = pd.read_csv(folder / "lightgbm_importance.csv", index_col=0)["gain_share"]
    bt = Backtest(
        forecasts=track.loc[track["cutoff"].isin(origins)].reset_index(drop=True),
        calendar=Calendar(origins, tuple(pd.Timestamp(o) for o in meta["warmup"])),
        models=tuple(meta["models"]),
        levels=tuple(meta["levels"]),
        importance=importance,
        fit_seconds={k: list(v) for k, v in meta["fit_seconds"].items()},
        track_record=track,
    )
    tuning = pd.read_csv(folder / "prophet_tuning.csv")
    models = {r.data.tags["tenfold.candidate"]: r.info.run_id for r in training.stage("candidate")}
    return TrainResult(bt, tuning, meta["params"]), Runs(parent, models)
