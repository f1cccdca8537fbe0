"""The pytest plugin behind `kener-conformance`: target options, profiles, groups, and the
report (group and operation against pass/fail, the first failure's exchange, and for the
property-based group how many generated cases were answered 2xx)."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conformance.config import GROUPS, PROFILES, Target

EXCHANGES = pytest.StashKey[list]()  # every HTTP exchange a test made, in order
SCHEMA_CASES = pytest.StashKey[dict]()  # operationId -> Counter of answers ("2xx", "400", ...)


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
    group.addoption("--kener-max-examples", type=int, default=25)
    group.addoption("--kener-report", default=None, help="write the report as Markdown here")


def pytest_configure(config):
    config.addinivalue_line("markers", "group(name): the test group (monitors, incidents, ...)")
    config.addinivalue_line("markers", "operation(*ids): the operationIds a test judges")
    config.addinivalue_line(
        "markers", "strict: a rule of the refined contract, not promised by Kener 2.0"
    )
    config.stash[SCHEMA_CASES] = defaultdict(Counter)
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


def pytest_collection_modifyitems(config, items):
    only = {group.strip() for group in config.getoption("kener_only").split(",") if group.strip()}
    unknown = only - set(GROUPS)
    if unknown:
        raise pytest.UsageError(f"unknown group(s) {', '.join(sorted(unknown))}; known: {GROUPS}")
    strict = config.getoption("kener_profile") == "strict"
    selected, deselected = [], []
    for item in items:
        if only and group_of(item) not in only:
            deselected.append(item)
        elif not strict and item.get_closest_marker("strict"):
            deselected.append(item)  # the kener-2.0 profile judges only what Kener promised
        else:
            selected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.fixture(autouse=True)
def _record_exchanges(request):
    request.node.stash[EXCHANGES] = []


@dataclass
class Row:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list = field(default_factory=list)  # (test name, exchange or None, message)


class Report:
    def __init__(self, config) -> None:
        self.config = config
        self.rows: dict[tuple[str, str], Row] = defaultdict(Row)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if report.when == "call" or (report.when == "setup" and not report.passed):
            row = self.rows[(group_of(item), ", ".join(operations_of(item)))]
            if report.passed:
                row.passed += 1
            elif report.skipped:
                row.skipped += 1
            else:
                exchanges = item.stash.get(EXCHANGES, [])
                message = str(call.excinfo.value) if call.excinfo else report.longreprtext
                row.failed += 1
                row.failures.append((item.nodeid, exchanges[-1] if exchanges else None, message))

    def lines(self) -> list[str]:
        out = ["## Kener API conformance", ""]
        option = self.config.getoption
        out.append(f"Target `{option('kener_base_url')}`, profile `{option('kener_profile')}`.")
        out += ["", "| group | operation | passed | failed | skipped |", "|---|---|---|---|---|"]
        for (group, operation), row in sorted(self.rows.items()):
            out.append(f"| {group} | {operation} | {row.passed} | {row.failed} | {row.skipped} |")
        cases = self.config.stash[SCHEMA_CASES]
        if cases:
            out += ["", "### Generated cases (schema group)", ""]
            out += ["| operation | cases | answered 2xx | share 2xx |", "|---|---|---|---|"]
            for operation, counts in sorted(cases.items()):
                total = sum(counts.values())
                ok = counts.get("2xx", 0)
                out.append(f"| {operation} | {total} | {ok} | {ok / total:.0%} |")
        failures = [f for row in self.rows.values() for f in row.failures]
        if failures:
            out += ["", "### Failures (first failing exchange of each test)", ""]
            for name, exchange, message in failures:
                out += [f"#### `{name}`", "", "```", message.strip()[:2000], "```"]
                if exchange is not None:
                    out += ["", "```http", exchange.describe(), "```"]
                out.append("")
        return out

    def pytest_terminal_summary(self, terminalreporter):
        terminalreporter.write_line("")
        for line in self.lines():
            terminalreporter.write_line(line)
        path = self.config.getoption("kener_report")
        if path:
            Path(path).write_text("\n".join(self.lines()) + "\n", encoding="utf-8")
            terminalreporter.write_line(f"report written to {path}")
