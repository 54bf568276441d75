"""The API against a real redis-server (and the in-process store), a small model handed in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from fastapi.testclient import TestClient

from recsys.snapshot import ServingModel
from recsys.store import CURRENT, publish


@contextmanager
def client_for(
    monkeypatch: pytest.MonkeyPatch,
    serving: ServingModel,
    url: str | None,
    mode: str = "precomputed",
) -> Iterator[TestClient]:
    """The app with the registry load replaced by the tiny model (a fresh store gets it
    published at start-up, as the real service does)."""
    from recsys import serve
    from tenfold.serving import ModelCard

    monkeypatch.setattr(
        serve, "load_serving_model", lambda uri: (serving, ModelCard(name="recsys", version="7"))
    )
    if url is None:
        monkeypatch.setenv("RECSYS_STORE", "memory")
    else:
        monkeypatch.setenv("RECSYS_REDIS_URL", url)
        monkeypatch.setenv("RECSYS_STORE", "redis")
    monkeypatch.setenv("RECSYS_MODE", mode)
    with TestClient(serve.app()) as client:
        yield client


@pytest.fixture(params=[pytest.param("redis", marks=pytest.mark.service), "memory"])
def api(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, serving: ServingModel
) -> Iterator[TestClient]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    with client_for(monkeypatch, serving, url) as client:
        yield client


def test_known_user_gets_the_precomputed_list(api: TestClient, serving: ServingModel) -> None:
    user = str(serving.snapshot.users[3])
    body = api.get(f"/v1/users/{user}/recommendations", params={"k": 5}).json()
    expected = serving.snapshot.for_user(user) or []
    assert [i["item_id"] for i in body["items"]] == [e.item for e in expected[:5]]
    assert body["cold_start"] is False
    assert body["strategy"] == "precomputed"
    titles = serving.snapshot.title_map()
    assert all(i["title"] == titles[i["item_id"]] for i in body["items"])


def test_exclude_removes_items_and_keeps_k(api: TestClient, serving: ServingModel) -> None:
    user = str(serving.snapshot.users[3])
    full = [e.item for e in serving.snapshot.for_user(user) or []]
    body = api.get(f"/v1/users/{user}/recommendations", params={"k": 4, "exclude": full[:2]}).json()
    assert [i["item_id"] for i in body["items"]] == full[2:6]


def test_unknown_user_is_a_flagged_cold_start(api: TestClient, serving: ServingModel) -> None:
    body = api.get("/v1/users/new-user-1/recommendations").json()
    assert body["cold_start"] is True
    assert body["strategy"] == "popularity"
    assert [i["item_id"] for i in body["items"]] == [
        e.item for e in serving.snapshot.most_popular()[:10]
    ]
    liked = [str(serving.snapshot.items[0]), str(serving.snapshot.items[1])]
    profile = api.get("/v1/users/new-user-1/recommendations", params={"liked": liked}).json()
    assert profile["strategy"] == "profile"
    assert profile["cold_start"] is True
    returned = [i["item_id"] for i in profile["items"]]
    assert returned
    assert not set(returned) & set(liked)
    neighbours = {e.item for item in liked for e in serving.snapshot.similar(item) or []}
    assert set(returned) <= neighbours


def test_bad_k_is_a_422_naming_the_field(api: TestClient) -> None:
    for bad in ("0", "101", "ten"):
        response = api.get("/v1/users/1/recommendations", params={"k": bad})
        assert response.status_code == 422
        body = response.json()
        assert [e["field"] for e in body["detail"]] == ["k"]
        assert body["request_id"] == response.headers["X-Request-ID"]


def test_similar_items(api: TestClient, serving: ServingModel) -> None:
    item = str(serving.snapshot.items[5])
    body = api.get(f"/v1/items/{item}/similar", params={"k": 3}).json()
    assert [i["item_id"] for i in body["items"]] == [
        e.item for e in (serving.snapshot.similar(item) or [])[:3]
    ]
    assert item not in [i["item_id"] for i in body["items"]]
    assert api.get("/v1/items/no-such-item/similar").status_code == 404


def test_ops_routes(api: TestClient) -> None:
    assert api.get("/health").json() == {"status": "ok"}
    assert api.get("/ready").json() == {"status": "ready", "model": "recsys", "version": "7"}
    user = api.get("/v1/users/1/recommendations").json()
    card = api.get("/v1/model").json()
    assert card["version"] == "7"
    assert card["details"]["store_version"] == user["model_version"]
    assert card["details"]["store"] == user["store"]


def test_unknown_item_is_a_404_in_the_documented_shape(api: TestClient) -> None:
    response = api.get("/v1/items/no-such-item/similar")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "unknown item 'no-such-item'",
        "request_id": response.headers["X-Request-ID"],
    }


def test_a_store_holding_the_served_model_is_used_as_it_is(
    monkeypatch: pytest.MonkeyPatch, serving: ServingModel, redis_url: str
) -> None:
    """What the training run published for this model version is read, not rewritten."""
    client = redis.Redis.from_url(redis_url)
    version = publish(client, serving.snapshot, model="recsys", model_version="7")
    with client_for(monkeypatch, serving, redis_url) as api:
        body = api.get(f"/v1/users/{serving.snapshot.users[0]}/recommendations").json()
    assert body["model_version"] == version
    assert client.get(CURRENT) == version.encode()
    client.close()


def test_a_store_holding_another_model_gets_the_served_ones(
    monkeypatch: pytest.MonkeyPatch, serving: ServingModel, redis_url: str
) -> None:
    """Lists of another version in Redis (an older champion) are replaced by a new
    version holding the served model's, switched atomically."""
    client = redis.Redis.from_url(redis_url)
    older = publish(client, serving.snapshot, model="recsys", model_version="6")
    with client_for(monkeypatch, serving, redis_url) as api:
        body = api.get(f"/v1/users/{serving.snapshot.users[0]}/recommendations").json()
    assert body["model_version"] != older
    assert client.get(CURRENT) == body["model_version"].encode()
    meta = client.hgetall(f"{body['model_version']}:meta")
    assert meta[b"model_version"] == b"7"
    client.close()


@pytest.mark.usefixtures("isolated_tracking")
def test_no_model_is_one_line_and_no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Serving before any training: the registry has no champion; `serve` says so."""
    from typer.testing import CliRunner

    from recsys.__main__ import app
    from tenfold.testing import output_has

    monkeypatch.setenv("RECSYS_STORE", "memory")
    result = CliRunner().invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2, result.output
    assert output_has(result, "no recsys@champion yet: run `make recsys`")
    assert "Traceback" not in result.output


def test_a_bad_mode_names_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from recsys.__main__ import app
    from tenfold.testing import output_has

    result = CliRunner().invoke(app, ["serve", "--mode", "fast"])
    assert result.exit_code == 2, result.output
    assert output_has(result, "--mode:")


def test_compute_mode_answers_the_same(
    monkeypatch: pytest.MonkeyPatch, serving: ServingModel
) -> None:
    """Computing at request time gives the precomputed list (the benchmark's baseline)."""
    user = str(serving.snapshot.users[2])
    with client_for(monkeypatch, serving, None, mode="compute") as api:
        body = api.get(f"/v1/users/{user}/recommendations", params={"k": 10}).json()
    assert body["strategy"] == "computed"
    assert [i["item_id"] for i in body["items"]] == [
        e.item for e in (serving.snapshot.for_user(user) or [])[:10]
    ]
