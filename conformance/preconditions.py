"""Preconditions: set-up steps that many tests share. One verdict per cause: a step that
fails is recorded once, with its cause, and every test that needs it is then reported as
blocked by that cause rather than as failed; a step the target was declared not to have
(`--without incidents`) skips the tests that need it, saying so."""

import httpx
import pytest

INCIDENTS = "creating an incident"  # the step behind every test that works on an incident
BLOCKED = "blocked: "  # how a blocked test's skip reason begins
WITHOUT = {"incidents": INCIDENTS}  # --without NAME -> the step the target does not have


class Preconditions:
    def __init__(self, without: frozenset[str] = frozenset()) -> None:
        self.absent = {WITHOUT[name] for name in without}
        self.causes: dict[str, str] = {}  # step -> why it failed
        self.kept: dict[str, object] = {}  # name -> a value made once for the run

    def need(self, step: str) -> None:
        """Skip the running test if the target was declared not to have `step`."""
        if step in self.absent:
            pytest.skip(f"the target has no incident store (--without incidents): {step}")

    def run(self, step: str, make, keep: str | None = None, variant: str = ""):
        """make()'s value, or the running test blocked if `make` fails. With `keep`, the value
        is made once and kept under that name for the run. A `variant` of the step (which
        fields an incident is created with, say) fails on its own: a target that cannot
        create an incident without a body still has the set-ups that send one."""
        self.need(step)
        key = f"{step} {variant}".strip()
        if key in self.causes:
            pytest.skip(BLOCKED + self.causes[key])
        if keep is not None and keep in self.kept:
            return self.kept[keep]
        try:
            value = make()
        except (AssertionError, httpx.HTTPError, ValueError) as error:
            self.causes[key] = f"{key}: {first_line(error)}"
            pytest.skip(BLOCKED + self.causes[key])
        if keep is not None:
            self.kept[keep] = value
        return value


def first_line(error: BaseException) -> str:
    text = str(error).strip() or error.__class__.__name__
    return " ".join(text.splitlines()[0].split())[:300]
