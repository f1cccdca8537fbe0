"""The GitHub stand-in Kener 2.0.0 is judged with (tests/kener2/github_standin.py) answers the
calls Kener makes the way GitHub does, where Kener's answers depend on it."""

import threading

import httpx
import pytest

from tests.kener2.github_standin import StandIn

REPO = "/repos/kener/incidents"


@pytest.fixture
def github():
    server = StandIn("127.0.0.1", 0, "kener", "incidents", token="gh-token")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    with httpx.Client(base_url=url, headers={"Authorization": "Bearer gh-token"}) as client:
        yield client
    server.shutdown()
    server.server_close()


def test_issues_are_numbered_and_an_empty_body_is_null(github):
    first = github.post(f"{REPO}/issues", json={"title": "a", "body": "", "labels": ["earth"]})
    second = github.post(f"{REPO}/issues", json={"title": "b", "body": "text"})
    assert (first.status_code, second.status_code) == (201, 201)
    assert (first.json()["number"], second.json()["number"]) == (1, 2)
    assert first.json()["body"] is None  # as GitHub answers it: Kener 2.0.0 fails on it
    assert github.get(f"{REPO}/issues/2").json()["body"] == "text"
    assert [label["name"] for label in github.get(f"{REPO}/issues/1").json()["labels"]] == ["earth"]


def test_closing_sets_closed_at_and_reopening_clears_it(github):
    github.post(f"{REPO}/issues", json={"title": "a", "body": "x"})
    closed = github.patch(f"{REPO}/issues/1", json={"state": "closed"}).json()
    assert closed["state"] == "closed" and closed["closed_at"]
    reopened = github.patch(f"{REPO}/issues/1", json={"state": "open"}).json()
    assert reopened["state"] == "open" and reopened["closed_at"] is None


def test_search_matches_labels_as_any_and_title_words_whole(github):
    github.post(f"{REPO}/issues", json={"title": "Outage in Mumbai", "labels": ["earth"]})
    github.post(f"{REPO}/issues", json={"title": "Mumbai slow", "labels": ["google"]})
    github.post(f"{REPO}/issues", json={"title": "Paris", "labels": ["google"]})

    def numbers(query: str) -> list[int]:
        answer = github.get("/search/issues", params={"q": query})
        assert answer.status_code == 200, answer.text
        return sorted(item["number"] for item in answer.json()["items"])

    assert numbers("repo:kener/incidents is:issue label:earth,google") == [1, 2, 3]
    assert numbers("repo:kener/incidents is:issue mumbai in:title") == [1, 2]
    assert numbers("repo:kener/incidents is:issue mum in:title") == []  # no substrings


def test_a_wrong_token_and_an_unknown_issue_are_refused(github):
    assert github.get(f"{REPO}/issues/1").status_code == 404
    anonymous = httpx.get(f"{github.base_url}{REPO}/issues")
    assert anonymous.status_code == 401
    assert anonymous.json() == {"message": "Bad credentials"}
