"""`kener-conformance`: run the suite against a Kener API server and report.

Exit status: 0 every judged rule passed, 1 a rule failed or was blocked, 2 a usage error, or
a target that cannot be tested: unreachable, refusing the token, or not knowing a tag given
(checked before any test).
"""

import argparse
import sys
from pathlib import Path

import httpx
import pytest

from conformance import __version__, catalogue
from conformance.config import GROUPS, PROFILES
from conformance.preconditions import WITHOUT

HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="kener-conformance",
        description="Judge a Kener status-page API implementation by its URL.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--list",
        action="store_true",
        help="print the catalogue of rules (identifier, profiles, statement, source) and stop",
    )
    parser.add_argument(
        "--markdown", action="store_true", help="with --list: as Markdown (conformance/RULES.md)"
    )
    parser.add_argument("--base-url", help="the target, e.g. http://127.0.0.1:8080")
    parser.add_argument("--token", help="a bearer token the target accepts")
    parser.add_argument(
        "--tags",
        default="earth,google",
        help="comma-separated monitor tags the target knows (default earth,google)",
    )
    parser.add_argument(
        "--degraded-tag",
        default=None,
        help="a known tag whose monitor has includeDegradedInDowntime: true",
    )
    parser.add_argument(
        "--profile",
        default="strict",
        choices=sorted(PROFILES),
        help="kener-2.0: what Kener 2.0 promised; strict (default): the refined "
        "contract and every reference rule",
    )
    parser.add_argument("--only", default="", help=f"comma-separated groups: {', '.join(GROUPS)}")
    parser.add_argument(
        "--without",
        default="",
        help="what the target does not have: 'incidents' (no incident store): the rules that "
        "need it are skipped, saying so",
    )
    parser.add_argument(
        "--max-examples",
        type=int,
        default=25,
        help="generated cases per operation and phase in the schema group",
    )
    parser.add_argument("--junit-xml", default=None, help="write JUnit XML here")
    parser.add_argument("--report", default=None, help="write the report as Markdown here")
    parser.add_argument(
        "--json", default=None, help="write the verdict as JSON here (per rule: outcome, curl)"
    )
    parser.add_argument(
        "--badge", default=None, help="write a shields.io endpoint badge (JSON) here"
    )
    parser.add_argument("-k", dest="keyword", default=None, help="only tests matching (pytest -k)")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="every test, every rule and messages in full"
    )
    args = parser.parse_args(argv)
    if args.list:
        return args
    for needed in ("base_url", "token"):
        if not getattr(args, needed):
            parser.error(f"--{needed.replace('_', '-')} is needed (or --list)")
    without = {name.strip() for name in args.without.split(",") if name.strip()}
    if without - set(WITHOUT):
        parser.error(f"--without knows only: {', '.join(sorted(WITHOUT))}")
    tags = [tag.strip() for tag in args.tags.split(",") if tag.strip()]
    if not tags:
        parser.error("--tags needs at least one monitor tag")
    args.tag_list = tags
    if args.degraded_tag and args.degraded_tag not in tags:
        parser.error(f"--degraded-tag {args.degraded_tag!r} is not among --tags")
    unknown = {g.strip() for g in args.only.split(",") if g.strip()} - set(GROUPS)
    if unknown:
        parser.error(f"unknown group(s) for --only: {', '.join(sorted(unknown))}")
    if args.max_examples < 1:
        parser.error("--max-examples must be at least 1")
    return args


def preflight(base_url: str, token: str, tags: list[str]) -> str | None:
    """Why the target cannot be tested, in one line, or None: it does not answer, it refuses
    the token, or it does not know one of the tags. Checked before any test, so that a wrong
    setting is one line rather than hundreds of failures. Only those answers count against
    the target here; any other is left for the tests to judge."""
    url = base_url.rstrip("/") + "/api/status"
    try:
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
            for tag in tags:
                answer = client.get(url, params={"tag": tag})
                if answer.status_code in (401, 403):
                    return (
                        f"{base_url} refuses the --token given ({answer.status_code} on GET "
                        f"/api/status?tag={tag}: {_error_text(answer)})"
                    )
                if answer.status_code in (400, 404):
                    return (
                        f"{base_url} does not know the monitor tag {tag!r} given in --tags "
                        f"({answer.status_code}: {_error_text(answer)})"
                    )
    except httpx.InvalidURL as error:
        return f"invalid --base-url {base_url!r}: {error}"
    except httpx.UnsupportedProtocol:
        return f"invalid --base-url {base_url!r}: use http:// or https://"
    except httpx.HTTPError as error:
        return f"cannot reach {base_url}: {error.__class__.__name__}: {error}"
    return None


def _error_text(answer: httpx.Response) -> str:
    try:
        message = answer.json().get("error")
    except (ValueError, AttributeError):
        message = None
    text = message if isinstance(message, str) else answer.text
    return " ".join(text.split())[:200] or "no body"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        print(catalogue.markdown() if args.markdown else catalogue.text(), end="")
        return 0
    problem = preflight(args.base_url, args.token, args.tag_list)
    if problem:
        print(f"kener-conformance: {problem}", file=sys.stderr)
        return 2
    pytest_args = [
        str(HERE / "suite"),
        "-c",
        str(HERE / "pytest.ini"),
        "--rootdir",
        str(HERE),
        "--kener-base-url",
        args.base_url,
        "--kener-token",
        args.token,
        "--kener-tags",
        args.tags,
        "--kener-profile",
        args.profile,
        "--kener-only",
        args.only,
        "--kener-without",
        args.without,
        "--kener-max-examples",
        str(args.max_examples),
        # The suite prints its own summary (conformance/verdict.py): pytest stays quiet.
        "-v" if args.verbose else "-qq",
        "--tb=no",
        "-rN",
        "-o",
        "console_output_style=classic",
        "-p",
        "no:warnings",
    ]
    if args.verbose:
        pytest_args.append("--kener-details")
    if args.degraded_tag:
        pytest_args += ["--kener-degraded-tag", args.degraded_tag]
    for option, value in (
        ("--kener-report", args.report),
        ("--kener-json", args.json),
        ("--kener-badge", args.badge),
    ):
        if value:
            pytest_args += [option, value]
    if args.junit_xml:
        pytest_args += ["--junit-xml", args.junit_xml]
    if args.keyword:
        pytest_args += ["-k", args.keyword]
    status = pytest.main(pytest_args)
    if status == pytest.ExitCode.OK:
        return 0
    if status == pytest.ExitCode.TESTS_FAILED:
        return 1
    if status == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("kener-conformance: no test selected", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
