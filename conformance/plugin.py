"""The pytest plugin behind `kener-conformance`: target options, the rule of each test, the
profiles and groups, preconditions, and the verdict (terminal summary, `--json`, `--badge`
and the Markdown report; `conformance/verdict.py` writes them)."""

import time
from collections import Counter, defaultdict

import pytest

from conformance.config import GROUPS, INCIDENT_OPERATIONS, PROFILES, Target
from conformance.preconditions import WITHOUT, Preconditions
from conformance.rules import BY_TEST, Rule
from conformance.verdict import Verdict

EXCHANGES = pytest.StashKey[list]()  # every HTTP exchange a test made, in order
SCHEMA_CASES = pytest.StashKey[dict]()  # operationId -> Counter of answers ("2xx", "400", ...)
SCHEMA_NOTES = pytest.StashKey[dict]()  # operationId -> why generation stopped early
PRECONDITIONS = pytest.StashKey[Preconditions]()
RULE = pytest.StashKey[Rule]()


def pytest_addoption(parser):
    group = parser.getgroup("kener", "Kener API conformance")
    group.addoption("--kener-base-url", required=True, help="base URL of the server under test")
    group.addoption("--kener-token", required=True, help="bearer token the server accepts")
    group.addoption("--kener-tags", default="earth,google", help="monitor tags the server knows")
    group.addoption(
        "--kener-degraded-tag", default=None, help="a tag whose monitor counts DEGRADED as down"
    )
    group.addoption("--kener-profile", default="strict", choices=sorted(PROFILES))
    group.addoption("--kener-only", default="", help="comma-separated groups to run")
    group.addoption("--kener-without", default="", help="what the target does not have")
    group.addoption("--kener-max-examples", type=int, default=25)
    group.addoption("--kener-report", default=None, help="write the report as Markdown here")
    group.addoption("--kener-json", default=None, help="write the verdict as JSON here")
    group.addoption("--kener-badge", default=None, help="write a shields.io endpoint badge here")
    group.addoption("--kener-details", action="store_true", help="every rule and message in full")


def pytest_configure(config):
    config.addinivalue_line("markers", "group(name): the test group (monitors, incidents, ...)")
    config.addinivalue_line("markers", "operation(*ids): the operationIds a test judges")
    config.stash[SCHEMA_CASES] = defaultdict(Counter)
    config.stash[SCHEMA_NOTES] = {}
    without = {name.strip() for name in config.getoption("kener_without").split(",")} - {""}
    unknown = without - set(WITHOUT)
    if unknown:
        raise pytest.UsageError(f"unknown --without {', '.join(sorted(unknown))}")
    config.stash[PRECONDITIONS] = Preconditions(frozenset(without))
    config.pluginmanager.register(Report(config), "kener-report")


@pytest.fixture(scope="session")
def target(pytestconfig) -> Target:
    option = pytestconfig.getoption
    return Target(
        base_url=option("kener_base_url").rstrip("/"),
        token=option("kener_token"),
        tags=tuple(tag.strip() for tag in option("kener_tags").split(",") if tag.strip()),
        degraded_tag=option("kener_degraded_tag"),
        profile=option("kener_profile"),
        max_examples=option("kener_max_examples"),
    )


def group_of(item) -> str:
    marker = item.get_closest_marker("group")
    return marker.args[0] if marker else "other"


def operations_of(item) -> tuple[str, ...]:
    marker = item.get_closest_marker("operation")
    return tuple(marker.args) if marker else ("-",)


def rule_key(item) -> str:
    """`module:function` (or `module:Class.function`), as `conformance/rules.py` names tests."""
    name = getattr(item, "originalname", item.name)
    if item.cls is not None:
        name = f"{item.cls.__name__}.{name}"
    return f"{item.module.__name__.rsplit('.', 1)[-1]}:{name}"


def rule_of(item) -> Rule:
    return item.stash[RULE]


def pytest_collection_modifyitems(config, items):
    only = {group.strip() for group in config.getoption("kener_only").split(",") if group.strip()}
    unknown = only - set(GROUPS)
    if unknown:
        raise pytest.UsageError(f"unknown group(s) {', '.join(sorted(unknown))}; known: {GROUPS}")
    profile = config.getoption("kener_profile")
    without_incidents = "incidents" in config.getoption("kener_without")
    selected, deselected = [], []
    for item in items:
        rule = BY_TEST.get(rule_key(item))
        if rule is None:  # tests/test_conformance_rules.py keeps every test in the catalogue
            rule = Rule(f"UNLISTED:{rule_key(item)}", rule_key(item), item.name, "-")
        item.stash[RULE] = rule
        if (only and group_of(item) not in only) or profile not in rule.profiles:
            deselected.append(item)
            continue
        selected.append(item)
        if without_incidents and (
            group_of(item) == "incidents" or set(operations_of(item)) & INCIDENT_OPERATIONS
        ):
            item.add_marker(
                pytest.mark.skip(reason="the target has no incident store (--without incidents)")
            )
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.fixture(autouse=True)
def _record_exchanges(request):
    request.node.stash[EXCHANGES] = []


class Report:
    """Collects each test's outcome for its rule, and writes the verdict at the end."""

    def __init__(self, config) -> None:
        self.config = config
        self.started = time.time()
        option = config.getoption
        self.verdict = Verdict(
            target=option("kener_base_url"),
            profile=option("kener_profile"),
            spec_path=PROFILES[option("kener_profile")],
        )

    def pytest_report_teststatus(self, report, config):
        # The suite prints its own summary: no progress letters, and with -v one word each.
        if report.when == "call" or (report.when == "setup" and not report.passed):
            word = "BLOCKED" if self.verdict.is_blocked(report) else report.outcome.upper()
            return report.outcome, "", word
        return None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if report.when == "call" or not report.passed:
            message = _message(call.excinfo) if call.excinfo else report.longreprtext
            if report.skipped and call.excinfo is None:
                message = report.longrepr[2] if isinstance(report.longrepr, tuple) else message
            exchanges = item.stash.get(EXCHANGES, [])
            self.verdict.record(
                rule_of(item),
                test=item.name,
                operations=operations_of(item),
                report=report,
                message=message,
                exchange=exchanges[-1] if exchanges else None,
            )

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session):
        # A blocked rule was not judged: the run did not pass (pytest saw only skips).
        if session.exitstatus == pytest.ExitCode.OK and self.verdict.rule_totals()["blocked"]:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        config = self.config
        self.verdict.seconds = time.time() - self.started
        self.verdict.generated = dict(config.stash[SCHEMA_CASES])
        self.verdict.generation_notes = dict(config.stash[SCHEMA_NOTES])
        self.verdict.causes = dict(config.stash[PRECONDITIONS].causes)
        details = config.getoption("kener_details")
        for line in self.verdict.summary(details=details):
            terminalreporter.write_line(line)
        written = []
        for option, write in (
            ("kener_report", self.verdict.write_markdown),
            ("kener_json", self.verdict.write_json),
            ("kener_badge", self.verdict.write_badge),
        ):
            path = config.getoption(option)
            if path:
                write(path)
                written.append(path)
        if written:
            terminalreporter.write_line(f"written: {', '.join(written)}")


def _message(excinfo) -> str:
    """A failure's message: an assertion's own text; for anything else its kind too (a
    KeyError on an answer is a field the answer lacks)."""
    error = excinfo.value
    if isinstance(error, AssertionError | pytest.skip.Exception | pytest.fail.Exception):
        return str(error)
    if isinstance(error, KeyError):
        return f"the answer has no field {error}"
    return f"{error.__class__.__name__}: {error}"
