"""Operations over HTTP: write positions, reads that wait for them, /ready and /metrics.

The live server of these tests runs no projector of its own (lifespan off); each test starts
the follower, or catches the views up, when its story needs it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from infrastructure.settings import Settings
from interfaces.composition import Vigil
from tests.e2e.support import SELF_HARM_POST, Api, assert_problem, created

# The bound a read waits for the views: the stories that time out wait all of it.
READ_WAIT_SECONDS = 4.0
# The stories where the views do get there: a read answers as soon as they do, so a bound this
# long costs nothing, and a loaded machine cannot turn a slow catch-up into a 503.
PATIENT_READ_WAIT_SECONDS = 25.0  # under the test client's 30 s timeout
PATIENT = {
    "test_a_read_with_min_position_waits_for_the_views",
    "test_reads_see_the_write_they_name",
}


@pytest.fixture
def settings(database_url: str, request: pytest.FixtureRequest) -> Settings:
    patient = request.node.originalname in PATIENT
    return Settings(
        _env_file=None,
        environment="test",
        database_url=database_url,
        log_json=True,
        db_pool_size=10,
        db_max_overflow=30,
        read_wait_seconds=PATIENT_READ_WAIT_SECONDS if patient else READ_WAIT_SECONDS,
        ready_max_lag_events=2,
        projector_poll_seconds=0.05,
    )


@pytest.fixture
def cora(api: Api) -> httpx.Client:
    return api.user("cora", "coordinator")


@pytest.fixture
def following(vigil: Vigil) -> Iterator[None]:
    follower = vigil.projector.start_in_thread()
    try:
        yield
    finally:
        follower.stop()


def test_a_write_answers_its_log_position_and_a_replay_the_same_bytes(
    api: Api, cora: httpx.Client
) -> None:
    headers = {"Idempotency-Key": "open-1"}
    first = cora.post("/api/v1/cases", json=SELF_HARM_POST, headers=headers)
    opened = created(first)
    assert opened["position"] == api.log_position()
    assert first.headers["vigil-position"] == str(opened["position"])

    case_id = opened["case"]["id"]
    flagged = created(
        cora.post(
            f"/api/v1/cases/{case_id}/flags",
            json={"reason": "second report", "category": "self_harm_risk"},
        )
    )
    assert flagged["position"] == api.log_position() > opened["position"]

    replay = cora.post("/api/v1/cases", json=SELF_HARM_POST, headers=headers)
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content  # the original position, byte for byte


def test_a_read_with_min_position_waits_for_the_views(
    api: Api, cora: httpx.Client, vigil: Vigil
) -> None:
    opened = created(cora.post("/api/v1/cases", json=SELF_HARM_POST))
    # Nothing follows the log yet: the list cannot hold the case until the follower starts,
    # which it does once the read has been sent (and a moment after, so that it is waiting).
    answered = threading.Event()
    at_start: dict[str, int] = {}

    def start_following() -> None:
        time.sleep(0.5)
        # What the read could have seen had it answered by now: it had not, and the views
        # were behind the write.
        at_start.update(answered=int(answered.is_set()), views=vigil.projector.position())
        vigil.projector.start_in_thread()

    starter = threading.Thread(target=start_following)
    try:
        with ThreadPoolExecutor(1) as pool:
            reading = pool.submit(
                cora.get,
                "/api/v1/cases",
                params={"min_position": opened["position"], "subject_ref": "none"},
            )
            reading.add_done_callback(lambda _: answered.set())
            starter.start()
            listed = reading.result()
    finally:
        starter.join()
        vigil.projector.stop_following()

    # Then the read answered only after the follower started, and found the views caught up.
    assert at_start["answered"] == 0, at_start
    assert at_start["views"] < opened["position"], at_start
    assert listed.status_code == 200, listed.text
    assert vigil.projector.position() >= opened["position"]


def test_reads_see_the_write_they_name(
    api: Api, cora: httpx.Client, vigil: Vigil, following: None
) -> None:
    opened = created(cora.post("/api/v1/cases", json=SELF_HARM_POST))
    position = opened["position"]
    case_id = opened["case"]["id"]

    for path in (
        "/api/v1/cases",
        f"/api/v1/cases/{case_id}",
        f"/api/v1/cases/{case_id}/timeline",
    ):
        answer = cora.get(path, params={"min_position": position})
        assert answer.status_code == 200, (path, answer.text)
    assert vigil.projector.position() >= position


def test_a_position_the_views_never_reach_is_503_within_the_bound(
    api: Api, cora: httpx.Client
) -> None:
    # Nothing follows the log: the views never reach the write's position. (A position beyond
    # the log's head is refused at once with 422: test_out_of_range.py.)
    opened = created(cora.post("/api/v1/cases", json=SELF_HARM_POST))
    position = opened["position"]
    for path in ("/api/v1/cases", "/api/v1/queues"):
        started = time.monotonic()
        answer = cora.get(path, params={"min_position": position})
        waited = time.monotonic() - started

        problem = assert_problem(answer, 503, "projection-lagging", errors=["min_position"])
        assert answer.headers["retry-after"] == "1"
        assert str(position) in problem["detail"]
        assert READ_WAIT_SECONDS - 0.1 <= waited < READ_WAIT_SECONDS + 5  # bounded, not forever


def test_min_position_must_be_a_position(api: Api, cora: httpx.Client) -> None:
    assert_problem(
        cora.get("/api/v1/cases", params={"min_position": "-1"}),
        422,
        "invalid-input",
        errors=["min_position"],
    )


def test_ready_fails_while_views_lag_beyond_the_bound(
    api: Api, cora: httpx.Client, vigil: Vigil
) -> None:
    public = api.client()  # no token: /ready is for load balancers
    vigil.projector.catch_up()
    assert public.get("/ready").status_code == 200

    for _ in range(3):  # beyond the bound of 2 events, with nothing following the log
        created(cora.post("/api/v1/cases", json=SELF_HARM_POST))
    answer = public.get("/ready")

    problem = assert_problem(answer, 503, "not-ready")
    assert set(problem["errors"]) == {view.name for view in vigil.views}
    assert answer.headers["retry-after"]

    follower = vigil.projector.start_in_thread()
    try:
        assert vigil.projector.wait_for(api.log_position(), timeout=10)
        ready = public.get("/ready")
    finally:
        follower.stop()
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    assert {view["name"] for view in body["views"]} == {view.name for view in vigil.views}
    assert all(view["lag_events"] == 0 for view in body["views"])


def test_metrics_expose_projection_and_request_series_without_personal_data(
    api: Api, cora: httpx.Client, vigil: Vigil
) -> None:
    opened = created(cora.post("/api/v1/cases", json=SELF_HARM_POST))
    case_id = opened["case"]["id"]
    vigil.projector.catch_up()
    cora.get(f"/api/v1/cases/{case_id}")
    cora.get("/api/v1/cases")

    answer = api.client().get("/metrics")  # no token, like /health

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    position = api.log_position()
    for view in vigil.views:
        assert f'vigil_projection_position{{view="{view.name}"}} {float(position)}' in text
        assert f'vigil_projection_lag_events{{view="{view.name}"}} 0.0' in text
        assert f'vigil_projection_events_applied_total{{view="{view.name}"}}' in text
        assert f'vigil_projection_last_batch_duration_seconds{{view="{view.name}"}}' in text
    assert f"vigil_projection_head {float(position)}" in text
    assert (
        'vigil_http_request_duration_seconds_count{method="GET",'
        'route="/api/v1/cases/{case_id}",status="200"} 1.0'
    ) in text
    assert 'route="/api/v1/cases",status="201"' in text
    assert case_id not in text
    assert "cora" not in text
    assert SELF_HARM_POST["subject"]["ref"] not in text  # type: ignore[index]


def test_operations_endpoints_are_in_the_openapi_document(api: Api) -> None:
    document = api.client().get("/openapi.json").json()
    assert {"/ready", "/metrics"} <= set(document["paths"])
    parameters = document["paths"]["/api/v1/cases"]["get"]["parameters"]
    assert "min_position" in {p["name"] for p in parameters}
    answer = document["components"]["schemas"]["CaseWriteAnswer"]
    assert "position" in answer["properties"]


def test_made_up_methods_add_no_series_to_the_metrics(api: Api) -> None:
    # Given a client (no token needed) sending forty requests, each with a method of its own
    client = api.client()
    for n in range(40):
        client.request(f"PROBE{n}", "/health")

    # When the metrics are read
    text = client.get("/metrics").text

    # Then the made-up methods share one label instead of adding a series (and memory) each
    methods = set(re.findall(r'_count\{method="([^"]+)"', text))
    assert methods <= {"GET", "other"}, methods
    assert "PROBE" not in text
    assert 'method="other",route="/health",status="405"' in text
