"""The public operations over HTTP: badges, feeds, headers, 404s, settings. What a browser
shows is tested in test_browser.py."""

import base64
import dataclasses
import hashlib
import re
import xml.etree.ElementTree as ET

import feedparser
import httpx
import pytest

from kener_api import Settings, create_app
from kener_api.site import SiteFileError, load_site
from tests.api_setup import comment, create_incident, push
from tests.conftest import TOKEN, serving

SVG = "{http://www.w3.org/2000/svg}"
DAY = 86_400
HTML_PATHS = ["/", "/embed-earth", "/incident/1", "/incident/999", "/incident/x", "/embed-mars"]


@pytest.fixture
def monitors_file(tmp_path):
    path = tmp_path / "monitors.yaml"
    path.write_text(
        "- tag: earth\n  name: Earth\n"
        "- tag: google\n  name: Google\n  includeDegradedInDowntime: true\n"
        "- tag: secret\n  name: Secret\n  hidden: true\n"
    )
    return path


@pytest.fixture
def settings(settings, monitors_file, tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text("title: Acme status\nsiteName: Acme\nsiteURL: https://status.acme.test\n")
    return dataclasses.replace(settings, monitors_file=monitors_file, site_file=site)


def svg_texts(answer: httpx.Response) -> tuple[ET.Element, list[str]]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/svg+xml"
    root = ET.fromstring(answer.content)
    assert root.tag == f"{SVG}svg"
    visible = [t.text for t in root.iter(f"{SVG}text") if t.get("aria-hidden") != "true"]
    return root, visible


# --- Badges -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message", "colour"),
    [("UP", "UP", "#00dfa2"), ("DEGRADED", "DEGRADED", "#e6ca61"), ("DOWN", "DOWN", "#ca3038")],
)
def test_status_badge_says_current_status(api, anonymous, clock, status, message, colour):
    push(api, "earth", "UP", int(clock()) - 120)
    push(api, "earth", status, int(clock()))
    root, texts = svg_texts(anonymous.get("/badge/earth/status"))
    assert texts == ["Earth", message]
    assert root.find(f"{SVG}title").text == f"Earth: {message}"
    assert colour in [rect.get("fill") for rect in root.iter(f"{SVG}rect")]
    assert anonymous.get("/badge/earth/status").headers["cache-control"] == "public, no-cache"


def test_status_badge_without_data(anonymous):
    _, texts = svg_texts(anonymous.get("/badge/earth/status"))
    assert texts == ["Earth", "NO DATA"]


def test_status_badge_of_all_shown_monitors_is_the_worst(api, anonymous, clock):
    now = int(clock())
    push(api, "earth", "UP", now)
    push(api, "secret", "DOWN", now)  # hidden: not counted
    assert svg_texts(anonymous.get("/badge/_/status"))[1] == ["status", "UP"]
    push(api, "google", "DEGRADED", now)
    assert svg_texts(anonymous.get("/badge/_/status"))[1] == ["status", "DEGRADED"]
    push(api, "earth", "DOWN", now)
    assert svg_texts(anonymous.get("/badge/_/status?label=All"))[1] == ["All", "DOWN"]


def test_uptime_badge_windows(api, anonymous, clock):
    now = int(clock())
    # Last hour: 3 UP, 1 DOWN. 2 days ago: 4 DOWN. Outside 90 days: nothing can be stored.
    for minutes, status in [(0, "UP"), (10, "UP"), (20, "UP"), (30, "DOWN")]:
        push(api, "earth", status, now - minutes * 60)
    for minutes in range(4):
        push(api, "earth", "DOWN", now - 2 * DAY - minutes * 60)
    assert svg_texts(anonymous.get("/badge/earth/uptime?sinceLast=3600"))[1] == [
        "Earth 1h",
        "75.0000%",  # the API's format: only multiples of 10 lose their decimals
    ]
    assert svg_texts(anonymous.get("/badge/earth/uptime"))[1] == ["Earth 90d", "37.5000%"]
    assert svg_texts(anonymous.get("/badge/earth/uptime?sinceLast=86400"))[1] == [
        "Earth 1d",
        "75.0000%",
    ]
    assert svg_texts(anonymous.get("/badge/earth/uptime?sinceLast=90&hideDuration=true"))[1] == [
        "Earth",
        "100%",
    ]
    assert svg_texts(anonymous.get("/badge/earth/uptime?sinceLast=1800"))[1][0] == "Earth 30m"
    assert svg_texts(anonymous.get("/badge/earth/uptime?sinceLast=61"))[1][0] == "Earth 61s"
    assert svg_texts(anonymous.get("/badge/google/uptime"))[1] == ["Google 90d", "-"]


def test_uptime_badge_counts_by_the_monitors_rule(api, anonymous, clock):
    now = int(clock())
    for tag in ("earth", "google"):
        push(api, tag, "UP", now)
        push(api, tag, "DEGRADED", now - 60)
    # earth counts DEGRADED as up; google (includeDegradedInDowntime) as down.
    assert svg_texts(anonymous.get("/badge/earth/uptime"))[1][1] == "100%"
    assert svg_texts(anonymous.get("/badge/google/uptime"))[1][1] == "50%"
    # As GET /api/status counts today's.
    assert api.get("/api/status", params={"tag": "google"}).json()["uptime"] == "50"


def test_badge_parameters(api, anonymous):
    root, texts = svg_texts(
        anonymous.get(
            "/badge/earth/status",
            params={"label": "API", "labelColor": "000", "color": "blue", "style": "flat-square"},
        )
    )
    assert texts == ["API", "NO DATA"]
    fills = [rect.get("fill") for rect in root.iter(f"{SVG}rect")]
    assert "#000" in fills and "#007ec6" in fills
    assert root.find(f"{SVG}clipPath/{SVG}rect").get("rx") == "0"
    root, texts = svg_texts(
        anonymous.get("/badge/earth/status?style=for-the-badge&color=%23ABCDEF")
    )
    assert texts == ["EARTH", "NO DATA"]
    assert root.get("height") == "28"
    assert "#abcdef" in [rect.get("fill") for rect in root.iter(f"{SVG}rect")]


def test_badge_width_follows_the_text(anonymous):
    def width(label):
        root, _ = svg_texts(anonymous.get("/badge/earth/status", params={"label": label}))
        return float(root.get("width"))

    # Measured from the font: "W" is wider than "i", and the width grows with the text.
    assert width("WWWW") > width("iiii") + 15
    assert width("ab") < width("abc") < width("abcd")


def test_dot_badge(api, anonymous, clock):
    push(api, "earth", "DOWN", int(clock()))
    root, _ = svg_texts(anonymous.get("/badge/earth/dot"))
    assert (root.get("width"), root.get("height")) == ("32", "32")
    circles = list(root.iter(f"{SVG}circle"))
    assert [(c.get("r"), c.get("fill")) for c in circles] == [("8", "#ca3038")]
    assert root.find(f"{SVG}title").text == "Earth: DOWN"
    root, _ = svg_texts(anonymous.get("/badge/earth/dot?animate=ping"))
    animated = [a.get("attributeName") for a in root.iter(f"{SVG}animate")]
    assert animated == ["r", "opacity"]
    assert svg_texts(anonymous.get("/badge/_/dot"))[0].find(f"{SVG}title").text == "status: DOWN"


@pytest.mark.parametrize(
    "query",
    [
        "sinceLast=59",
        "sinceLast=7776001",
        "sinceLast=abc",
        "sinceLast=",
        "hideDuration=maybe",
        "color=notacolour",
        "labelColor=%23ggg",
        "style=plastic",
        "label=",
        "label=" + "x" * 101,
    ],
)
def test_invalid_badge_parameters_are_400(anonymous, query):
    answer = anonymous.get(f"/badge/earth/uptime?{query}")
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/json"
    assert query.split("=")[0] in answer.json()["error"]


@pytest.mark.parametrize("kind", ["status", "uptime", "dot"])
def test_unknown_or_hidden_tag_badges_are_404(anonymous, kind):
    for tag in ("mars", "secret"):
        answer = anonymous.get(f"/badge/{tag}/{kind}")
        assert answer.status_code == 404
        assert answer.json() == {"error": f"unknown tag: {tag}"}
    assert anonymous.get("/badge/_/uptime").status_code == 404


def test_markup_in_badge_label_is_escaped(anonymous):
    label = '<script>alert(1)</script><svg onload="x">&'
    answer = anonymous.get("/badge/earth/status", params={"label": label})
    _, texts = svg_texts(answer)  # parses: the markup did not break the document
    assert texts[0] == label
    assert b"<script>" not in answer.content


# --- Feeds -----------------------------------------------------------------------------------


def test_feeds_list_recent_incidents_newest_first(api, anonymous, clock):
    old = create_incident(api, "Too old")
    clock.advance(91 * DAY)
    first = create_incident(api, "First", body="It **broke**.", impact="DOWN")
    clock.advance(60)
    second = create_incident(api, "Second")
    comment(api, first, "Fixed *now*.")
    for path, media_type in (("/rss.xml", "application/rss+xml"), ("/history.atom", "atom")):
        answer = anonymous.get(path)
        assert answer.status_code == 200
        assert media_type in answer.headers["content-type"]
        assert answer.headers["cache-control"] == "public, no-cache"
        feed = feedparser.parse(answer.content)
        assert not feed.bozo, feed.bozo_exception
        assert feed.feed.title == "Acme incidents"
        assert [e.title for e in feed.entries] == ["Second", "First"]
        assert feed.entries[1].link == f"https://status.acme.test/incident/{first}"
        assert feed.entries[0].link == f"https://status.acme.test/incident/{second}"
        content = feed.entries[1].content[0].value if "content" in feed.entries[1] else ""
        content = content or feed.entries[1].summary
        assert "<strong>broke</strong>" in content and "<em>now</em>" in content
        assert str(old) not in [e.link.rsplit("/", 1)[1] for e in feed.entries]


def test_text_xml_cannot_hold_reaches_feeds_and_badges_replaced(api, anonymous):
    number = create_incident(api, "bell\x07 and \x1b escape", body="tab\tok \x0c")
    comment(api, number, "back\x08space")
    for path in ("/rss.xml", "/history.atom"):
        feed = feedparser.parse(anonymous.get(path).content)
        assert not feed.bozo, feed.bozo_exception
        assert feed.entries[0].title == "bell\ufffd and \ufffd escape"
    _, texts = svg_texts(anonymous.get("/badge/earth/status", params={"label": "a\x01b"}))
    assert texts[0] == "a\ufffdb"
    _, texts = svg_texts(anonymous.get("/badge/earth/status?style=for-the-badge&label=x%EF%BF%BF"))
    assert texts[0] == "X\ufffd"


def test_feeds_hold_at_most_50_entries(api, anonymous, clock):
    for i in range(52):
        create_incident(api, f"Incident {i}")
        clock.advance(1)
    feed = feedparser.parse(anonymous.get("/rss.xml").content)
    assert len(feed.entries) == 50
    assert feed.entries[0].title == "Incident 51"


def test_feed_links_use_the_request_host_without_a_site_url(settings, tmp_path):
    site = tmp_path / "bare-site.yaml"
    site.write_text("title: Bare\n")
    app = create_app(dataclasses.replace(settings, site_file=site))
    with serving(app, settings) as url:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        number = httpx.post(
            f"{url}/api/incident", json={"title": "t", "tags": ["earth"]}, headers=headers
        ).json()["incidentNumber"]
        feed = feedparser.parse(httpx.get(f"{url}/history.atom").content)
    assert feed.entries[0].link == f"{url}/incident/{number}"


# --- Pages over HTTP ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", HTML_PATHS)
def test_every_html_answer_carries_the_security_headers(api, anonymous, path):
    create_incident(api, "One")
    answer = anonymous.get(path)
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "style-src 'self'" in policy
    assert "script-src" not in policy  # falls back to default-src 'none': no script at all
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    if path == "/embed-earth":
        assert "frame-ancestors *" in policy
        assert "x-frame-options" not in answer.headers
    else:
        assert "frame-ancestors 'none'" in policy
        assert answer.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    "path",
    [
        "/incident/999",
        "/incident/x",
        "/incident/0",
        "/incident/-1",
        "/incident/%EF%BC%91",  # a fullwidth digit one
        "/incident/9223372036854775808",  # past the largest key
        "/incident/" + "9" * 32,
        "/embed-secret",
        "/embed-mars",
    ],
)
def test_unknown_pages_are_the_404_page(anonymous, path):
    answer = anonymous.get(path)
    assert answer.status_code == 404
    assert "<h1>Not found</h1>" in answer.text


def test_pages_ignore_unknown_query_parameters(anonymous):
    assert anonymous.get("/?utm_source=mail&ref=x").status_code == 200
    assert anonymous.get("/badge/earth/status?cacheSeconds=300").status_code == 200
    assert anonymous.get("/embed-earth?theme=purple").status_code == 400
    assert anonymous.get("/embed-earth?bgc=red;x").status_code == 400


def test_embed_background_is_allowed_by_its_hash_only(anonymous):
    answer = anonymous.get("/embed-earth?theme=dark&bgc=1e1e1e")
    style = "body.embed { background: #1e1e1e; }"
    assert f"<style>{style}</style>" in answer.text
    assert 'class="theme-dark"' in answer.text
    allowed = re.findall(r"'sha256-([^']+)'", answer.headers["content-security-policy"])
    assert allowed == [base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()]
    # Another colour is another style, allowed by another hash; none without a colour.
    other = anonymous.get("/embed-earth?bgc=fff").headers["content-security-policy"]
    assert allowed[0] not in other and "'sha256-" in other
    assert "'sha256-" not in anonymous.get("/embed-earth").headers["content-security-policy"]


def test_database_text_reaches_pages_escaped(api, anonymous, monitors_file):
    markup = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    number = create_incident(api, markup, body=markup + "\n\n[x](javascript:alert(3))")
    comment(api, number, markup)
    for path in ("/", f"/incident/{number}", "/rss.xml"):
        text = anonymous.get(path).text
        assert "<script>" not in text and "<img" not in text
        assert 'href="javascript:' not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in anonymous.get(f"/incident/{number}").text


def test_incident_times_past_year_9999_are_shown_not_a_server_error(api, anonymous):
    # The contract takes any int64 as startDatetime and endDatetime; no calendar date holds
    # 2**62 seconds: the pages show the number.
    start, end = 2**62, 2**63 - 1
    number = create_incident(api, "far future", startDatetime=start, endDatetime=end)
    for path in ("/", f"/incident/{number}", "/rss.xml", "/history.atom", "/embed-earth"):
        answer = anonymous.get(path)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    page = anonymous.get(f"/incident/{number}").text
    assert f"{start} s after 1970-01-01 UTC" in page and f"{end} s after 1970-01-01 UTC" in page
    assert f'datetime="PT{start}S"' in page


def test_public_paths_need_no_credential_and_api_paths_still_do(anonymous):
    for path in ("/", "/rss.xml", "/badge/earth/status", "/assets/status.css"):
        assert anonymous.get(path).status_code == 200, path
    assert anonymous.get("/api/status?tag=earth").status_code == 401


def test_assets(anonymous):
    css = anonymous.get("/assets/status.css")
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert "prefers-color-scheme: dark" in css.text
    icon = anonymous.get("/assets/favicon.svg")
    assert icon.headers["content-type"] == "image/svg+xml"
    assert anonymous.get("/favicon.ico").content == icon.content
    assert anonymous.get("/assets/other.js").status_code == 400


def test_private_deployment_serves_no_public_path(settings):
    app = create_app(dataclasses.replace(settings, public_pages=False))
    client = app.test_client(headers={"Authorization": f"Bearer {TOKEN}"})
    for path in ("/", "/incident/1", "/embed-earth", "/badge/earth/status", "/rss.xml"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.json() == {"error": f"no such path: {path!r}"}
    assert client.get("/api/status", params={"tag": "earth"}).status_code == 200


def test_public_pages_setting_from_the_environment():
    assert Settings.load({"KENER_PUBLIC_PAGES": "false"}).public_pages is False
    assert Settings.load({}).public_pages is True
    assert Settings.load({"KENER_PUBLIC_URL": "https://x.test"}).public_url == "https://x.test"


# --- site.yaml ---------------------------------------------------------------------------------


def test_site_file_in_kener_format(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(
        "title: T\nsiteName: N\nhome: https://acme.test\nsiteURL: https://s.acme.test\n"
        "description: D\ntheme: dark\nnav: [{name: x}]\nhero: {title: H}\n"
    )
    site = load_site(path)
    assert (site.title, site.site_name, site.home, site.site_url, site.description) == (
        "T",
        "N",
        "https://acme.test",
        "https://s.acme.test",
        "D",
    )
    assert load_site(path, public_url="https://other.test").site_url == "https://other.test"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("title: [unclosed\n", "not valid YAML"),
        ("- a list\n", "must be a mapping"),
        ("title: 3\n", "title must be a string, got 3"),
        ("siteURL: /relative\n", "siteURL must be an absolute http(s) URL"),
    ],
)
def test_broken_site_file_names_file_and_problem(tmp_path, content, problem):
    path = tmp_path / "site.yaml"
    path.write_text(content)
    with pytest.raises(SiteFileError) as error:
        load_site(path)
    assert str(path) in str(error.value) and problem in str(error.value)


def test_broken_site_file_stops_start_up(settings, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("siteName: [x]\n")
    with pytest.raises(SiteFileError, match="siteName must be a string"):
        create_app(dataclasses.replace(settings, site_file=path))
