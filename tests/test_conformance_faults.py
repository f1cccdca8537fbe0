"""The conformance suite catches faults: each deliberately broken server of `tests/faults.py`
is judged by `kener-conformance`, as any other server would be, and the suite test that should
report the fault fails. The same tests pass against the unbroken server."""

import dataclasses
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree

import pytest

import storage
from kener_api import create_app
from tests.conftest import TOKEN, serving
from tests.faults import FAULTS

# fault -> (suite group, suite test that must report it)
CATCHES = {
    "problem-json": ("errors", "test_malformed_json_is_400"),
    "500-on-malformed-json": ("errors", "test_malformed_json_is_400"),
    "auth-ignored-get-incident": ("auth", "test_missing_authorization_is_401"),
    "bare-token": ("auth", "test_bare_token_is_401"),
    "minutes-not-floored": ("monitors", "test_timestamps_are_floored_to_their_minute"),
    "first-write-wins": ("monitors", "test_last_write_for_a_minute_wins_and_counts_once"),
    "uptime-4-decimals": ("monitors", "test_uptime_that_is_a_whole_multiple_of_10_has_no_decimals"),
    "state-ignored": ("incidents", "test_search_state_open_by_default_and_closed"),
    "tags-and": ("incidents", "test_search_tags_match_any"),
    "patch-merges": ("incidents", "test_patch_resets_omitted_fields_to_defaults"),
    "closed-at-unset": ("incidents", "test_resolving_sets_closed_at"),
    "unknown-incident-404": ("incidents", "test_get_unknown_incident_is_400_not_found"),
    "no-created-at": ("incidents", "test_create_answers_incident_with_defaults"),
    "comments-newest-first": ("incidents", "test_comments_oldest_first"),
    "encoded-slash-routed": ("http", "test_target"),
    "last-query-value-wins": ("http", "test_target"),
    "trailing-slash-redirect": ("http", "test_target"),
    "content-type-compared-as-text": ("http", "test_content_type"),
    "host-optional": ("http", "test_headers"),
}


@pytest.fixture
def database_url(tmp_path) -> str:
    """Broken servers run on SQLite only: no fault here lies in the database."""
    return f"sqlite:///{tmp_path / 'kener.db'}"


@pytest.fixture
def server_settings(settings):
    # The real clock, as a server has; the suite reads the server's time from its answers.
    # No response validation: a broken server sends its broken answers. The suite's burst of
    # wrong credentials must not lock its right token out (conformance/local.py says why).
    return dataclasses.replace(
        settings, clock=time.time, validate_responses=False, auth_failures_per_minute=10**6
    )


def judge(url: str, groups: set[str], tests: set[str], junit) -> dict[str, str]:
    """Run the suite's `tests` of `groups` against `url`; answer test name -> outcome."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance.cli",
            "--base-url",
            url,
            "--token",
            TOKEN,
            "--tags",
            "earth,google",
            "--degraded-tag",
            "google",
            "--only",
            ",".join(sorted(groups)),
            "-k",
            " or ".join(sorted(tests)),
            "--junit-xml",
            str(junit),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode in (0, 1), completed.stdout + completed.stderr
    outcomes = {}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        outcomes[case.get("name")] = "failed" if failed else "skipped" if skipped else "passed"
    return outcomes


def outcomes_of(test: str, outcomes: dict[str, str]) -> set[str]:
    return {outcome for name, outcome in outcomes.items() if name.split("[")[0] == test}


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
def test_the_suite_reports_the_fault(fault, server_settings, monkeypatch, tmp_path):
    group, test = CATCHES[fault.name]
    if fault.patch:
        fault.patch(monkeypatch)
    app = create_app(server_settings)
    if fault.middleware:
        app = fault.middleware(app, TOKEN)
    try:
        with serving(app) as url:
            outcomes = judge(url, {group}, {test}, tmp_path / "junit.xml")
    finally:
        storage.close_database()
    assert "failed" in outcomes_of(test, outcomes), (
        f"{fault.description}: {test} did not report it ({outcomes})"
    )


def test_the_same_tests_pass_against_the_unbroken_server(server_settings, tmp_path):
    app = create_app(server_settings)
    groups = {group for group, _ in CATCHES.values()}
    tests = {test for _, test in CATCHES.values()}
    try:
        with serving(app) as url:
            outcomes = judge(url, groups, tests, tmp_path / "junit.xml")
    finally:
        storage.close_database()
    for test in tests:
        assert outcomes_of(test, outcomes) == {"passed"}, (test, outcomes)
