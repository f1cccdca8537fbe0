"""Keeping the database: retention of minute data, and online backups."""

import os
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

from storage.database import Statement, reads, writes
from storage.status import DAY

# Rows deleted per transaction: the write lock is never held for long.
PRUNE_BATCH = 10_000


def prune_points(before: int) -> int:
    """Delete the data points of every tag (configured or not) older than `before` (UTC
    seconds), in small transactions; answer how many were deleted. Incidents are kept."""
    deleted = 0
    tag = _first_tag()
    while tag is not None:
        while (removed := _prune_batch(tag, before)) == PRUNE_BATCH:
            deleted += removed
        deleted += removed
        tag = _next_tag(tag)
    _forget_days_before(before)
    return deleted


@reads
def _first_tag() -> str | None:
    row = _FIRST_TAG.execute().fetchone()
    return row[0] if row else None


@reads
def _next_tag(tag: str) -> str | None:
    row = _NEXT_TAG.execute(tag).fetchone()
    return row[0] if row else None


@writes
def _prune_batch(tag: str, before: int) -> int:
    last = _NTH_OLD_POINT.execute(tag, before, PRUNE_BATCH - 1).fetchone()
    if last is None:  # fewer than a batch left
        return _DELETE_BEFORE.execute(tag, before).rowcount
    return _DELETE_UP_TO.execute(tag, last[0]).rowcount


@writes
def _forget_days_before(before: int) -> None:
    # The summaries of days that ended before `before` count nothing now: drop them.
    _DELETE_DAYS.execute(before - DAY)


# Each answered from the (tag, minute) primary key's index: one seek per tag, not a scan.
_FIRST_TAG = Statement("SELECT tag FROM data_point ORDER BY tag LIMIT 1")
_NEXT_TAG = Statement("SELECT tag FROM data_point WHERE tag > {p} ORDER BY tag LIMIT 1")
_NTH_OLD_POINT = Statement(
    "SELECT minute FROM data_point WHERE tag = {p} AND minute < {p} "
    "ORDER BY minute LIMIT 1 OFFSET {p}"
)
_DELETE_BEFORE = Statement("DELETE FROM data_point WHERE tag = {p} AND minute < {p}")
_DELETE_UP_TO = Statement("DELETE FROM data_point WHERE tag = {p} AND minute <= {p}")
_DELETE_DAYS = Statement("DELETE FROM day_summary WHERE day <= {p}")


class BackupError(Exception):
    """A backup that could not be made; the message says why."""


def backup(url: str, target: Path) -> None:
    """Write a consistent copy of the database at `url` to `target`, while it is in use.

    SQLite: SQLite's online backup into a new database file, checked with integrity_check.
    PostgreSQL: `pg_dump --format=custom` (one snapshot), restored with `pg_restore`.
    """
    if target.exists():
        raise BackupError(f"{target} exists already: choose a new file")
    if not target.parent.is_dir():
        raise BackupError(f"cannot write {target}: the folder {target.parent} does not exist")
    if not os.access(target.parent, os.W_OK):
        raise BackupError(f"cannot write {target}: no permission to write in {target.parent}")
    partial = target.with_name(target.name + ".partial")
    try:
        if url.startswith("sqlite"):
            _backup_sqlite(url, partial)
        else:
            _backup_postgres(url, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _backup_sqlite(url: str, partial: Path) -> None:
    source_path = urlsplit(url).path[1:]  # as peewee reads it: sqlite:////abs, sqlite:///rel
    if not Path(source_path).exists():
        raise BackupError(f"no database at {source_path}")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    copy = sqlite3.connect(partial)
    try:
        source.backup(copy)
        (check,) = copy.execute("PRAGMA integrity_check").fetchone()
        if check != "ok":
            raise BackupError(f"the copy failed its integrity check: {check}")
    finally:
        copy.close()
        source.close()


def _backup_postgres(url: str, partial: Path) -> None:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    command = ["pg_dump", "--format=custom", f"--file={partial}"]
    # A URL that sets a search_path (options=-csearch_path=NAME) names the schema to copy.
    for option in query.pop("options", []):
        if option.startswith("-csearch_path="):
            command.append(f"--schema={option.split('=', 1)[1]}")
    remaining = "&".join(f"{key}={value}" for key, values in query.items() for value in values)
    command.append(urlunsplit(parts._replace(query=remaining)))
    try:
        done = subprocess.run(command, capture_output=True, text=True)
    except FileNotFoundError:
        raise BackupError(
            "backing up PostgreSQL needs pg_dump (Debian: postgresql-client)"
        ) from None
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
