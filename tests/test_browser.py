"""The public pages in a real browser (Chromium driven by Playwright): what a reader sees, what
the keyboard reaches, that nothing from the database runs, that no other host is asked for
anything, on a phone, in dark mode, for axe-core and without JavaScript. The HTTP side (headers,
badges, feeds) is tested in test_public_http.py.

Chromium is Debian's (`KENER_TEST_CHROMIUM`, default /usr/bin/chromium; Playwright's own
download is not used); without it these tests are skipped, and the summary says why.
Screenshots of the pages are written to tests/artefacts/ (git-ignored) on every run;
KENER_UPDATE_SCREENSHOT=1 also writes the README's docs/status-page.png.
"""

import contextlib
import dataclasses
import datetime
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import yaml

from tests.api_setup import comment, create_incident, push, resolve
from tests.conftest import START

# KENER_REQUIRE_BROWSER=1 (as in .ci/run) turns every skip for want of a browser into a failure.
REQUIRED = os.environ.get("KENER_REQUIRE_BROWSER") == "1"
try:
    from axe_playwright_python.sync_playwright import Axe
    from playwright import sync_api
except ImportError as exc:
    if REQUIRED:
        raise
    pytest.skip(f"browser tests need the test extras: {exc}", allow_module_level=True)

CHROMIUM = os.environ.get("KENER_TEST_CHROMIUM", "/usr/bin/chromium")
ARTEFACTS = Path(__file__).with_name("artefacts")
README_SCREENSHOT = Path(__file__).parent.parent / "docs" / "status-page.png"

DAY = 86_400
TODAY = START - START % DAY  # 2026-03-10 00:00 UTC, the fake clock's day
HISTORY_DAYS = 90
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

# Shown in file order, the hidden one between the others: order and absence are both seen.
MONITORS = [
    {"tag": "earth", "name": "Earth", "description": "Is the earth still there?"},
    {"tag": "secret", "name": "Secret", "description": "Not on the page", "hidden": True},
    {
        "tag": "google",
        "name": "Google",
        "description": "Google search",
        "includeDegradedInDowntime": True,
    },
    {
        "tag": "moon",
        "name": "Moon",
        "description": "Counts a day as down from 2 DOWN minutes",
        "dayDownMinimumCount": 2,
        "dayDegradedMinimumCount": 2,
    },
]
SHOWN = ["earth", "google", "moon"]
NAMES = {monitor["tag"]: monitor["name"] for monitor in MONITORS}

# Points per monitor: days back from today -> the statuses of consecutive minutes from 01:00
# UTC that day (the last one is the monitor's newest point of that day).
HISTORY = {
    "earth": {
        89: ["UP"],  # the oldest day shown
        10: ["UP"] * 4,
        4: ["DEGRADED", "DEGRADED", "UP", "UP"],
        1: ["DOWN", "DOWN", "DOWN", "UP"],
        0: ["UP"],
    },
    "google": {2: ["UP", "UP", "UP", "DEGRADED"], 0: ["DEGRADED"]},
    "moon": {3: ["DOWN", "DEGRADED", "UP", "UP"]},  # below both of its minimums: UP
    "secret": {0: ["DOWN"]},  # hidden: never on the page, not in the overall status
}
DAY_STATUS = {
    "earth": {89: "UP", 10: "UP", 4: "DEGRADED", 1: "DOWN", 0: "UP"},
    "google": {2: "DEGRADED", 0: "DEGRADED"},
    "moon": {3: "UP"},
}
CURRENT = {"earth": "UP", "google": "DEGRADED", "moon": "UP"}
# Over the 90 days: earth 11 of 14 (DEGRADED counts as up), google 3 of 5 (it counts as down),
# moon 3 of 4.
UPTIME = {"earth": "78.5714%", "google": "60%", "moon": "75.0000%"}
WORDS = {"UP": "Up", "DEGRADED": "Degraded", "DOWN": "Down", "NO_DATA": "No data"}
OVERALL = {
    "UP": "All systems operational",
    "DEGRADED": "Degraded performance",
    "DOWN": "Major outage",
    "NO_DATA": "No data yet",
}

MARKDOWN_BODY = """Logins failed for **most users**; _nobody_ lost data.

- web
- mobile apps

See [the runbook](https://runbooks.example.com/db) or run `failover --check`.
"""


def day(days_back: int) -> str:
    """The UTC date `days_back` days before the fake clock's day."""
    moment = datetime.datetime.fromtimestamp(TODAY - days_back * DAY, datetime.UTC)
    return moment.strftime("%Y-%m-%d")


# --- Fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"no Chromium at {CHROMIUM}; set KENER_TEST_CHROMIUM to run the browser tests"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def monitors(request):
    """The monitors file's entries; a test may give its own (indirect parametrisation)."""
    return getattr(request, "param", MONITORS)


@pytest.fixture
def site(request):
    """The site file's settings, None for the default site.yaml (indirect parametrisation)."""
    return getattr(request, "param", None)


@pytest.fixture
def settings(settings, monitors, site, tmp_path):
    monitors_file = tmp_path / "monitors.yaml"
    monitors_file.write_text(yaml.safe_dump(monitors, allow_unicode=True, sort_keys=False))
    changes = {"monitors_file": monitors_file}
    if site is not None:
        site_file = tmp_path / "site.yaml"
        site_file.write_text(yaml.safe_dump(site, allow_unicode=True, sort_keys=False))
        changes["site_file"] = site_file
    return dataclasses.replace(settings, **changes)


# --- Helpers -------------------------------------------------------------------------------


def seed_history(api):
    for tag, days in HISTORY.items():
        for days_back, statuses in days.items():
            first = TODAY - days_back * DAY + 3600
            for minute, status in enumerate(statuses):
                push(api, tag, status, first + minute * 60)


def seed_incidents(api, clock) -> dict[str, int]:
    """An open incident with comments, an identified one, a resolved one (minutes apart)."""
    outage = create_incident(
        api, "Database failover", body=MARKDOWN_BODY, impact="DOWN", tags=["earth", "moon"]
    )
    clock.advance(300)
    comment(api, outage, "Failover to the replica is **done**; watching error rates.")
    clock.advance(300)
    slow = create_incident(
        api,
        "Slow search results",
        body="Searches take up to 5 s.",
        impact="DEGRADED",
        tags=["google"],
        isIdentified=True,
    )
    clock.advance(300)
    renewal = create_incident(api, "Certificate renewal", body="Renewed.", isMaintenance=True)
    clock.advance(300)
    resolve(api, renewal)
    return {"outage": outage, "slow": slow, "renewal": renewal}


@dataclass
class Visit:
    """A page in a fresh browser context, with what went wrong while it was open: console
    errors and warnings (a CSP violation is one), uncaught errors, failed requests, answers
    of 400 and above, and requests to anything but the server."""

    page: object
    origin: str
    problems: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)

    def open(self, path: str, status: int = 200):
        answer = self.page.goto(self.origin + path)
        assert answer is not None and answer.status == status, (path, answer and answer.status)
        return answer


@contextlib.contextmanager
def visiting(browser, origin: str, **context_options):
    context = browser.new_context(**{"viewport": DESKTOP, **context_options})
    page = context.new_page()
    visit = Visit(page, origin)

    def on_console(message):
        if message.type in ("error", "warning"):
            visit.problems.append(f"console {message.type}: {message.text} at {message.location}")

    def on_request(request):
        visit.requested.append(request.url)
        parts = urlsplit(request.url)
        if f"{parts.scheme}://{parts.netloc}" != origin and parts.scheme not in ("data", "about"):
            visit.problems.append(f"request to another host: {request.method} {request.url}")

    def on_response(response):
        if response.status >= 400:
            visit.problems.append(f"answer {response.status}: {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: visit.problems.append(f"page error: {error}"))
    page.on("request", on_request)
    page.on("response", on_response)

    def on_request_failed(request):
        # A request the browser gives up because the page is left (a click that navigates
        # while the icon loads) is no failure of the page.
        if request.failure != "net::ERR_ABORTED":
            visit.problems.append(f"failed: {request.url} ({request.failure})")

    page.on("requestfailed", on_request_failed)
    try:
        yield visit
    finally:
        context.close()


def overall(page) -> str:
    """The banner's status, checked against its words."""
    banner = page.locator("[data-overall]")
    assert banner.count() == 1
    status = banner.get_attribute("data-overall")
    assert banner.inner_text().strip().endswith(OVERALL[status]), banner.inner_text()
    return status


def shown_tags(page) -> list[str]:
    return page.locator("[data-monitor]").evaluate_all("rows => rows.map(r => r.dataset.monitor)")


def cells(row) -> list[tuple[str, str]]:
    found = row.locator("li[data-date][data-status]").evaluate_all(
        "cells => cells.map(c => [c.dataset.date, c.dataset.status])"
    )
    return [tuple(cell) for cell in found]


def expected_cells(statuses: dict[int, str]) -> list[tuple[str, str]]:
    return [
        (day(days_back), statuses.get(days_back, "NO_DATA"))
        for days_back in range(HISTORY_DAYS - 1, -1, -1)
    ]


# A tip is shown when it has a readable size and is what the reader sees at its centre (not
# clipped to a pixel, nor under something else).
TIP_SHOWN = """tip => {
    const box = tip.getBoundingClientRect();
    if (box.width < 40 || box.height < 12) return false;
    const seen = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    return tip.contains(seen);
}"""


def tip_shown(cell) -> bool:
    return cell.locator(".tip").evaluate(TIP_SHOWN)


def focused_date(page) -> str | None:
    return page.evaluate("() => document.activeElement.dataset.date || null")


INERT = """() => ({
    pwned: typeof window.__pwned,
    scripts: document.querySelectorAll('script').length,
    images: document.querySelectorAll('img, image').length,
    svgs: document.querySelectorAll('svg').length,
    frames: document.querySelectorAll('iframe, object, embed').length,
    handlers: [...document.querySelectorAll('*')]
        .flatMap(e => [...e.attributes].filter(a => a.name.startsWith('on')).map(a => a.name)),
    scriptLinks: [...document.querySelectorAll('a[href]')]
        .filter(a => !['http:', 'https:', 'mailto:'].includes(a.protocol)).map(a => a.href),
})"""
FIRE_EVENTS = """() => document.querySelectorAll('*').forEach(element => {
    for (const type of ['mouseover', 'mouseenter', 'focus', 'load', 'error']) {
        element.dispatchEvent(new Event(type));
    }
})"""
NOTHING_RAN = {
    "pwned": "undefined",
    "scripts": 0,
    "images": 0,
    "svgs": 0,
    "frames": 0,
    "handlers": [],
    "scriptLinks": [],
}


def serious_violations(page, context=None) -> tuple[list, str]:
    """axe-core's violations of impact serious or critical, and a description of all."""
    response = Axe().run(page, context=context).response
    violations = response["violations"]
    lines = [
        f"incomplete (for a person to check): {item['id']} ({item['impact']}): "
        f"{len(item['nodes'])} nodes, e.g. {item['nodes'][0]['target']}: "
        + " ".join((item["nodes"][0].get("failureSummary") or "").split())
        for item in response.get("incomplete", [])
    ]
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    {node['target']}: {node['html'][:160]} -- {summary}")
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    return serious, "\n".join(lines)


def scroll_width(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


def body_colours(page) -> tuple[str, str]:
    colours = "b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]"
    return tuple(page.locator("body").evaluate(colours))


def screenshot(page, name: str) -> None:
    ARTEFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / name), full_page=True)


# --- The status page -----------------------------------------------------------------------


def test_day_cells_current_status_and_overall_banner(browser, api, live_server, clock):
    push(api, "secret", "DOWN", START)  # a hidden monitor's point counts for nothing
    with visiting(browser, live_server.url) as visit:
        page = visit.page
        visit.open("/")
        assert overall(page) == "NO_DATA"
        assert shown_tags(page) == SHOWN
        for tag in SHOWN:
            row = page.locator(f'[data-monitor="{tag}"]')
            assert row.locator(".current [data-status]").get_attribute("data-status") == "NO_DATA"
            assert row.locator(".uptime").inner_text() == "-"
            assert cells(row) == expected_cells({})

        seed_history(api)
        visit.open("/")
        assert overall(page) == "DEGRADED"
        assert shown_tags(page) == SHOWN
        assert page.locator('[data-monitor="secret"]').count() == 0
        assert "Secret" not in page.locator("body").inner_text()
        today = datetime.datetime.fromtimestamp(clock(), datetime.UTC).strftime("%Y-%m-%d")
        for tag in SHOWN:
            row = page.locator(f'[data-monitor="{tag}"]')
            assert row.locator("h3").inner_text() == NAMES[tag]
            current = row.locator(".current [data-status]")
            assert current.get_attribute("data-status") == CURRENT[tag]
            assert current.inner_text().endswith(WORDS[CURRENT[tag]])  # not by colour alone
            assert row.locator(".uptime").inner_text() == UPTIME[tag]
            found = cells(row)
            assert len(found) == HISTORY_DAYS
            assert found[-1][0] == today == "2026-03-10"
            assert found == expected_cells(DAY_STATUS[tag]), tag
            widths = row.locator("li[data-date]").evaluate_all(
                "cells => cells.map(c => c.getBoundingClientRect().width)"
            )
            assert min(widths) > 3, widths  # every day can be seen (and pointed at)

        # Now every shown monitor is up; then one is down.
        clock.advance(60)
        push(api, "google", "UP", clock())
        visit.open("/")
        assert overall(page) == "UP"
        push(api, "earth", "DOWN", clock())
        visit.open("/")
        assert overall(page) == "DOWN"
        row = page.locator('[data-monitor="earth"]')
        assert row.locator(".current [data-status]").get_attribute("data-status") == "DOWN"
        assert cells(row)[-1] == ("2026-03-10", "DOWN")
        assert visit.problems == []


def test_a_focused_or_hovered_day_shows_its_tip(browser, api, live_server):
    seed_history(api)
    with visiting(browser, live_server.url) as visit:
        page = visit.page
        visit.open("/")
        earth = page.locator('[data-monitor="earth"]')
        # From the top of the page, Tab reaches the first monitor's oldest day after the
        # header's link, and goes on day by day.
        for _ in range(5):
            page.keyboard.press("Tab")
            if focused_date(page):
                break
        assert focused_date(page) == day(89)
        assert tip_shown(earth.locator(f'[data-date="{day(89)}"]'))
        page.keyboard.press("Tab")
        assert focused_date(page) == day(88)
        assert not tip_shown(earth.locator(f'[data-date="{day(89)}"]'))

        down_day = earth.locator(f'[data-date="{day(1)}"]')
        assert not tip_shown(down_day)
        down_day.focus()
        assert tip_shown(down_day)
        text = down_day.locator(".tip").inner_text()
        for part in (day(1), "Down", "25.0000%", "3 min down", "0 min degraded"):
            assert part in text, text

        # The next day by the keyboard: its tip instead.
        page.keyboard.press("Tab")
        today = earth.locator(f'[data-date="{day(0)}"]')
        assert tip_shown(today) and not tip_shown(down_day)
        assert "100% uptime" in today.locator(".tip").inner_text()

        # Hovering shows a tip too (the focus elsewhere, on another monitor).
        page.locator(f'[data-monitor="moon"] [data-date="{day(10)}"]').focus()
        degraded_day = earth.locator(f'[data-date="{day(4)}"]')
        degraded_day.hover()
        assert tip_shown(degraded_day)
        text = degraded_day.locator(".tip").inner_text()
        for part in (day(4), "Degraded", "100%", "0 min down", "2 min degraded"):
            assert part in text, text
        moon_day = page.locator(f'[data-monitor="moon"] [data-date="{day(3)}"]')
        moon_day.hover()
        text = moon_day.locator(".tip").inner_text()
        for part in (day(3), "Up", "75.0000%", "1 min down", "1 min degraded"):
            assert part in text, text
        empty_day = earth.locator(f'[data-date="{day(50)}"]')
        empty_day.hover()
        assert tip_shown(empty_day)
        assert empty_day.locator(".tip").inner_text() == f"{day(50)}: No data"
        assert visit.problems == []


def test_incidents_open_before_resolved_and_their_pages(browser, api, live_server, clock):
    long_ago = create_incident(api, "Resolved long ago")
    resolve(api, long_ago)
    clock.advance(15 * DAY)  # resolved 15 days ago: no longer listed
    outage = create_incident(api, "Database failover", body=MARKDOWN_BODY, impact="DOWN")
    clock.advance(60)
    first_fixed = create_incident(api, "Slow search", impact="DEGRADED", tags=["google"])
    clock.advance(60)
    second_fixed = create_incident(api, "Moon unreachable", tags=["moon"])
    clock.advance(60)
    identified = create_incident(api, "Login errors", isIdentified=True, body="Found it.")
    clock.advance(60)
    comment(api, outage, "We are *on it*.")
    clock.advance(60)
    comment(api, outage, "Replica promoted:\n\n1. checked\n2. **done**")
    clock.advance(60)
    resolve(api, second_fixed)
    clock.advance(60)
    resolve(api, first_fixed)  # resolved last: listed first

    with visiting(browser, live_server.url) as visit:
        page = visit.page
        visit.open("/")
        sections = page.locator("[data-section]").evaluate_all(
            "sections => sections.map(s => s.dataset.section)"
        )
        assert sections == ["open", "resolved"]

        def listed(section):
            return page.locator(f'[data-section="{section}"] [data-incident]').evaluate_all(
                "items => items.map(i => Number(i.dataset.incident))"
            )

        assert listed("open") == [identified, outage]  # newest first
        assert listed("resolved") == [first_fixed, second_fixed]  # most recently resolved first
        assert page.locator(f'[data-incident="{long_ago}"]').count() == 0
        for number in (identified, outage, first_fixed, second_fixed):
            link = page.locator(f'[data-incident="{number}"] a')
            assert link.get_attribute("href") == f"/incident/{number}"
        # The open incident's latest comment is shown with it, rendered.
        latest = page.locator(f'[data-incident="{outage}"] .latest')
        assert latest.locator("strong").inner_text() == "done"

        page.locator(f'[data-incident="{outage}"] a').click()
        page.wait_for_url(f"{live_server.url}/incident/{outage}")
        article = page.locator(f'article[data-incident="{outage}"]')
        assert article.locator("h1").inner_text() == "Database failover"
        assert article.locator(".state").get_attribute("data-state") == "open"
        assert page.title().startswith("Database failover")
        body = article.locator('[data-entry="body"] .markdown')
        assert body.locator("strong").inner_text() == "most users"
        assert body.locator("em").inner_text() == "nobody"
        assert body.locator("ul > li").all_inner_texts() == ["web", "mobile apps"]
        assert body.locator("code").inner_text() == "failover --check"
        runbook = body.locator("a")
        assert runbook.inner_text() == "the runbook"
        assert runbook.get_attribute("href") == "https://runbooks.example.com/db"
        assert "**" not in body.inner_text()
        entries = article.locator(".timeline > .entry").evaluate_all(
            "entries => entries.map(e => e.dataset.entry)"
        )
        assert entries == ["body", "comment", "comment"]  # oldest first
        comments = article.locator('[data-entry="comment"] .markdown')
        assert comments.nth(0).locator("em").inner_text() == "on it"
        assert comments.nth(1).locator("ol > li").all_inner_texts() == ["checked", "done"]

        page.go_back()
        page.wait_for_url(f"{live_server.url}/")
        page.locator(f'[data-incident="{first_fixed}"] a').click()
        page.wait_for_url(f"{live_server.url}/incident/{first_fixed}")
        assert page.locator(".state").get_attribute("data-state") == "resolved"
        assert page.locator(".state").inner_text() == "Resolved"
        entries = page.locator(".timeline > .entry").evaluate_all(
            "entries => entries.map(e => e.dataset.entry)"
        )
        assert entries == ["body", "resolved"]
        page.get_by_role("link", name="All systems").click()
        page.wait_for_url(f"{live_server.url}/")

        visit.open(f"/incident/{identified}")
        assert page.locator(".state").get_attribute("data-state") == "identified"
        visit.open(f"/incident/{long_ago}")  # not listed any more, its page stays
        assert page.locator(".state").get_attribute("data-state") == "resolved"
        assert visit.problems == []

        visit.open("/incident/999", status=404)
        assert page.locator("h1").inner_text() == "Not found"
        page.get_by_role("link", name="See the status of all systems").click()
        page.wait_for_url(f"{live_server.url}/")
        assert overall(page) == "NO_DATA"


# --- Nothing from the database runs --------------------------------------------------------

PAYLOADS = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    '<svg onload="window.__pwned=1"></svg>',
    '<iframe src="javascript:window.__pwned=1"></iframe>',
    '"><b onmouseover="window.__pwned=1">bold?</b>',
]
MARKDOWN_PAYLOADS = [
    "[x](javascript:window.__pwned=1)",
    "[y](JaVaScRiPt:window.__pwned=1)",
    "<javascript:window.__pwned=1>",
    '<a href="javascript:window.__pwned=1">raw link</a>',
]
EVIL = " ".join(PAYLOADS)
EVIL_TAG = '"><img src=x onerror=window.__pwned=1>'
EVIL_MONITORS = [
    {"tag": "earth", "name": EVIL, "description": EVIL},
    {"tag": EVIL_TAG, "name": "Tagged", "description": "its tag is markup"},
]


@pytest.mark.parametrize("monitors", [EVIL_MONITORS], indirect=True, ids=["markup"])
def test_markup_from_the_database_is_shown_never_run(browser, api, live_server, clock):
    push(api, "earth", "DOWN", START)
    push(api, EVIL_TAG, "UP", START)
    markdown = EVIL + "\n\n" + "\n\n".join(MARKDOWN_PAYLOADS)
    number = create_incident(api, EVIL, body=markdown, tags=["earth", EVIL_TAG])
    comment(api, number, markdown)
    # The page's policy forbids every script; it is bypassed here so that what is tested is
    # that the markup never becomes elements at all.
    shown_text = {
        "/": [*PAYLOADS, EVIL_TAG],
        f"/incident/{number}": [*PAYLOADS, *MARKDOWN_PAYLOADS, EVIL_TAG],
        "/embed-earth": PAYLOADS,
        f"/embed-{quote(EVIL_TAG, safe='')}": ["Tagged", "its tag is markup"],
    }
    with visiting(browser, live_server.url, bypass_csp=True) as visit:
        page = visit.page
        for path, texts in shown_text.items():
            visit.open(path)
            assert page.evaluate(INERT) == NOTHING_RAN, path
            text = page.locator("body").inner_text()
            for expected in texts:
                assert expected in text, (path, expected)
            # Events on every element would run any handler that slipped through.
            page.evaluate(FIRE_EVENTS)
            assert page.evaluate("typeof window.__pwned") == "undefined", path
        assert shown_tags(page) == [EVIL_TAG]

        visit.open(f"/incident/{number}")
        assert page.title().startswith(EVIL)
        body = page.locator('[data-entry="body"] .markdown')
        for payload in MARKDOWN_PAYLOADS:
            assert payload in body.inner_text(), payload
        # The javascript: link is text; clicking it goes nowhere and runs nothing.
        page.get_by_text("[x](javascript:window.__pwned=1)").first.click()
        assert page.url == f"{live_server.url}/incident/{number}"
        assert page.evaluate(INERT) == NOTHING_RAN

        visit.open("/")
        assert page.locator('[data-monitor="earth"] h3').inner_text() == EVIL
        assert page.locator(f'[data-incident="{number}"] a').inner_text() == EVIL
        page.locator(f'[data-incident="{number}"] a').click()
        page.wait_for_url(f"{live_server.url}/incident/{number}")
        assert page.evaluate(INERT) == NOTHING_RAN
        assert visit.problems == []


def test_markup_in_a_badge_label_is_shown_never_run(browser, live_server):
    with visiting(browser, live_server.url) as visit:
        page = visit.page
        for kind in ("status", "uptime"):
            for label in PAYLOADS:
                answer = visit.open(f"/badge/earth/{kind}?label={quote(label)}")
                assert answer.headers["content-type"] == "image/svg+xml"
                found = page.evaluate(
                    """() => ({
                        pwned: typeof window.__pwned,
                        root: document.documentElement.localName,
                        scripts: document.querySelectorAll('script').length,
                        images: document.querySelectorAll('img, image').length,
                        svgs: document.querySelectorAll('svg').length,
                        frames: document.querySelectorAll('iframe, foreignObject').length,
                        handlers: [...document.querySelectorAll('*')]
                            .flatMap(e => [...e.attributes].filter(a => a.name.startsWith('on'))),
                        texts: [...document.querySelectorAll('text')].map(t => t.textContent),
                    })"""
                )
                texts = found.pop("texts")
                assert any(text.startswith(label) for text in texts), (kind, label, texts)
                assert found == {
                    "pwned": "undefined",
                    "root": "svg",
                    "scripts": 0,
                    "images": 0,
                    "svgs": 1,
                    "frames": 0,
                    "handlers": [],
                }, (kind, label)
        assert visit.problems == []


# --- Layout, themes, requests ------------------------------------------------------------------

LONG_WORD = "https://status.example.com/a/very/long/path/" + "x" * 120


def seed_long_incident(api) -> int:
    body = (
        f"{LONG_WORD}\n\n```\n{'y' * 300}\n```\n\n| column | other |\n|---|---|\n"
        f"| {'z' * 150} | {'w' * 150} |\n"
    )
    number = create_incident(api, f"Deploy {'a' * 120}", body=body, tags=["earth", "google"])
    comment(api, number, LONG_WORD)
    return number


def test_pages_fit_a_phone(browser, api, live_server, clock):
    seed_history(api)
    numbers = seed_incidents(api, clock)
    long_one = seed_long_incident(api)
    options = {"viewport": PHONE, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
    with visiting(browser, live_server.url, **options) as visit:
        page = visit.page
        for path in (
            "/",
            f"/incident/{numbers['outage']}",
            f"/incident/{long_one}",
            "/embed-earth",
            "/incident/999",
        ):
            visit.open(path, status=404 if path.endswith("999") else 200)
            assert scroll_width(page) <= PHONE["width"], path
        visit.open("/")
        assert shown_tags(page) == SHOWN
        # A focused day's tip stays on the screen too.
        cell = page.locator(f'[data-monitor="moon"] [data-date="{day(0)}"]')
        cell.focus()
        assert tip_shown(cell)
        assert scroll_width(page) <= PHONE["width"]
        box = cell.locator(".tip").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        screenshot(page, "status-phone.png")


def test_no_console_errors_failed_or_foreign_requests(browser, api, live_server, clock):
    seed_history(api)
    numbers = seed_incidents(api, clock)
    found = {}
    with visiting(browser, live_server.url) as visit:
        page = visit.page
        for path in (
            "/",
            f"/incident/{numbers['outage']}",
            f"/incident/{numbers['renewal']}",
            "/embed-earth",
            "/embed-google?theme=dark&bgc=1e1e1e",
        ):
            visit.problems.clear()
            visit.open(path)
            page.wait_for_load_state("networkidle")  # the browser's own requests come later
            # The stylesheet applied: the background is the page's, not the browser's.
            assert body_colours(page)[0] not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)"), path
            found[path] = list(visit.problems)
        assert f"{live_server.url}/assets/status.css" in visit.requested
        assert {urlsplit(url).netloc for url in visit.requested} == {urlsplit(visit.origin).netloc}
    pages = {path: problems for path, problems in found.items() if "/embed-" not in path}
    embeds = {path: problems for path, problems in found.items() if "/embed-" in path}
    assert pages == dict.fromkeys(pages, [])
    # The embed opened as a page, not framed, still asks for nothing that fails.
    assert embeds == dict.fromkeys(embeds, [])


@contextlib.contextmanager
def another_site(html: str):
    """A page on another origin (another port of the loopback: Chromium refuses a public
    page's frames of the local network), for framing."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_the_embed_can_be_framed_and_the_page_cannot(browser, api, live_server):
    seed_history(api)
    embed = f"{live_server.url}/embed-earth?theme=dark&bgc=1e1e1e"
    html = (
        '<!doctype html><title>Framer</title><link rel="icon" href="data:,">'
        f'<iframe id="embed" title="Earth" src="{embed}" width="900" height="220"></iframe>'
        f'<iframe id="page" title="Status" src="{live_server.url}/"></iframe>'
    )
    with another_site(html) as framer, visiting(browser, framer) as visit:
        visit.open("/")
        page = visit.page
        page.wait_for_load_state("networkidle")
        frame = page.frame_locator("#embed")
        row = frame.locator('[data-monitor="earth"]')
        assert cells(row) == expected_cells(DAY_STATUS["earth"])
        assert row.locator(".current [data-status]").get_attribute("data-status") == "UP"
        background = frame.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")
        assert background == "rgb(30, 30, 30)"
        # The page itself refuses to be framed (X-Frame-Options, frame-ancestors).
        assert page.frame_locator("#page").locator("[data-overall]").count() == 0
        refused = f"failed: {live_server.url}/ (net::ERR_BLOCKED_BY_RESPONSE)"
        assert refused in visit.problems
        refusals = [p for p in visit.problems if "violates" in p and "frame-ancestors 'none'" in p]
        assert len(refusals) == 1, visit.problems
        # Nothing else went wrong; that the server is another host than the framer is the point.
        others = {p for p in visit.problems if p != refused and p not in refusals}
        assert others == {
            f"request to another host: GET {embed}",
            f"request to another host: GET {live_server.url}/",
            f"request to another host: GET {live_server.url}/assets/status.css",
        }


def test_dark_mode(browser, api, live_server, clock):
    seed_history(api)
    number = seed_incidents(api, clock)["outage"]
    colours = {}
    for scheme in ("light", "dark"):
        with visiting(browser, live_server.url, color_scheme=scheme) as visit:
            for path in ("/", f"/incident/{number}"):
                visit.open(path)
                colours[scheme, path] = body_colours(visit.page)
            visit.open("/")
            screenshot(visit.page, f"status-{scheme}.png")
            # The embed's theme wins over the reader's preference; bgc over the theme.
            visit.open("/embed-earth?theme=dark")
            colours[scheme, "embed dark"] = body_colours(visit.page)
            visit.open("/embed-earth?theme=light")
            colours[scheme, "embed light"] = body_colours(visit.page)
            visit.open("/embed-earth?bgc=%23123456")
            assert body_colours(visit.page)[0] == "rgb(18, 52, 86)"
            assert visit.problems == []
    for path in ("/", f"/incident/{number}"):
        light, dark = colours["light", path], colours["dark", path]
        assert light[0] != dark[0] and light[1] != dark[1], (path, light, dark)
    for scheme in ("light", "dark"):
        assert colours[scheme, "embed dark"] == colours["dark", "/"]
        assert colours[scheme, "embed light"] == colours["light", "/"]


# --- Accessibility -----------------------------------------------------------------------------


def test_axe_finds_no_serious_violation(browser, api, live_server, clock):
    seed_history(api)
    numbers = seed_incidents(api, clock)
    seed_long_incident(api)
    pages = [
        ("/", {}),
        ("/", {"color_scheme": "dark"}),
        ("/", {"viewport": PHONE, "is_mobile": True}),
        (f"/incident/{numbers['outage']}", {}),
        (f"/incident/{numbers['renewal']}", {"color_scheme": "dark"}),
        ("/embed-earth", {}),
        ("/embed-earth?theme=dark&bgc=1e1e1e", {}),
        ("/incident/999", {}),
    ]
    failures = []
    for path, options in pages:
        with visiting(browser, live_server.url, **options) as visit:
            visit.open(path, status=404 if path.endswith("999") else 200)
            serious, description = serious_violations(visit.page)
            if description:
                print(f"axe on {path} {options}:\n{description}")
            if serious:
                failures.append(f"{path} {options}:\n{description}")
            if path == "/" and "viewport" not in options:
                # A focused day's tip, as a keyboard user reads it.
                visit.page.locator(f'[data-monitor="earth"] [data-date="{day(1)}"]').focus()
                serious, description = serious_violations(visit.page, ".day:focus .tip")
                if serious:
                    failures.append(f"{path} {options}, a focused tip:\n{description}")
    assert not failures, "\n\n".join(failures)


# --- Without JavaScript --------------------------------------------------------------------------


def test_the_pages_need_no_javascript(browser, api, live_server, clock):
    seed_history(api)
    numbers = seed_incidents(api, clock)
    with visiting(browser, live_server.url, java_script_enabled=False) as visit:
        page = visit.page
        visit.open("/")
        assert overall(page) == "DEGRADED"
        assert shown_tags(page) == SHOWN
        for tag in SHOWN:
            row = page.locator(f'[data-monitor="{tag}"]')
            assert row.is_visible()
            days = row.locator("li[data-date][data-status]")
            assert days.count() == HISTORY_DAYS
            assert all(days.nth(i).is_visible() for i in (0, 45, 89))
            assert cells(row) == expected_cells(DAY_STATUS[tag])
        cell = page.locator(f'[data-monitor="earth"] [data-date="{day(1)}"]')
        cell.focus()
        assert tip_shown(cell)  # the tips are CSS alone
        assert page.locator("[data-section=open] [data-incident]").count() == 2
        visit.open(f"/incident/{numbers['outage']}")
        assert page.locator(".markdown strong").first.inner_text() == "most users"
        visit.open("/embed-earth")
        assert page.locator("li[data-date]").count() == HISTORY_DAYS
        assert visit.problems == []


# --- Screenshots ---------------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_screenshots(browser, api, live_server, clock):
    """Screenshots to look at (tests/artefacts/); the pages do not depend on the database."""
    seed_history(api)
    numbers = seed_incidents(api, clock)
    with visiting(browser, live_server.url) as visit:
        visit.open(f"/incident/{numbers['outage']}")
        screenshot(visit.page, "incident.png")
        visit.open("/incident/999", status=404)
        screenshot(visit.page, "not-found.png")
    # The embed at the size of a frame.
    with visiting(browser, live_server.url, viewport={"width": 900, "height": 220}) as visit:
        visit.open("/embed-earth")
        screenshot(visit.page, "embed.png")
        visit.open("/embed-earth?theme=dark&bgc=1e1e1e")
        screenshot(visit.page, "embed-dark.png")
    for name in ("incident.png", "embed.png", "embed-dark.png", "not-found.png"):
        assert (ARTEFACTS / name).stat().st_size > 1000


README_MONITORS = [
    {"tag": "website", "name": "Website", "description": "www.acme.example and its CDN"},
    {"tag": "api", "name": "API", "description": "api.acme.example, REST and webhooks"},
    {
        "tag": "database",
        "name": "Database",
        "description": "Primary PostgreSQL cluster",
        "includeDegradedInDowntime": True,
    },
    {"tag": "email", "name": "Email", "description": "Notification and receipt emails"},
    {"tag": "internal", "name": "Internal", "hidden": True},
]
README_SITE = {
    "title": "Acme status",
    "siteName": "Acme",
    "home": "/",
    "description": "Live status of Acme's services, and what we are doing about problems.",
}
# Per monitor, the days back with trouble: {days back: {slot: status}}, slots every 3 hours.
README_TROUBLE = {
    "website": {41: {3: "DEGRADED"}, 8: {5: "DEGRADED", 6: "DEGRADED"}},
    "api": {67: {2: "DOWN"}, 6: {4: "DOWN", 5: "DOWN", 6: "DEGRADED"}},
    "database": {6: {4: "DEGRADED", 5: "DOWN"}, 30: {1: "DEGRADED"}},
    "email": {0: {2: "DEGRADED", 3: "DEGRADED", 4: "DEGRADED"}, 19: {7: "DOWN"}},
}
README_SINCE = {"website": 89, "api": 89, "database": 89, "email": 59}  # email: newer


@pytest.mark.skipif(
    os.environ.get("KENER_UPDATE_SCREENSHOT") != "1",
    reason="writes docs/status-page.png only with KENER_UPDATE_SCREENSHOT=1",
)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("site", [README_SITE], indirect=True, ids=["acme"])
@pytest.mark.parametrize("monitors", [README_MONITORS], indirect=True, ids=["acme"])
def test_readme_screenshot(browser, api, live_server, clock):
    now = int(clock())
    for tag, since in README_SINCE.items():
        for days_back in range(since, -1, -1):
            trouble = README_TROUBLE[tag].get(days_back, {})
            for slot in range(8):
                at = TODAY - days_back * DAY + slot * 3 * 3600 + (7 * slot + len(tag)) * 60
                if at <= now:
                    push(api, tag, trouble.get(slot, "UP"), at)
    # The incidents as they happened: the clock is set back to each moment, then to now.
    six_days_ago = TODAY - 6 * DAY
    clock.now = six_days_ago + 12 * 3600 + 600
    outage = create_incident(
        api,
        "API errors after a database failover",
        tags=["api", "database"],
        impact="DOWN",
        startDatetime=six_days_ago + 12 * 3600,
        endDatetime=six_days_ago + 19 * 3600,
        body="Requests to the API failed while the primary database was replaced.",
    )
    clock.now = six_days_ago + 18 * 3600 + 3000
    comment(api, outage, "The new primary is serving; error rates are back to normal.")
    clock.now = six_days_ago + 19 * 3600
    resolve(api, outage)
    clock.now = TODAY + 6 * 3600 + 900
    emails = create_incident(
        api,
        "Emails delayed by up to 20 minutes",
        tags=["email"],
        impact="DEGRADED",
        isIdentified=True,
        startDatetime=TODAY + 6 * 3600,
        body="Our email provider is **throttling** us; messages are queued, none are lost.",
    )
    clock.now = TODAY + 11 * 3600 + 2400
    comment(api, emails, "We have moved half the traffic to a second provider.")
    clock.now = now
    with visiting(browser, live_server.url, device_scale_factor=2) as visit:
        visit.open("/")
        assert overall(visit.page) == "DEGRADED"
        README_SCREENSHOT.parent.mkdir(exist_ok=True)
        visit.page.screenshot(path=str(README_SCREENSHOT), full_page=True)
        assert visit.problems == []


def test_the_contract_in_the_browser_lists_every_operation_and_calls_them(
    browser, api, live_server
):
    from kener_api.app import SPEC_PATH
    from tests.conftest import TOKEN

    pushed = api.post("/api/status", json={"status": "UP", "latency": 1, "tag": "earth"})
    assert pushed.status_code == 200, pushed.text
    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    operations = {
        operation["operationId"]
        for item in spec["paths"].values()
        for method, operation in item.items()
        if method != "parameters"
    }
    with visiting(browser, live_server.url) as visit:
        page = visit.page
        visit.open("/docs")
        page.wait_for_selector(".opblock")
        page.wait_for_load_state("networkidle")
        shown = set(page.locator(".opblock .opblock-summary-operation-id").all_inner_texts())
        if not shown:  # Swagger UI shows operationIds only with displayOperationId
            shown = {
                element.get_attribute("id").rsplit("-", 1)[-1]
                for element in page.locator(".opblock").element_handles()
            }
        assert shown == operations
        # "Authorize" takes the bearer token, and "Try it out" then calls this server with it.
        page.click("button.authorize")
        page.locator(".modal-ux input").first.fill(TOKEN)
        page.locator(".modal-ux .auth-btn-wrapper button.authorize").click()
        page.locator(".modal-ux button.btn-done").click()
        block = page.locator("#operations-Monitors-getMonitorStatus")
        block.locator(".opblock-summary").click()
        block.locator("button.try-out__btn").click()
        block.locator("input[placeholder='tag']").fill("earth")
        block.locator("button.execute").click()
        status = block.locator(".live-responses-table tbody .response-col_status").first
        status.wait_for()
        assert status.inner_text().strip() == "200"
        assert (
            '"status": "UP"'
            in block.locator(".live-responses-table .microlight").first.inner_text()
        )
        assert visit.problems == []
        assert {urlsplit(url).netloc for url in visit.requested} == {urlsplit(visit.origin).netloc}
