"""The verdict of a run: each rule's outcome from its tests' outcomes, written for people (a
terminal summary that fits a screen, a Markdown report of bounded size) and for machines (JSON,
and a shields.io endpoint badge).

A rule has failed when one of its tests failed; else it is blocked when one was blocked (a
precondition it needs failed: `conformance/preconditions.py`); else it has passed when one
passed; else it was skipped (nothing of it could be judged on this target, e.g. a
`--degraded-tag` it needs was not given).
"""

import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from conformance import __version__
from conformance.preconditions import BLOCKED
from conformance.rules import RULES, Rule

OUTCOMES = ("passed", "failed", "blocked", "skipped")
MESSAGE_WIDTH = 160  # a failing rule's line in the terminal summary
REPORT_MESSAGE = 1200  # characters of a failure message in the Markdown report
REPORT_BODY = 400  # characters of each body of the exchange shown in the Markdown report
_CURL = re.compile(r"^\s*(curl .+)$", re.MULTILINE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # but tab and line feed


@dataclass
class Result:
    test: str
    outcome: str
    message: str = ""
    exchange: object = None  # conformance.client.Exchange of the failing request, if any
    operations: tuple[str, ...] = ()

    def cause(self) -> str:
        """What two rules' failures must share to be reported on one line: the same message,
        numbers and the test's parameter aside (the same answer to different requests may
        have different causes, so answers alone are not compared)."""
        return re.sub(r"[0-9]+", "#", one_line(self.message))


@dataclass
class RuleVerdict:
    rule: Rule
    operations: list[str] = field(default_factory=list)
    results: dict[str, Result] = field(default_factory=dict)  # test name -> its result

    @property
    def counts(self) -> Counter:
        return Counter(result.outcome for result in self.results.values())

    @property
    def outcome(self) -> str:
        counts = self.counts
        for outcome in ("failed", "blocked", "passed"):
            if counts[outcome]:
                return outcome
        return "skipped"

    def first(self, outcome: str) -> Result | None:
        return next((r for r in self.results.values() if r.outcome == outcome), None)

    @property
    def message(self) -> str:
        """The first failing (or blocked, or skipped) test's message, in one line, with the
        test's parameter when the rule has several tests."""
        result = self.first(self.outcome) if self.outcome != "passed" else None
        if result is None:
            return ""
        line = one_line(result.message)
        parameter = result.test.partition("[")[2][:-1]  # "test_x[createIncident]" -> its id
        if len(self.results) > 1 and parameter and parameter not in line:
            line = f"[{parameter}] {line}"
        return line

    def reproduce(self) -> str | None:
        """A command that resends the first failing test's failing request."""
        result = self.first("failed")
        if result is None:
            return None
        found = _CURL.search(result.message)  # Schemathesis' reports carry one
        if found:
            return found.group(1).strip()
        return result.exchange.curl() if result.exchange is not None else None


def one_line(message: str) -> str:
    """The first line that says something, without pytest's and Python's prefixes; for a
    Schemathesis report, the checks that failed and what was received."""
    if message.lstrip().startswith("Schemathesis found"):
        checks = re.findall(r"^- (?:[A-Z]+[0-9]+ )?(.+)$", message, re.MULTILINE)
        received = re.search(r"^\s*(?:Received|\[([0-9]{3})\]).*$", message, re.MULTILINE)
        found = "; ".join(dict.fromkeys(checks)) or "failures"
        seen = f" ({received.group(0).strip()})" if received else ""
        return f"Schemathesis: {found}{seen}"
    for line in message.splitlines():
        line = line.strip()
        for prefix in ("Skipped: ", "AssertionError: ", "Failed: ", "E "):
            line = line.removeprefix(prefix)
        if line and line not in ("-", "=") and not set(line) <= set("-=_ "):
            return line
    return "no message"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Verdict:
    def __init__(self, target: str, profile: str, spec_path: Path) -> None:
        self.target, self.profile, self.spec_path = target, profile, spec_path
        self.rules: dict[str, RuleVerdict] = {}
        self.seconds = 0.0
        self.generated: dict[str, Counter] = {}
        self.generation_notes: dict[str, str] = {}
        self.causes: dict[str, str] = {}

    # --- collecting ---------------------------------------------------------------------

    @staticmethod
    def is_blocked(report) -> bool:
        return report.skipped and BLOCKED in _skip_reason(report)

    def record(self, rule: Rule, test: str, operations, report, message: str, exchange) -> None:
        if report.passed:
            outcome = "passed"
        elif report.failed:
            outcome = "failed"
            if report.when != "call":
                message = f"error in {report.when}: {message}"
        else:
            outcome = "blocked" if self.is_blocked(report) else "skipped"
            message = _skip_reason(report)
        verdict = self.rules.setdefault(rule.id, RuleVerdict(rule))
        for operation in operations:
            if operation != "-" and operation not in verdict.operations:
                verdict.operations.append(operation)
        earlier = verdict.results.get(test)
        if earlier is None or earlier.outcome == "passed":  # a failed teardown overrides
            verdict.results[test] = Result(test, outcome, message, exchange, tuple(operations))

    # --- figures --------------------------------------------------------------------------

    def ordered(self) -> list[RuleVerdict]:
        order = {rule.id: index for index, rule in enumerate(RULES)}
        return sorted(self.rules.values(), key=lambda verdict: order.get(verdict.rule.id, 0))

    def rule_totals(self) -> Counter:
        return Counter(verdict.outcome for verdict in self.rules.values())

    def test_totals(self) -> Counter:
        totals = Counter()
        for verdict in self.rules.values():
            totals.update(verdict.counts)
        return totals

    def errors(self) -> int:
        """Failures outside a test's own checks (its set-up or tear-down raised, other than
        a precondition): a suite bug or a target the suite could not handle."""
        return sum(
            result.message.startswith("error in ")
            for verdict in self.rules.values()
            for result in verdict.results.values()
            if result.outcome == "failed"
        )

    def score(self) -> tuple[int, int]:
        """(rules passed, rules judged): skipped rules are not judged; blocked ones are."""
        totals = self.rule_totals()
        return totals["passed"], sum(totals.values()) - totals["skipped"]

    def blocked_by(self) -> dict[str, list[RuleVerdict]]:
        """Each precondition's cause -> the rules it blocked."""
        found = defaultdict(list)
        for verdict in self.ordered():
            result = verdict.first("blocked")
            if result is not None and verdict.outcome == "blocked":
                found[result.message.split(BLOCKED, 1)[-1]].append(verdict)
        return found

    def spec_sha256(self) -> str:
        return hashlib.sha256(self.spec_path.read_bytes()).hexdigest()

    # --- for people -----------------------------------------------------------------------

    def summary(self, details: bool = False) -> list[str]:
        rules, tests = self.rule_totals(), self.test_totals()

        def figures(totals: Counter) -> str:
            return ", ".join(f"{totals[o]} {o}" for o in OUTCOMES if totals[o] or o != "blocked")

        passed, judged = self.score()
        lines = [
            "",
            f"Kener API conformance {__version__}, profile {self.profile}, {self.target}, "
            f"{self.seconds:.0f} s: {passed}/{judged} rules passed",
            f"{sum(rules.values())} rules: {figures(rules)}  "
            f"({sum(tests.values())} tests: {figures(tests)})",
        ]
        if self.errors():
            lines.append(f"ERRORS {self.errors()} tests failed in their set-up or tear-down")
        for cause, verdicts in self.blocked_by().items():
            lines.append(f"BLOCKED {len(verdicts)} rules by {_clip(cause, MESSAGE_WIDTH)}")
        skipped = defaultdict(list)
        for verdict in self.ordered():
            if verdict.outcome == "skipped":
                skipped[verdict.message].append(verdict.rule.id)
        for reason, ids in skipped.items():
            lines.append(f"SKIPPED {_ids(ids)}: {_clip(reason, MESSAGE_WIDTH)}")
        for operation, note in sorted(self.generation_notes.items()):
            lines.append(f"NOTE schema {operation}: {_clip(note, MESSAGE_WIDTH)}")
        # One line per cause: rules whose first failure got the same answer share one.
        failing = defaultdict(list)
        for verdict in self.ordered():
            if verdict.outcome == "failed":
                failing[verdict.first("failed").cause()].append(verdict)
        for verdicts in failing.values():
            first = verdicts[0]
            operations = ", ".join(first.first("failed").operations) or "-"
            lines.append(
                f"FAILED {_ids([v.rule.id for v in verdicts])} {operations}: "
                f"{_clip(first.message, MESSAGE_WIDTH)}"
            )
        if details:
            lines += ["", "Every rule:"]
            for verdict in self.ordered():
                lines.append(
                    f"{verdict.outcome.upper():8} {verdict.rule.id} {verdict.rule.statement}"
                )
                for result in verdict.results.values():
                    if result.outcome == "failed":
                        lines.append(f"    {result.test}:")
                        lines += [f"      {line}" for line in result.message.splitlines()[:20]]
        elif failing:
            lines.append("(-v for every rule and the failing tests' messages in full)")
        return [_printable(line) for line in lines]

    def markdown(self) -> str:
        rules, tests = self.rule_totals(), self.test_totals()
        passed, judged = self.score()
        out = [
            "## Kener API conformance",
            "",
            f"Suite {__version__}, profile `{self.profile}`, target `{self.target}`, spec "
            f"`{self.spec_path.name}` (sha256 `{self.spec_sha256()[:16]}`), {self.seconds:.0f} s.",
            "",
            f"**{passed}/{judged} rules passed.** Rules: "
            + ", ".join(f"{rules[o]} {o}" for o in OUTCOMES)
            + ". Tests: "
            + ", ".join(f"{tests[o]} {o}" for o in OUTCOMES)
            + ".",
            "",
            "| rule | statement | operations | outcome |",
            "|---|---|---|---|",
        ]
        for verdict in self.ordered():
            out.append(
                f"| {verdict.rule.id} | {_cell(verdict.rule.statement)} | "
                f"{', '.join(verdict.operations) or '-'} | {verdict.outcome} |"
            )
        blocked = self.blocked_by()
        if blocked:
            out += ["", "### Blocked", ""]
            for cause, verdicts in blocked.items():
                out.append(f"- {_cell(cause)}: {_ids([v.rule.id for v in verdicts])}")
        if self.generated:
            out += ["", "### Generated cases (schema group)", ""]
            out += [
                "| operation | cases | answered 2xx | share 2xx | note |",
                "|---|---|---|---|---|",
            ]
            for operation, counts in sorted(self.generated.items()):
                total = sum(counts.values())
                ok = counts.get("2xx", 0)
                share = f"{ok / total:.0%}" if total else "-"
                note = _cell(self.generation_notes.get(operation, ""))
                out.append(f"| {operation} | {total} | {ok} | {share} | {note} |")
        failed = [verdict for verdict in self.ordered() if verdict.outcome == "failed"]
        if failed:
            out += ["", "### Failures (the first failing test of each rule)", ""]
            for verdict in failed:
                result = verdict.first("failed")
                out += [
                    f"#### {verdict.rule.id}: {verdict.rule.statement}",
                    "",
                    f"Source: {verdict.rule.source}. Test `{result.test}`.",
                    "",
                    "```",
                    _clip(result.message.strip(), REPORT_MESSAGE),
                    "```",
                ]
                if result.exchange is not None and "HTTP/1.1" not in result.message:
                    out += ["", "```http", result.exchange.describe(REPORT_BODY), "```"]
                command = verdict.reproduce()
                if command:
                    out += ["", "```sh", command, "```"]
                out.append("")
        return "\n".join(out) + "\n"

    def write_markdown(self, path: str) -> None:
        Path(path).write_text(_printable(self.markdown()), encoding="utf-8")

    # --- for machines ---------------------------------------------------------------------

    def as_json(self) -> dict:
        passed, judged = self.score()
        return {
            "suite": {"name": "kener-conformance", "version": __version__},
            "spec": {"file": self.spec_path.name, "sha256": self.spec_sha256()},
            "target": self.target,
            "profile": self.profile,
            "seconds": round(self.seconds, 1),
            "score": {"passed": passed, "judged": judged},
            "totals": {
                "rules": _totals(self.rule_totals()),
                "tests": {**_totals(self.test_totals()), "errors": self.errors()},
            },
            "blocked": [
                {"cause": cause, "rules": [v.rule.id for v in verdicts]}
                for cause, verdicts in self.blocked_by().items()
            ],
            "rules": [
                {
                    "id": verdict.rule.id,
                    "statement": verdict.rule.statement,
                    "source": verdict.rule.source,
                    "profiles": list(verdict.rule.profiles),
                    "outcome": verdict.outcome,
                    "operations": verdict.operations,
                    "tests": _totals(verdict.counts),
                    "message": verdict.message or None,
                    "reproduce": verdict.reproduce(),
                }
                for verdict in self.ordered()
            ],
            "generated": [
                {
                    "operation": operation,
                    "cases": sum(counts.values()),
                    "answered_2xx": counts.get("2xx", 0),
                    "answers": dict(sorted(counts.items())),
                    "note": self.generation_notes.get(operation),
                }
                for operation, counts in sorted(self.generated.items())
            ],
        }

    def write_json(self, path: str) -> None:
        Path(path).write_text(json.dumps(self.as_json(), indent=2) + "\n", encoding="utf-8")

    def badge(self) -> dict:
        """A shields.io endpoint badge: https://shields.io/badges/endpoint-badge"""
        passed, judged = self.score()
        share = passed / judged if judged else 0
        if judged and passed == judged:
            color = "brightgreen"
        else:
            color = "yellow" if share >= 0.9 else "red"
        return {
            "schemaVersion": 1,
            "label": self.profile,
            "message": f"{passed}/{judged}",
            "color": color,
        }

    def write_badge(self, path: str) -> None:
        Path(path).write_text(json.dumps(self.badge()) + "\n", encoding="utf-8")


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr or "")
    return text.removeprefix("Skipped: ")


def _totals(counts: Counter) -> dict:
    return {outcome: counts[outcome] for outcome in OUTCOMES}


def _ids(ids: list[str], shown: int = 6) -> str:
    listed = ", ".join(ids[:shown])
    return listed if len(ids) <= shown else f"{listed} and {len(ids) - shown} more"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _printable(text: str) -> str:
    """Control characters a target sent (NUL, ESC, ...) written as escapes: the report stays
    text for every viewer and terminal."""
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)
