"""What generated positive data must respect beyond the schemas: the contract's rules that no
JSON schema states (known tags, timestamps inside the 90-day window and not in the future,
existing incidents, an end after its start, the refined contract's lengths and limits), and
what is known of the target's state. The schema group (conformance/suite/test_schema.py) and
this project's own Schemathesis tests bring every positive case inside them before sending
it, so that a valid request may be required to succeed (2xx)."""

import json
import re
import zlib
from collections.abc import Callable

MINUTE = 60
DAY = 86_400
WINDOW = 90 * DAY  # how far back a data point may be written
INT64 = 2**63 - 1  # the largest integer storage holds (timestamps, incident numbers)
PAGE_MAX = 2**31 - 1
LATENCY_MAX = 10**15
SINCE_LAST = (60, 90 * DAY)  # the uptime badge's window, in seconds
# Under the contract's default limit on a request body (64 KiB), with room to spare: the
# length a text may have is counted in characters, the limit in bytes of escaped JSON.
BODY_BYTES = 60_000
MAX_NESTING = 30  # the contract refuses JSON nested more than 32 deep
# (min, max) characters of texts, as the refined contract bounds them.
TITLE, BODY, COMMENT, TITLE_LIKE, LABEL = (1, 1000), (0, 20_000), (1, 20_000), (0, 200), (1, 100)
MAX_TAGS = 1000
_INTEGER = re.compile(r"-?[0-9]+")


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_of(value) -> int | None:
    """An integer parameter's value: typed, or as text (the coverage phase sends query and
    path values as the text they are sent as)."""
    if is_int(value):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return None


def _like(original, value: int):
    """`value` in the form `original` had (an int, or its text)."""
    return str(value) if isinstance(original, str) else value


def _within(value: int, low: int, high: int) -> int:
    """`value` if it lies in [low, high], else one in there chosen from it."""
    return value if low <= value <= high else low + (value - low) % (high - low + 1)


def _pick(value, choices: tuple):
    """One of `choices`, chosen from `value` (the same value always picks the same)."""
    return choices[zlib.crc32(repr(value).encode()) % len(choices)]


def _unstorable(text: str) -> bool:
    """NUL or an unpaired surrogate: text the refined contract refuses (400)."""
    return "\x00" in text or any(0xD800 <= ord(char) <= 0xDFFF for char in text)


def _storable(text: str) -> str:
    return "".join(c for c in text if c != "\x00" and not 0xD800 <= ord(c) <= 0xDFFF)


class Rules:
    """What the contract says about valid requests beyond the schemas, and what is known of
    the target's state: its monitor tags (those its public pages show), its current minute,
    the incidents that exist (learnt from answers) and their start times."""

    def __init__(
        self,
        tags,
        public_tags,
        now: Callable[[], float],
        strict: bool,
        incidents=(),
    ) -> None:
        self.tags = tuple(tags)
        self.public_tags = tuple(public_tags) or self.tags
        self.now = now  # the target's clock, in seconds
        self.first_minute = int(now()) // MINUTE * MINUTE
        self.strict = strict
        self.seeded: tuple[int, ...] = ()
        self.starts: dict[int, int | None] = {}  # existing incidents -> their startDatetime
        self.seed(incidents)

    def seed(self, incidents) -> None:
        """Incidents known to exist, to name where a positive case names another."""
        self.seeded = tuple(dict.fromkeys([*self.seeded, *incidents]))
        for number in incidents:
            self.starts.setdefault(number, None)

    def record(self, response) -> None:
        """Learn from an answer the incidents it names (they exist) and their start times."""
        if response.status_code != 200:
            return
        try:
            body = response.json()
        except ValueError:  # not JSON: no incident in it
            return
        for item in body if isinstance(body, list) else [body]:
            if isinstance(item, dict) and is_int(item.get("incidentNumber")):
                start = item.get("startDatetime")
                self.starts[item["incidentNumber"]] = start if is_int(start) else None

    # Repair ----------------------------------------------------------------------------------

    def repair(self, case) -> str | None:
        """Bring a positive case inside the rules above, in place. Answers why the contract
        still refuses it (text with NUL, in the strict profile), or None."""
        operation_id = case.operation.definition.raw.get("operationId")
        if isinstance(case.query, dict):
            case.query = self._clean(case.query)
        if isinstance(case.body, dict):
            case.body = self._clean(case.body)
        query = case.query if isinstance(case.query, dict) else {}
        path = case.path_parameters if isinstance(case.path_parameters, dict) else {}
        body = case.body if isinstance(case.body, dict) else None
        if "incidentNumber" in path:
            path["incidentNumber"] = self._incident(path["incidentNumber"])
        repair = getattr(self, f"_{operation_id}", None)
        if repair is not None:
            repair(query, path, body)
        if body is not None:
            self._fit(body)
        unstorable = [
            f"{where} {text[:40]!r}"
            for where, container in (("query", query), ("body", body))
            for text in _texts(container)
            if _unstorable(text)
        ]
        return f"text with NUL or a lone surrogate: {', '.join(unstorable)}" if unstorable else None

    def _clean(self, container: dict) -> dict:
        """What a schema leaves open, inside the contract: nesting no deeper than it takes,
        and in the kener-2.0 profile (which does not judge NUL) texts without NUL or lone
        surrogates. In the strict profile those are kept: the contract refuses them, and
        `repair` says so."""

        def clean(value, depth: int):
            if isinstance(value, str):
                return value if self.strict else _storable(value)
            if isinstance(value, dict | list) and depth > MAX_NESTING:
                return None
            if isinstance(value, dict):
                return {clean(k, depth): clean(v, depth + 1) for k, v in value.items()}
            if isinstance(value, list):
                return [clean(item, depth + 1) for item in value]
            return value

        return clean(container, 1)

    def _updateMonitorStatus(self, query, path, body):
        if body is None:
            return
        if "tag" in body:
            body["tag"] = self._tag(body["tag"])
        latency = body.get("latency")
        if isinstance(latency, int | float) and not isinstance(latency, bool):
            body["latency"] = abs(latency) if abs(latency) <= LATENCY_MAX else LATENCY_MAX / 2
        if "timestampInSeconds" in body:
            body["timestampInSeconds"] = self._timestamp(body["timestampInSeconds"])

    def _getMonitorStatus(self, query, path, body):
        if "tag" in query:
            query["tag"] = self._tag(query["tag"])

    def _createIncident(self, query, path, body):
        if body is None:
            return
        if "title" in body:
            body["title"] = self._text(body["title"], TITLE)
        if "body" in body:
            body["body"] = self._text(body["body"], BODY)
        if isinstance(body.get("tags"), list):
            tags = [self._tag(tag) for tag in body["tags"][:MAX_TAGS]]
            body["tags"] = tags or [self.tags[0]]
        for name in ("startDatetime", "endDatetime"):
            if is_int(body.get(name)):
                body[name] = _within(body[name], 0, INT64)
        start, end = body.get("startDatetime"), body.get("endDatetime")
        if is_int(start) and is_int(end) and end <= start:
            if end < start:
                body["startDatetime"], body["endDatetime"] = end, start
            elif start < INT64:
                body["endDatetime"] = start + 1
            else:
                body["startDatetime"] = start - 1

    _updateIncident = _createIncident

    def _searchIncidents(self, query, path, body):
        tags = query.get("tags")
        if isinstance(tags, str):
            entries = [entry.strip() for entry in tags.split(",")]
            if not all(entry in self.tags for entry in entries):
                query["tags"] = _pick(tags, (*self.tags, ",".join(self.tags)))
        if isinstance(query.get("title_like"), str):
            query["title_like"] = self._text(query["title_like"], TITLE_LIKE)
        for name, low, high in (
            ("page", 1, PAGE_MAX),
            ("per_page", 1, 100),
            ("created_after_utc", 0, INT64),
            ("created_before_utc", 0, INT64),
        ):
            number = _int_of(query.get(name))
            if number is not None:
                query[name] = _like(query[name], _within(number, low, high))

    def _addIncidentComment(self, query, path, body):
        if body is not None and "body" in body:
            body["body"] = self._text(body["body"], COMMENT)

    def _updateIncidentStatus(self, query, path, body):
        if body is None or not is_int(body.get("endDatetime")):
            return
        end = _within(body["endDatetime"], 0, INT64)
        start = self.starts.get(_int_of(path.get("incidentNumber")))
        if start is not None and end <= start:
            end = start + 1 if start < INT64 else None
        if end is None:
            del body["endDatetime"]  # nothing is after the largest start: leave the end
        else:
            body["endDatetime"] = end

    def _getIncidentPage(self, query, path, body):
        number = path.get("number")
        if number in (".", "..") or (isinstance(number, str) and number != _storable(number)):
            path["number"] = str(_pick(number, self.seeded or (1,)))

    def _getMonitorEmbed(self, query, path, body):
        if "tag" in path:
            path["tag"] = self._public_tag(path["tag"], everyone=False)

    def _getStatusBadge(self, query, path, body):
        if "tag" in path:
            path["tag"] = self._public_tag(path["tag"], everyone=True)
        if isinstance(query.get("label"), str):
            query["label"] = self._text(query["label"], LABEL)

    _getDotBadge = _getStatusBadge

    def _getUptimeBadge(self, query, path, body):
        if "tag" in path:
            path["tag"] = self._public_tag(path["tag"], everyone=False)
        if isinstance(query.get("label"), str):
            query["label"] = self._text(query["label"], LABEL)
        since = _int_of(query.get("sinceLast"))
        if since is not None:
            query["sinceLast"] = _like(query["sinceLast"], _within(since, *SINCE_LAST))

    # Values ----------------------------------------------------------------------------------

    def _tag(self, tag):
        return tag if tag in self.tags else _pick(tag, self.tags)

    def _public_tag(self, tag, everyone: bool):
        """A tag the public pages show, or `_` (every monitor) where the operation takes it."""
        if tag in self.public_tags or (everyone and tag == "_"):
            return tag
        return _pick(tag, (*self.public_tags, "_") if everyone else self.public_tags)

    def _incident(self, number):
        known = _int_of(number)
        if known in self.starts or not self.seeded:
            return number
        return _like(number, _pick(number, self.seeded))

    def _timestamp(self, timestamp):
        """A minute the target accepts: from 90 days (less an hour, for the time the run
        takes) before its current minute to that minute's last second."""
        if not is_int(timestamp):
            return timestamp
        low = int(self.now()) // MINUTE * MINUTE - WINDOW + 3600
        return _within(timestamp, low, self.first_minute + MINUTE - 1)

    def _text(self, text, bounds: tuple[int, int]):
        """`text` cut or padded to the lengths the contract allows."""
        if not isinstance(text, str):
            return text
        low, high = bounds
        text = text[:high]
        return text + "x" * (low - len(text)) if len(text) < low else text

    def _fit(self, body: dict) -> None:
        """Shorten the longest texts until the body is under the limit on a request body."""
        while len(json.dumps(body)) > BODY_BYTES:
            texts = [name for name, value in body.items() if isinstance(value, str)]
            if not texts:
                return
            longest = max(texts, key=lambda name: len(body[name]))
            body[longest] = body[longest][: max(len(body[longest]) // 2, 1)]


def _texts(value):
    """Every text in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def is_positive(case) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive
