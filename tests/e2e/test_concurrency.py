"""Many people writing to one case at once, through real connections."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.e2e.support import Api, open_case


def all_at_once(clients: list[httpx.Client], send: Any) -> list[httpx.Response]:
    """Send from every client together: a barrier releases them at the same moment."""
    barrier = threading.Barrier(len(clients))

    def go(index: int) -> httpx.Response:
        barrier.wait()
        response: httpx.Response = send(index, clients[index])
        return response

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        return list(pool.map(go, range(len(clients))))


def test_of_writers_with_the_same_if_match_exactly_one_wins(api: Api) -> None:
    volunteer = api.user("amara", "volunteer")
    case = open_case(volunteer)
    notes = f"/api/v1/cases/{case['id']}/notes"
    writers = [api.user(f"volunteer-{i}", "volunteer") for i in range(16)]

    answers = all_at_once(
        writers,
        lambda i, client: client.post(
            notes, json={"kind": "note", "text": f"Seen by writer {i}"}, headers={"If-Match": '"1"'}
        ),
    )

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [412] * 15
    timeline = volunteer.get(f"/api/v1/cases/{case['id']}/timeline").json()["events"]
    assert [e["version"] for e in timeline] == [1, 2]


def test_writers_without_if_match_are_all_recorded(api: Api) -> None:
    volunteer = api.user("amara", "volunteer")
    case = open_case(volunteer)
    notes = f"/api/v1/cases/{case['id']}/notes"
    writers = [api.user(f"volunteer-{i}", "volunteer") for i in range(30)]

    answers = all_at_once(
        writers,
        lambda i, client: client.post(notes, json={"kind": "note", "text": f"Note {i}"}),
    )

    assert [a.status_code for a in answers] == [201] * 30, [a.text for a in answers if a.is_error]
    acknowledged = {a.json()["events"][0]["event_id"] for a in answers}
    timeline = volunteer.get(f"/api/v1/cases/{case['id']}/timeline").json()["events"]
    assert [e["version"] for e in timeline] == list(range(1, 32))
    assert acknowledged == {e["event_id"] for e in timeline[1:]}
    assert {e["text"] for e in timeline[1:]} == {f"Note {i}" for i in range(30)}
