"""The forecast API through the shared factory, a small champion handed in: valid
requests, replays, 422s that name the parameter, the factory's ops routes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from forecasting.serve import SPEC, ForecastService, router
from tenfold.serving import ModelCard, ServiceSettings, create_app, current_predictor


@pytest.fixture(scope="module")
def client(small_champion: Any) -> Iterator[TestClient]:
    card = ModelCard(name="forecasting-synthetic", version="3", run_id="r1")
    service = ForecastService(small_champion, card)
    with TestClient(create_app(SPEC, ServiceSettings(), predictor=service)) as c:
        yield c


def test_the_next_day_from_the_end_of_the_data(client: TestClient, small_champion: Any) -> None:
    response = client.get("/v1/forecast", params={"hours": 24})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "LightGBM"
    assert body["model_version"] == "3"
    assert body["in_sample"] is False
    points = body["points"]
    assert len(points) == 24
    first = pd.Timestamp(points[0]["ds"])
    assert first == small_champion.end + pd.Timedelta("1h")
    for point in points:
        assert point["actual"] is None  # the future is not known
        by_level = {i["level"]: i for i in point["intervals"]}
        assert by_level[95]["lower"] <= by_level[80]["lower"] <= point["yhat"]
        assert point["yhat"] <= by_level[80]["upper"] <= by_level[95]["upper"]


def test_a_week_ahead_and_wider_intervals_later(client: TestClient) -> None:
    points = client.get("/v1/forecast", params={"hours": 168}).json()["points"]
    assert len(points) == 168

    def width(p: dict[str, Any]) -> float:
        i = next(i for i in p["intervals"] if i["level"] == 80)
        return float(i["upper"] - i["lower"])

    first_day = sum(width(p) for p in points[:24])
    last_day = sum(width(p) for p in points[-24:])
    assert last_day > first_day  # recursive beyond a day: the calibration knows it


def test_replaying_a_past_start_returns_the_actuals(
    client: TestClient, small_champion: Any
) -> None:
    start = small_champion.end - pd.Timedelta(days=10)
    body = client.get("/v1/forecast", params={"hours": 6, "start": start.isoformat()}).json()
    assert body["in_sample"] is True
    assert pd.Timestamp(body["start"]) == start
    history = small_champion.history.set_index("ds")["y"]
    for point in body["points"]:
        assert point["actual"] == history[pd.Timestamp(point["ds"])]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"hours": 0}, "hours", "greater than or equal to 1"),
        ({"hours": 169}, "hours", "less than or equal to 168"),
        ({"hours": "many"}, "hours", "valid integer"),
        ({"start": "yesterday"}, "start", "valid datetime"),
        ({"start": "1999-01-01T00:00:00"}, "start", "within the known data"),
        ({"start": "2018-07-20T10:30:00"}, "start", "grid"),
        ({"start": "2018-07-20T10:00:00+02:00"}, "start", "without a UTC offset"),
        ({"series": "nowhere"}, "series", "unknown series"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(
    client: TestClient, params: dict[str, Any], field: str, message: str
) -> None:
    response = client.get("/v1/forecast", params=params)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail[0]["field"].endswith(field)
    assert message in detail[0]["message"]


def test_ops_routes_from_the_factory(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {
        "status": "ready",
        "model": "forecasting-synthetic",
        "version": "3",
    }
    assert client.get("/v1/model").json()["version"] == "3"
    # a forecast is a query, not a scored record: no predict routes
    assert client.post("/v1/predict", json={"hours": 3}).status_code in (404, 405)
    schema = client.get("/openapi.json").json()
    assert "422" in schema["paths"]["/v1/forecast"]["get"]["responses"]


def test_the_router_mounts_on_any_app(small_champion: Any) -> None:
    """The router only needs the predictor dependency: any app can provide it."""
    bare = FastAPI()
    bare.include_router(router)
    service = ForecastService(small_champion, ModelCard(name="f"))
    bare.dependency_overrides[current_predictor] = lambda: service
    with TestClient(bare) as c:
        assert len(c.get("/v1/forecast", params={"hours": 2}).json()["points"]) == 2


def test_a_pickled_champion_forecasts_without_training_code(
    small_champion: Any, tmp_path: Path
) -> None:
    """What the serving image does: unpickle the registered champion and forecast. It
    imports mlforecast and LightGBM, never Optuna (which mlforecast declares), Prophet,
    matplotlib, Streamlit or MLflow's SQL store."""
    import subprocess
    import sys

    import cloudpickle

    path = tmp_path / "champion.pkl"
    path.write_bytes(cloudpickle.dumps(small_champion))
    code = (
        "import pickle, sys\n"
        f"champion = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        "print(len(champion.forecast(steps=24)))\n"
        "heavy = {'optuna', 'prophet', 'matplotlib', 'streamlit', 'sqlalchemy', 'alembic'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split("\n")[:2] == ["24", "[]"], done.stderr[-2000:]
