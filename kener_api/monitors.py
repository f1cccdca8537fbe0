"""Reading the monitors from a Kener `monitors.yaml`."""

from pathlib import Path

from kener_api.yaml_file import read_yaml
from storage import Monitor


class MonitorsFileError(Exception):
    """The monitors file cannot be used; the message names the file and the problem."""


def load_monitors(path: Path) -> list[Monitor]:
    """The monitors listed in `path`: a YAML list of mappings, each with a unique `tag`."""

    def fail(problem: str):
        raise MonitorsFileError(f"{path}: {problem}")

    entries = read_yaml(path, fail)
    if not isinstance(entries, list) or not entries:
        fail("must be a non-empty list of monitors")
    monitors: dict[str, Monitor] = {}
    for position, entry in enumerate(entries, start=1):
        where = f"monitor #{position}"
        if not isinstance(entry, dict):
            fail(f"{where} must be a mapping, got {entry!r}")
        tag = entry.get("tag")
        if not isinstance(tag, str) or not tag.strip():
            fail(f"{where} has no tag (a non-empty string is required)")
        if tag in monitors:
            fail(f"{where}: duplicate tag {tag!r}")
        name = entry.get("name", tag)
        description = entry.get("description") or ""
        degraded_is_down = entry.get("includeDegradedInDowntime", False)
        if not isinstance(name, str):
            fail(f"{where} ({tag}): name must be a string, got {name!r}")
        if not isinstance(description, str):
            fail(f"{where} ({tag}): description must be a string, got {description!r}")
        if not isinstance(degraded_is_down, bool):
            fail(
                f"{where} ({tag}): includeDegradedInDowntime must be true or false, "
                f"got {degraded_is_down!r}"
            )
        hidden = entry.get("hidden", False)
        if not isinstance(hidden, bool):
            fail(f"{where} ({tag}): hidden must be true or false, got {hidden!r}")
        minimums = {}
        for key in ("dayDownMinimumCount", "dayDegradedMinimumCount"):
            value = entry.get(key, 1)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                fail(f"{where} ({tag}): {key} must be a whole number of at least 1, got {value!r}")
            minimums[key] = value
        monitors[tag] = Monitor(
            tag,
            name,
            description,
            degraded_is_down,
            hidden=hidden,
            day_down_minimum_count=minimums["dayDownMinimumCount"],
            day_degraded_minimum_count=minimums["dayDegradedMinimumCount"],
        )
    return list(monitors.values())
