"""The conformance suite catches faults: each deliberately broken server of `tests/faults.py`
is judged by `kener-conformance`, as any other server would be, and the suite test that should
report the fault fails. The same tests pass against the unbroken server.

Fast whatever the time of day:
- Each server's clock starts 23 minutes after a UTC midnight and then runs at real speed
  (`day_start_clock`). The suite's monitors group writes a data point for every minute of the
  target's day so far: 24 of them, not up to 1,441 near midnight. And for the next 3 minutes
  the day's count of data points (24, 25, 26) shares a factor with 10 and allows a 4-decimal
  share, so no monitors test waits for the target's next minute (conformance/suite/
  test_monitors.py says when it would). The answers' `Date` header follows that clock too:
  the incidents group reads the server's "now" from it.
- The suite processes share one bytecode cache, in pytest's cache directory: the suite and
  its plugins (rewritten by pytest for its assertions) are compiled once, not once per
  process: where PYTHONDONTWRITEBYTECODE is set, that was 7 of a suite run's 9 CPU seconds.
- The faults of a middleware are judged several at a time (`middleware_outcomes`); the first
  of their tests takes the time of them all.
"""

import contextlib
import dataclasses
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate

import pytest

import storage
from kener_api import Settings, create_app
from tests.conftest import TOKEN, serving
from tests.faults import FAULTS

# fault -> (suite group, suite test that must report it)
CATCHES = {
    "problem-json": ("errors", "test_malformed_json_is_400"),
    "500-on-malformed-json": ("errors", "test_malformed_json_is_400"),
    "auth-ignored-get-incident": ("auth", "test_missing_authorization_is_401"),
    "bare-token": ("auth", "test_bare_token_is_401"),
    "latency-text-accepted": ("errors", "test_field_of_the_wrong_type_is_400"),
    "minutes-not-floored": ("monitors", "test_timestamps_are_floored_to_their_minute"),
    "first-write-wins": ("monitors", "test_last_write_for_a_minute_wins_and_counts_once"),
    "uptime-4-decimals": ("monitors", "test_uptime_that_is_a_whole_multiple_of_10_has_no_decimals"),
    "state-ignored": ("incidents", "test_search_state_open_by_default_and_closed"),
    "tags-and": ("incidents", "test_search_tags_match_any"),
    "patch-merges": ("incidents", "test_patch_resets_omitted_fields_to_defaults"),
    "closed-at-unset": ("incidents", "test_resolving_sets_closed_at"),
    "status-update-reopens": ("incidents", "test_status_update_changes_only_given_fields"),
    "unknown-incident-404": ("incidents", "test_get_unknown_incident_is_400_not_found"),
    "no-created-at": ("incidents", "test_create_answers_incident_with_defaults"),
    "comments-newest-first": ("incidents", "test_comments_oldest_first"),
    "encoded-slash-routed": ("http", "test_target"),
    "last-query-value-wins": ("http", "test_target"),
    "trailing-slash-redirect": ("http", "test_target"),
    "content-type-compared-as-text": ("http", "test_content_type"),
    "host-optional": ("http", "test_headers"),
}

DAY = 86_400
# Where each server's day starts. From 00:23:01 its day holds 24 minutes, and until 00:26:00
# the count (24, 25, 26) is even or a multiple of 5, and not 1, 2, 5 or 10: a suite run
# takes seconds.
CLOCK_START = 23 * 60 + 1


def day_start_clock():
    """A clock at CLOCK_START past today's UTC midnight when made, then at real speed."""
    made = time.time()
    start = made - made % DAY + CLOCK_START
    return lambda: start + (time.time() - made)


def dated(app, clock):
    """`app`, its answers carrying a `Date` header from `clock`: waitress's own would give
    the real time, which the server's clock contradicts."""

    async def wrapped(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)

        async def send_dated(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                headers.append((b"date", formatdate(clock(), usegmt=True).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_dated)

    return wrapped


@pytest.fixture
def database_url(tmp_path) -> str:
    """Broken servers run on SQLite only: no fault here lies in the database."""
    return f"sqlite:///{tmp_path / 'kener.db'}"


@pytest.fixture
def server_settings(settings):
    # A running clock, as a server has; the suite reads the server's time from its answers.
    # No response validation: a broken server sends its broken answers. The suite's burst of
    # wrong credentials must not lock its right token out (conformance/local.py says why).
    return dataclasses.replace(
        settings,
        clock=day_start_clock(),
        validate_responses=False,
        auth_failures_per_minute=10**6,
    )


@pytest.fixture(scope="module")
def suite_environment(pytestconfig, tmp_path_factory) -> dict[str, str]:
    """The suite processes' environment: their bytecode kept in pytest's cache directory
    (else a temporary one), from one process and one run to the next, and never written
    beside the sources."""
    cache = getattr(pytestconfig, "cache", None)  # None with -p no:cacheprovider
    bytecode = cache.mkdir("suite-bytecode") if cache else tmp_path_factory.mktemp("bytecode")
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    environment["PYTHONPYCACHEPREFIX"] = str(bytecode)
    return environment


def serve(settings, middleware=None):
    """The app of `settings` (behind a fault's `middleware`), its answers dated by the
    settings' clock, served: a context yielding its URL."""
    app = create_app(settings)
    if middleware is not None:
        app = middleware(app, TOKEN)
    return serving(dated(app, settings.clock))


def judge(url: str, groups: set[str], tests: set[str], junit, environment) -> dict[str, str]:
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
        env=environment,
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


def outcome_of_suite(fault, url: str, directory, environment) -> dict[str, str]:
    group, test = CATCHES[fault.name]
    return judge(url, {group}, {test}, directory / f"{fault.name}.xml", environment)


def names_of(faults) -> list[str]:
    return [fault.name for fault in faults]


# A patch changes the code of the whole process, so each patched server is judged alone. A
# middleware changes only what passes through it: those faults are judged at once, each by
# its own suite run against one unbroken app behind that fault's middleware. Those suite
# tests make their own incidents, with unique titles; the monitors group, which needs its
# monitors to itself, judges each fault alone.
AT_ONCE_FAULTS = {
    fault.name for fault in FAULTS if fault.patch is None and CATCHES[fault.name][0] != "monitors"
}
AT_ONCE = (os.cpu_count() or 1) + 1  # suite runs at a time: each also waits on the server


@pytest.fixture(scope="module")
def middleware_outcomes(request, tmp_path_factory, suite_environment) -> dict:
    """fault name -> the suite's outcomes (or what went wrong judging it) for each fault of
    AT_ONCE_FAULTS this pytest run selected."""
    names = {
        item.callspec.params["fault"].name
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_the_suite_reports_the_fault"
    } & AT_ONCE_FAULTS
    faults = [fault for fault in FAULTS if fault.name in names]
    directory = tmp_path_factory.mktemp("middleware-faults")
    settings = Settings(  # as server_settings
        data_dir=directory / "data",
        database_url=f"sqlite:///{directory / 'kener.db'}",
        api_token=TOKEN,
        clock=day_start_clock(),
        validate_responses=False,
        auth_failures_per_minute=10**6,
    )
    app = create_app(settings)
    try:
        with contextlib.ExitStack() as stack:
            urls = {
                fault.name: stack.enter_context(
                    serving(dated(fault.middleware(app, TOKEN), settings.clock))
                )
                for fault in faults
            }

            def one(fault):
                try:
                    return outcome_of_suite(fault, urls[fault.name], directory, suite_environment)
                except Exception as error:  # reported by that fault's test, not by all
                    return error

            with ThreadPoolExecutor(AT_ONCE) as pool:
                return dict(zip(names_of(faults), pool.map(one, faults), strict=True))
    finally:
        storage.close_database()


@pytest.mark.parametrize("fault", FAULTS, ids=names_of(FAULTS))
def test_the_suite_reports_the_fault(fault, request, suite_environment, tmp_path):
    test = CATCHES[fault.name][1]
    if fault.name in AT_ONCE_FAULTS:
        outcomes = request.getfixturevalue("middleware_outcomes")[fault.name]
        if isinstance(outcomes, Exception):
            raise outcomes
    else:
        if fault.patch:
            fault.patch(request.getfixturevalue("monkeypatch"))
        try:
            with serve(request.getfixturevalue("server_settings"), fault.middleware) as url:
                outcomes = outcome_of_suite(fault, url, tmp_path, suite_environment)
        finally:
            storage.close_database()
    assert "failed" in outcomes_of(test, outcomes), (
        f"{fault.description}: {test} did not report it ({outcomes})"
    )


def test_the_same_tests_pass_against_the_unbroken_server(
    server_settings, suite_environment, tmp_path
):
    groups = {group for group, _ in CATCHES.values()}
    tests = {test for _, test in CATCHES.values()}
    try:
        with serve(server_settings) as url:
            outcomes = judge(url, groups, tests, tmp_path / "junit.xml", suite_environment)
    finally:
        storage.close_database()
    for test in tests:
        assert outcomes_of(test, outcomes) == {"passed"}, (test, outcomes)
