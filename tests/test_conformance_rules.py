"""The suite's catalogue of rules (conformance/rules.py) stays whole and in step: every test
of the suite has exactly one rule and every rule a test, identifiers are well formed and
unique, and the checked-in conformance/RULES.md is what `kener-conformance --list --markdown`
prints."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import catalogue
from conformance.rules import BY_ID, BY_TEST, RULES

ROOT = Path(__file__).resolve().parents[1]
PREFIX = {
    "test_monitors": "MON",
    "test_incidents": "INC",
    "test_auth": "AUTH",
    "test_errors": "ERR",
    "test_http": "HTTP",
    "test_schema": "SCHEMA",
}


def collected(profile: str) -> set[str]:
    """The suite's tests in `profile`, as rule keys (`module:function`), collected by pytest
    with the suite's own plugin (no target is contacted at collection)."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(ROOT / "conformance/suite"),
            "-c",
            str(ROOT / "conformance/pytest.ini"),
            "--rootdir",
            str(ROOT / "conformance"),
            "--collect-only",
            "-q",
            "--kener-base-url",
            "http://127.0.0.1:9",
            "--kener-token",
            "unused",
            "--kener-profile",
            profile,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    keys = set()
    for line in completed.stdout.splitlines():
        found = re.match(r"(?:\S*/)?(test_\w+)\.py::(\w+)", line)
        if found:
            keys.add(f"{found.group(1)}:{found.group(2)}")
    return keys


@pytest.fixture(scope="module")
def strict_tests() -> set[str]:
    return collected("strict")


def test_every_test_has_a_rule_and_every_rule_a_test(strict_tests):
    assert len(strict_tests) > 50
    assert strict_tests - set(BY_TEST) == set(), "tests without a rule in conformance/rules.py"
    assert set(BY_TEST) - strict_tests == set(), "rules whose test does not exist"


def test_the_kener_profile_collects_exactly_its_rules():
    expected = {rule.test for rule in RULES if "kener-2.0" in rule.profiles}
    assert collected("kener-2.0") == expected


def test_identifiers_are_unique_well_formed_and_name_their_group():
    assert len(BY_ID) == len(RULES) == len(BY_TEST)
    for rule in RULES:
        module = rule.test.split(":")[0]
        assert re.fullmatch(rf"KENER-{PREFIX[module]}-[0-9]{{3}}", rule.id), rule
        assert rule.statement and "\n" not in rule.statement and len(rule.statement) <= 120, rule
        assert rule.source, rule
        if rule.strict_only is not None:
            assert rule.strict_only.strip() and "\n" not in rule.strict_only, rule


def test_rules_md_is_the_generated_catalogue():
    checked_in = (ROOT / "conformance/RULES.md").read_text(encoding="utf-8")
    assert checked_in == catalogue.markdown(), (
        "conformance/RULES.md is out of date: python -m conformance.cli --list --markdown "
        "> conformance/RULES.md"
    )


def test_list_prints_every_rule_without_a_target():
    completed = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "--list"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    listed = re.findall(r"^(KENER-[A-Z]+-[0-9]{3}) ", completed.stdout, re.MULTILINE)
    assert listed == [rule.id for rule in RULES]
