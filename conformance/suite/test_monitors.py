"""Monitors: POST /api/status (updateMonitorStatus) and GET /api/status (getMonitorStatus).

The target's clock
    The suite cannot set the target's clock, and "now" is the target's, never the local one: a
    push without `timestampInSeconds` answers `success at <the target's current minute>`, and
    every other timestamp sent here is computed from such an answer and stays inside the
    allowed window (except where a test is about leaving it). Where a minute boundary could
    pass between reading "now" and using it, the test reads "now" again and retries once.

Uptime on a target that already holds data
    Uptime is over *today's* data points (00:00 UTC to now), and the API cannot delete any. A
    target that already holds data, or that other tests of the run wrote to, has an unknown
    number of points today, so the uptime tests first take control of a monitor's day: they
    write a data point for *every* minute from 00:00 UTC to the target's current minute
    (last write wins: whatever was there is replaced), and one for yesterday's last minute
    (a point that a "last 24 hours" window would wrongly count). From then on the module
    keeps a ledger of every data point of that monitor since midnight, updated from the
    answer to every write it makes (each answer names the minute stored). A minute that
    begins after the fill holds no data point until this module writes one, so the ledger
    stays exact while time passes; the expected `uptime`, `status` and `lastUpdatedAt` are
    computed from it. Each test then reshapes the day with as few writes as its state needs.

    Cost: one push per minute of the UTC day so far for each controlled monitor (at most
    1,441), 8 at a time. Two monitors are controlled: a "plain" one (not `--degraded-tag`),
    filled DOWN, for "0", 4 decimals, a whole multiple of 10, last write wins and DEGRADED
    counting as up; and a second one (the `--degraded-tag` when given), filled UP, for "100"
    and includeDegradedInDowntime. With a single tag, the plain one serves for all. Against
    the reference server (about 250 pushes/s) the group takes about 3 s just after
    midnight UTC and about 15 s just before it.

    Assumptions: nobody else writes to these monitors while this module runs (do not point
    it at monitors fed by live probes), and monitors other than `--degraded-tag` have
    Kener's default `includeDegradedInDowntime: false` when `--degraded-tag` is given (the
    DEGRADED tests are skipped without it). If the target's UTC day ends during a test, the
    next "now" read shows it and the test runs once more on the new day.

What cannot be judged black-box, or not at every minute
    `"-"` (no data point today) needs a monitor without data today, which a test cannot
    create. A whole multiple of 10 other than 0 and 100 needs today's number of data points
    (minutes so far) to share a factor with 10; when it does not (at 40 % of the minutes of a
    day) that test waits for the target's next minute, which adds one (on average 30 s, at
    most 60 s; it is skipped if the target's clock stands still for 65 s). A 4-decimal uptime
    is impossible with 1, 2, 5 or 10 data points (the first minutes of a day): skipped then.

Profiles: Kener's ParseUptime computed in doubles, and its toFixed(4) rounds the double, not
the exact share: for 36 shares of at most 1,441 data points the two differ (23 of 640: Kener
"3.5937", exact "3.5938"). The `kener-2.0` profile accepts either rendering, the `strict`
profile only the exact one.
"""

import math
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction

import pytest

pytestmark = pytest.mark.group("monitors")

MINUTE = 60
DAY = 86_400
WINDOW = 90 * DAY  # how far back a data point may be written
WRITERS = 8  # concurrent pushes while filling a day
UP, DOWN, DEGRADED = "UP", "DOWN", "DEGRADED"
SUCCESS = re.compile(r"success at (-?[0-9]+)")


def midnight(seconds: int) -> int:
    return seconds - seconds % DAY


def stored_minute(answer) -> int | None:
    """The minute a push answer says it stored (`success at <minute>`), if it says so."""
    try:
        match = SUCCESS.fullmatch(answer.json().get("message", ""))
    except (ValueError, AttributeError):
        return None
    return int(match.group(1)) if match else None


def four_decimals(value: Fraction) -> str:
    scaled = math.floor(value * 10_000 + Fraction(1, 2))  # half up
    return f"{scaled // 10_000}.{scaled % 10_000:04d}"


def exact_uptime(up: int, total: int) -> str:
    """Kener's ParseUptime format on the exact share: "-", "0", "100", "50", "99.9306"."""
    if total == 0:
        return "-"
    if up == 0:
        return "0"
    percent = Fraction(100 * up, total)
    if percent.denominator == 1 and percent.numerator % 10 == 0:
        return str(percent.numerator)
    return four_decimals(percent)


def kener_float_uptime(up: int, total: int) -> str:
    """What Kener 2.0's ParseUptime printed: JavaScript doubles (Python floats are the same),
    `(up / all) * 100 % 10 == 0` for "no decimals", and toFixed(4), which rounds the double's
    exact value half up."""
    if total == 0:
        return "-"
    if up == 0:
        return "0"
    percent = up / total * 100.0
    if up == total or math.fmod(percent, 10) == 0:
        return f"{percent:.0f}"
    return four_decimals(Fraction(percent))


def is_four_decimals(up: int, total: int) -> bool:
    return "." in exact_uptime(up, total)


def rounds_up(up: int, total: int) -> bool:
    """Whether 4-decimal rounding of this share differs from truncating it."""
    return 2 * (1_000_000 * up % total) > total


@dataclass
class Ledger:
    """Every data point of one monitor since `start` (a UTC midnight), as this module wrote
    them: the fill wrote every minute from `start` to the then current minute, and every
    later write is recorded from its answer."""

    tag: str
    degraded_is_down: bool | None  # None: unknown, so no DEGRADED point is written
    start: int
    now: int  # the newest current minute the target has answered with
    points: dict[int, str] = field(default_factory=dict)  # minute -> status

    def today(self) -> dict[int, str]:
        first = midnight(self.now)
        return {minute: status for minute, status in self.points.items() if minute >= first}

    def counts_up(self, status: str) -> bool:
        if status == DEGRADED:
            if self.degraded_is_down is None:
                raise RuntimeError(f"suite bug: DEGRADED written to {self.tag}")
            return not self.degraded_is_down
        return status == UP

    def up(self, points: dict[int, str]) -> int:
        return sum(self.counts_up(status) for status in points.values())

    def newest(self) -> int:
        return max(self.points)


class Monitors:
    """The monitors this module writes to, and the ledgers of those it controls."""

    def __init__(self, target) -> None:
        self.target = target
        plain = [tag for tag in target.tags if tag != target.degraded_tag]
        self.plain = plain[0] if plain else target.tags[0]
        if target.degraded_tag and target.degraded_tag != self.plain:
            self.other = target.degraded_tag
        else:
            others = [tag for tag in target.tags if tag != self.plain]
            self.other = others[0] if others else None
        self.ledgers: dict[str, Ledger] = {}
        self.lock = threading.Lock()

    def degraded_is_down(self, tag: str) -> bool | None:
        if self.target.degraded_tag is None:
            return None
        return tag == self.target.degraded_tag

    def push(self, api, tag: str, status: str, timestamp: int | None = None, judge: bool = True):
        body = {"status": status, "latency": 12.5, "tag": tag}
        if timestamp is not None:
            body["timestampInSeconds"] = timestamp
        answer = api.post("/api/status", json_body=body, validate=False)
        minute = stored_minute(answer) if answer.status_code == 200 else None
        ledger = self.ledgers.get(tag)
        if minute is not None and ledger is not None:
            with self.lock:  # recorded before the answer is judged: the point is stored
                if minute >= ledger.start - MINUTE:
                    ledger.points[minute] = status
                if timestamp is None:
                    ledger.now = max(ledger.now, minute)
        if judge:  # several pushes may run at once: judge this answer's own exchange
            api.validator.check(next(e for e in reversed(api.exchanges) if e.response is answer))
        return answer

    def now(self, api, tag: str, status: str, judge: bool = True) -> int:
        """The target's current minute, read by pushing `status` for `tag` without a timestamp."""
        answer = self.push(api, tag, status, judge=judge)
        minute = stored_minute(answer)
        assert answer.status_code == 200 and minute is not None, (
            "a push without timestampInSeconds should answer 200 "
            f"'success at <current minute>', got {answer.status_code}: {answer.text[:300]}"
        )
        assert minute % MINUTE == 0, f"'success at {minute}' should name a whole UTC minute"
        return minute

    def write(self, api, tag: str, points: dict[int, str], judge: bool = True) -> None:
        """Push these data points (minute -> status), several at a time."""

        def one(item):
            minute, status = item
            return minute, self.push(api, tag, status, timestamp=minute, judge=judge)

        if not points:
            return
        with ThreadPoolExecutor(min(WRITERS, len(points))) as pool:
            for minute, answer in pool.map(one, sorted(points.items())):
                assert answer.status_code == 200 and stored_minute(answer) == minute, (
                    f"a push for {tag} at minute {minute} (inside the 90-day window) should "
                    f"answer 200 'success at {minute}', got {answer.status_code}: "
                    f"{answer.text[:300]}"
                )

    def control(self, api, tag: str) -> Ledger:
        """The ledger of `tag`, writing every minute of its day so far the first time. That
        fill is a precondition of the uptime rules: if the target refuses it, they are blocked
        by that cause, reported once (the push rules judge the pushes themselves)."""

        def fill_day() -> Ledger:
            fill = DOWN if tag == self.plain else UP
            now = self.now(api, tag, fill, judge=False)
            ledger = Ledger(tag, self.degraded_is_down(tag), midnight(now), now, {now: fill})
            self.ledgers[tag] = ledger
            points = {minute: fill for minute in range(ledger.start, now, MINUTE)}
            points[ledger.start - MINUTE] = UP if fill == DOWN else DOWN  # yesterday
            try:
                self.write(api, tag, points, judge=False)
            except BaseException:
                self.ledgers.pop(tag, None)
                raise
            return ledger

        return api.preconditions.run(
            f"filling today's data points of monitor {tag}", fill_day, keep=f"ledger of {tag}"
        )

    def set_up_count(self, api, ledger: Ledger, up: int) -> None:
        """Flip as few of today's data points as needed (to UP or to DOWN) so that `up` of
        them count as up."""
        today = ledger.today()
        minutes = sorted(today)
        ups = [minute for minute in minutes if ledger.counts_up(today[minute])]
        downs = [minute for minute in minutes if not ledger.counts_up(today[minute])]
        if len(ups) < up:
            self.write(api, ledger.tag, {minute: UP for minute in downs[: up - len(ups)]})
        else:
            self.write(api, ledger.tag, {minute: DOWN for minute in ups[: len(ups) - up]})

    def expect(self, api, ledger: Ledger, rule: str) -> None:
        """GET the monitor's status and compare it with what the ledger says."""
        today = ledger.today()
        up, total = ledger.up(today), len(today)
        wanted = {exact_uptime(up, total)}
        if not self.target.strict:
            wanted.add(kener_float_uptime(up, total))
        newest = ledger.newest()
        answer = api.get("/api/status", params={"tag": ledger.tag})
        assert answer.status_code == 200, (
            f"GET /api/status?tag={ledger.tag} should answer 200, got {answer.status_code}: "
            f"{answer.text[:300]}"
        )
        body = answer.json()
        uptime, status, last = body.get("uptime"), body.get("status"), body.get("lastUpdatedAt")
        assert uptime in wanted, (
            f"{rule}: {ledger.tag} has {total} data points today, {up} of them up, so "
            f"uptime should be {' or '.join(repr(value) for value in sorted(wanted))}, "
            f"got {uptime!r}"
        )
        assert (status, last) == (ledger.points[newest], newest), (
            f"{ledger.tag}'s newest data point is {ledger.points[newest]} at minute {newest}: "
            f"status and lastUpdatedAt should be {ledger.points[newest]!r} and {newest}, "
            f"got {status!r} and {last!r}"
        )

    def judge(self, api, tag: str, scenario: Callable[[Ledger], None]) -> None:
        """Run `scenario` on `tag`'s controlled day; when it fails because the target's UTC
        day ended meanwhile, run it once more on the new day."""
        ledger = self.control(api, tag)
        try:
            scenario(ledger)
        except AssertionError:
            day, failing = midnight(ledger.now), api.exchanges[-1]
            self.now(api, tag, ledger.points[ledger.newest()])
            if midnight(ledger.now) == day:
                api.exchanges.append(failing)  # the report shows the exchange that failed
                raise
            scenario(ledger)


@pytest.fixture(scope="module")
def monitors(target) -> Monitors:
    return Monitors(target)


def assert_stored_at(answer, minute: int, sent: str) -> None:
    assert answer.status_code == 200, (
        f"{sent}: expected 200 'success at {minute}', got {answer.status_code}: {answer.text[:300]}"
    )
    body = answer.json()
    assert body.get("status") == 200 and body.get("message") == f"success at {minute}", (
        f"{sent}: expected {{'status': 200, 'message': 'success at {minute}'}} "
        f"(the timestamp floored to its UTC minute), got {body!r}"
    )


def assert_rejected(answer, sent: str) -> None:
    assert answer.status_code == 400, (
        f"{sent}: expected 400 with a JSON error body, got {answer.status_code}: "
        f"{answer.text[:300]}"
    )
    media_type = answer.headers.get("content-type", "").split(";")[0].strip().lower()
    assert media_type == "application/json", (
        f"{sent}: the error should be application/json, got {answer.headers.get('content-type')!r}"
    )
    body = answer.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], (
        f'{sent}: the error body should be {{"error": "<message>"}}, got {body!r}'
    )


def status_of(api, tag: str) -> dict:
    answer = api.get("/api/status", params={"tag": tag})
    assert answer.status_code == 200, (
        f"GET /api/status?tag={tag} should answer 200, got {answer.status_code}: "
        f"{answer.text[:300]}"
    )
    return answer.json()


@pytest.mark.operation("updateMonitorStatus", "getMonitorStatus")
def test_timestamps_are_floored_to_their_minute(api, monitors):
    tag = monitors.plain
    now = monitors.now(api, tag, UP)
    hour_ago = now - 60 * MINUTE
    for timestamp, minute in ((hour_ago + 1, hour_ago), (hour_ago + 59, hour_ago)):
        answer = monitors.push(api, tag, UP, timestamp)
        assert_stored_at(answer, minute, f"timestampInSeconds {timestamp}")
    # Later seconds of the current minute are not "in future": the minute is compared.
    answer = monitors.push(api, tag, DOWN, now + 59)
    assert_stored_at(answer, now, f"timestampInSeconds {now + 59} (current minute {now})")
    state = status_of(api, tag)
    assert (state.get("status"), state.get("lastUpdatedAt")) == (DOWN, now), (
        f"the newest data point is DOWN at minute {now} (pushed with timestampInSeconds "
        f"{now + 59}): expected status 'DOWN' and lastUpdatedAt {now}, got "
        f"{state.get('status')!r} and {state.get('lastUpdatedAt')!r}"
    )


@pytest.mark.operation("updateMonitorStatus")
def test_timestamp_in_a_future_minute_is_400(api, monitors):
    tag = monitors.plain
    for attempt in (1, 2):
        now = monitors.now(api, tag, UP)
        answer = monitors.push(api, tag, DOWN, now + MINUTE)
        if answer.status_code == 200 and attempt == 1 and monitors.now(api, tag, UP) > now:
            continue  # the target's minute turned meanwhile: that minute is no longer future
        break
    assert_rejected(answer, f"timestampInSeconds {now + MINUTE}, the minute after now ({now})")
    far = now + 366 * DAY
    assert_rejected(monitors.push(api, tag, DOWN, far), f"timestampInSeconds {far}, next year")


@pytest.mark.operation("updateMonitorStatus")
def test_timestamp_older_than_90_days_is_400(api, monitors):
    tag = monitors.plain
    for attempt in (1, 2):
        now = monitors.now(api, tag, UP)
        oldest = monitors.push(api, tag, UP, now - WINDOW)
        if oldest.status_code != 200 and attempt == 1 and monitors.now(api, tag, UP) > now:
            continue  # the target's minute turned meanwhile: that minute fell out of the window
        break
    assert_stored_at(oldest, now - WINDOW, f"timestampInSeconds {now - WINDOW}, 90 days ago")
    for timestamp, sent in (
        (now - WINDOW - 1, "90 days and 1 second ago (its minute is 90 days and 1 minute ago)"),
        (now - WINDOW - DAY, "91 days ago"),
        (0, "1970"),
    ):
        assert_rejected(
            monitors.push(api, tag, UP, timestamp), f"timestampInSeconds {timestamp}, {sent}"
        )


@pytest.mark.operation("updateMonitorStatus", "getMonitorStatus")
def test_status_is_the_newest_data_point_not_the_last_written(api, monitors):
    tag = monitors.plain
    now = monitors.now(api, tag, DOWN)
    older = now - 2 * MINUTE
    assert_stored_at(monitors.push(api, tag, UP, older), older, f"timestampInSeconds {older}")
    state = status_of(api, tag)
    assert (state.get("status"), state.get("lastUpdatedAt")) == (DOWN, now), (
        f"DOWN was pushed for the current minute {now}, then UP for the older minute "
        f"{older}: expected status 'DOWN' and lastUpdatedAt {now} (the newest data point), "
        f"got {state.get('status')!r} and {state.get('lastUpdatedAt')!r}"
    )


@pytest.mark.operation("updateMonitorStatus", "getMonitorStatus")
def test_last_write_for_a_minute_wins_and_counts_once(api, monitors):
    def scenario(ledger):
        today = ledger.today()
        minutes = sorted(today)
        # Writing the minority status twice makes a duplicated data point visible in uptime.
        again = UP if 2 * ledger.up(today) <= len(today) else DOWN
        last = DOWN if again == UP else UP
        # A past minute of today, written at different seconds; the current one if none.
        minute, seconds = (minutes[0], (7, 29, 53)) if len(minutes) > 1 else (minutes[0], (0,) * 3)
        for status, second, check in ((again, seconds[0], False), (again, seconds[1], True)):
            answer = monitors.push(api, ledger.tag, status, minute + second)
            assert_stored_at(answer, minute, f"{status} with timestampInSeconds {minute + second}")
            if check:
                monitors.expect(api, ledger, f"{status} written twice for minute {minute}")
        answer = monitors.push(api, ledger.tag, last, minute + seconds[2])
        assert_stored_at(answer, minute, f"{last} with timestampInSeconds {minute + seconds[2]}")
        monitors.expect(
            api, ledger, f"{again} then {last} written for minute {minute}: the last write wins"
        )

    monitors.judge(api, monitors.plain, scenario)


@pytest.mark.operation("getMonitorStatus")
def test_uptime_is_0_when_no_data_point_today_is_up(api, monitors):
    def scenario(ledger):
        monitors.set_up_count(api, ledger, 0)
        monitors.expect(api, ledger, "no data point today is up (yesterday's last one is)")

    monitors.judge(api, monitors.plain, scenario)


@pytest.mark.operation("getMonitorStatus")
def test_uptime_is_100_when_every_data_point_today_is_up(api, monitors):
    def scenario(ledger):
        monitors.set_up_count(api, ledger, len(ledger.today()))
        monitors.expect(api, ledger, "every data point today is up (yesterday's last one is not)")

    monitors.judge(api, monitors.other or monitors.plain, scenario)


@pytest.mark.operation("getMonitorStatus")
def test_uptime_has_4_decimals_rounded_otherwise(api, monitors):
    def scenario(ledger):
        today = ledger.today()
        total, up = len(today), ledger.up(today)
        shares = [share for share in range(1, total) if is_four_decimals(share, total)]
        if not shares:
            pytest.skip(f"with {total} data points today every share is a multiple of 10")
        # Prefer a share whose rounding differs from truncation; under the strict profile,
        # first one that Kener's floating point rounded otherwise (exact ties, rare).
        preferred = [share for share in shares if rounds_up(share, total)]
        if monitors.target.strict:
            preferred = [
                share
                for share in shares
                if kener_float_uptime(share, total) != exact_uptime(share, total)
            ] or preferred
        shares = preferred or shares
        monitors.set_up_count(api, ledger, min(shares, key=lambda share: abs(share - up)))
        monitors.expect(api, ledger, "a share that is no whole multiple of 10")

    monitors.judge(api, monitors.plain, scenario)


@pytest.mark.operation("getMonitorStatus")
def test_degraded_counts_as_down_for_include_degraded_in_downtime(api, monitors, target):
    if target.degraded_tag is None:
        pytest.skip("no --degraded-tag given")

    def scenario(ledger):
        minutes = sorted(ledger.today())
        want = {minute: UP for minute in minutes}
        want[minutes[0]] = DEGRADED
        want[minutes[-1]] = DEGRADED  # the newest: it is the current status too
        if len(minutes) > 2:
            want[minutes[1]] = DOWN
        monitors.write(
            api, ledger.tag, {m: s for m, s in want.items() if ledger.points.get(m) != s}
        )
        monitors.expect(
            api, ledger, f"{ledger.tag} has includeDegradedInDowntime: DEGRADED counts as down"
        )

    monitors.judge(api, target.degraded_tag, scenario)


@pytest.mark.operation("getMonitorStatus")
def test_degraded_counts_as_up_by_default(api, monitors, target):
    if target.degraded_tag is None or monitors.plain == target.degraded_tag:
        pytest.skip("needs --degraded-tag and another tag (assumed to count DEGRADED as up)")

    def scenario(ledger):
        minutes = sorted(ledger.today())
        want = {minutes[0]: DEGRADED, minutes[-1]: DEGRADED}
        monitors.write(
            api, ledger.tag, {m: s for m, s in want.items() if ledger.points.get(m) != s}
        )
        monitors.expect(api, ledger, f"{ledger.tag} has Kener's default: DEGRADED counts as up")

    monitors.judge(api, monitors.plain, scenario)


@pytest.mark.operation("getMonitorStatus")
def test_uptime_that_is_a_whole_multiple_of_10_has_no_decimals(api, monitors):
    def shares(total):
        return [total * tenths // 10 for tenths in range(1, 10) if total * tenths % 10 == 0]

    def scenario(ledger):
        # Only a number of data points that shares a factor with 10 has such shares; when
        # today's does not, the next minute of the target's clock gives one more data point.
        deadline = time.monotonic() + 65
        while not shares(len(ledger.today())):
            if time.monotonic() > deadline:
                pytest.skip(
                    f"the target's UTC day has {len(ledger.today())} minutes so far, and its "
                    "clock did not move for 65 s: no share other than 0 and 100 % of them is "
                    "a whole multiple of 10"
                )
            monitors.now(api, ledger.tag, DOWN)
            if not shares(len(ledger.today())):
                time.sleep(1)
        today = ledger.today()
        total, up = len(today), ledger.up(today)
        monitors.set_up_count(api, ledger, min(shares(total), key=lambda share: abs(share - up)))
        monitors.expect(api, ledger, "a whole multiple of 10 is written without decimals")

    monitors.judge(api, monitors.plain, scenario)
