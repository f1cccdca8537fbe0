"""The public answers are kept (kener_api.public_cache) yet never stale: every write, by this
server, by another server process or by a plain SQL connection, shows on the next request;
the clock's next minute refreshes them; entity tags and `If-None-Match` follow RFC 9110; the
memory they take is bounded. Real servers and databases (SQLite and PostgreSQL), no mocks."""

import re
import socket
import threading
from urllib.parse import urlsplit

import feedparser
import httpx
import pytest
from playhouse.db_url import connect

import storage
from kener_api import public_cache
from storage.models import SchemaVersion, database
from tests.api_setup import comment, create_incident, push, resolve
from tests.conftest import TOKEN, serve_processes

DAY = 86_400
CACHED_PATHS = [
    "/",
    "/incident/1",
    "/embed-earth",
    "/embed-earth?theme=dark&bgc=1e1e1e",
    "/badge/earth/status",
    "/badge/_/status",
    "/badge/earth/uptime",
    "/badge/earth/uptime?sinceLast=3600&hideDuration=true",
    "/badge/earth/dot",
    "/badge/_/dot?animate=ping",
    "/rss.xml",
    "/history.atom",
]


def current_status(html: str, tag: str = "earth") -> str:
    found = re.search(
        rf'data-monitor="{tag}".*?class="current"><span class="[^"]*" data-status="(\w+)"',
        html,
        re.DOTALL,
    )
    assert found, html[:500]
    return found.group(1)


def badge_message(svg: str) -> str:
    return re.search(r"<title>[^<]*: ([^<]*)</title>", svg).group(1)


def feed_titles(answer: httpx.Response) -> list[str]:
    return [entry.title for entry in feedparser.parse(answer.content).entries]


# --- A write shows on the next request ---------------------------------------------------------


def test_a_status_push_shows_on_the_next_request_of_every_path_that_shows_it(api, anonymous, clock):
    now = int(clock())
    push(api, "earth", "UP", now)
    before = {path: anonymous.get(path) for path in CACHED_PATHS if "incident" not in path}
    assert all(answer.status_code == 200 for answer in before.values())
    assert current_status(before["/"].text) == "UP"
    push(api, "earth", "DOWN", now)  # the same minute, rewritten
    after = {path: anonymous.get(path) for path in before}
    assert current_status(after["/"].text) == "DOWN"
    assert current_status(after["/embed-earth"].text) == "DOWN"
    assert badge_message(after["/badge/earth/status"].text) == "DOWN"
    assert badge_message(after["/badge/_/status"].text) == "DOWN"
    assert "#ca3038" in after["/badge/earth/dot"].text
    assert "0%" in after["/badge/earth/uptime"].text
    for path in ("/", "/embed-earth", "/badge/earth/status", "/badge/earth/uptime"):
        assert after[path].headers["etag"] != before[path].headers["etag"], path
    # The feeds show no points: the same answer, the same tag.
    assert after["/rss.xml"].headers["etag"] == before["/rss.xml"].headers["etag"]


def test_incident_writes_show_on_the_next_request(api, anonymous, clock):
    pages = ("/", "/rss.xml", "/history.atom")
    for path in pages:
        anonymous.get(path)  # kept, with no incident
    assert anonymous.get("/incident/1").status_code == 404
    number = create_incident(api, "Database down", impact="DOWN")
    assert anonymous.get(f"/incident/{number}").status_code == 200
    assert 'data-incident="1"' in anonymous.get("/").text
    assert feed_titles(anonymous.get("/rss.xml")) == ["Database down"]
    assert feed_titles(anonymous.get("/history.atom")) == ["Database down"]

    replaced = api.patch(
        f"/api/incident/{number}", json={"title": "Database slow", "tags": ["earth"]}
    )
    assert replaced.status_code == 200, replaced.text
    assert "Database slow" in anonymous.get(f"/incident/{number}").text
    assert "Database slow" in anonymous.get("/").text
    assert feed_titles(anonymous.get("/rss.xml")) == ["Database slow"]

    comment(api, number, "Failing over to the replica")
    assert "Failing over to the replica" in anonymous.get(f"/incident/{number}").text
    assert "Failing over to the replica" in anonymous.get("/").text
    assert "Failing over to the replica" in anonymous.get("/history.atom").text

    resolve(api, number)
    assert 'data-state="resolved"' in anonymous.get(f"/incident/{number}").text
    page = anonymous.get("/").text
    resolved = page[page.index('data-section="resolved"') :]
    assert 'data-incident="1"' in resolved


def test_writes_by_any_connection_show_on_the_next_request(api, anonymous, clock, database_url):
    """The version is the database's, counted by triggers: a bulk load or a tool writing with
    plain SQL, and the retention job, are seen as the server's own writes are."""
    now = int(clock())
    minute = now - now % 60
    push(api, "earth", "UP", now)
    assert badge_message(anonymous.get("/badge/earth/status").text) == "UP"
    other = connect(database_url)
    placeholder = "?" if database_url.startswith("sqlite") else "%s"
    try:
        other.execute_sql(
            "UPDATE data_point SET status = 'DEGRADED' "
            f"WHERE tag = 'earth' AND minute = {placeholder}",
            (minute,),
        )
        assert badge_message(anonymous.get("/badge/earth/status").text) == "DEGRADED"
        other.execute_sql(
            "INSERT INTO data_point (tag, minute, status, latency) "
            f"VALUES ('earth', {placeholder}, 'DOWN', 1.0)",
            (minute - 3 * DAY,),
        )
    finally:
        other.close()
    assert badge_message(anonymous.get("/badge/earth/uptime").text) == "50%"
    storage.maintenance.prune_points(minute - DAY)  # the retention job
    assert badge_message(anonymous.get("/badge/earth/uptime").text) == "100%"


def test_writes_interleaved_with_reads_are_never_missed(api, live_server, clock):
    """While readers fill and refill the kept answers from several threads, each answer read
    after a write was acknowledged shows that write."""
    number = create_incident(api, "Rolling out")
    now = int(clock())
    acknowledged = {"comments": 0}
    problems: list[str] = []
    stop = threading.Event()

    def comments_shown(client) -> int:
        return client.get(f"/incident/{number}").text.count("progress-note")

    def reader() -> None:
        with httpx.Client(base_url=live_server.url, timeout=30) as client:
            while not stop.is_set():
                expected = acknowledged["comments"]
                shown = comments_shown(client)
                if shown < expected:
                    problems.append(f"{shown} comments shown after {expected} acknowledged")

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for thread in readers:
        thread.start()
    try:
        with httpx.Client(base_url=live_server.url, timeout=30) as client:
            for step in range(1, 31):
                comment(api, number, f"progress-note {step}")
                acknowledged["comments"] = step
                assert comments_shown(client) == step
                status = ("UP", "DOWN", "DEGRADED")[step % 3]
                push(api, "earth", status, now)
                assert badge_message(client.get("/badge/earth/status").text) == status
                assert current_status(client.get("/").text) == status
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    assert not problems, problems[:5]


# --- Several server processes on one database ---------------------------------------------------


@pytest.fixture
def two_processes(database_url, tmp_path):
    with serve_processes(database_url, tmp_path) as clients:
        yield clients


# What a load balancer in front of both processes passes on: the feeds' links name it.
BALANCED_HOST = "status.example.test"


def tag_through(client: httpx.Client, path: str) -> str:
    return client.get(path, headers={"Host": BALANCED_HOST}).headers["etag"]


def test_a_write_through_one_process_shows_through_the_other(two_processes):
    writer, reader = two_processes
    auth = {"Authorization": f"Bearer {TOKEN}"}
    paths = ["/", "/badge/earth/status", "/rss.xml", "/incident/1"]
    for path in paths:
        reader.get(path)  # kept by the reader's process
    for status in ("UP", "DOWN"):
        answer = writer.post(
            "/api/status", json={"tag": "earth", "status": status, "latency": 1}, headers=auth
        )
        assert answer.status_code == 200, answer.text
        assert badge_message(reader.get("/badge/earth/status").text) == status
        assert current_status(reader.get("/").text) == status
    answer = writer.post(
        "/api/incident", json={"title": "Seen elsewhere", "tags": ["earth"]}, headers=auth
    )
    assert answer.status_code == 200, answer.text
    number = answer.json()["incidentNumber"]
    assert reader.get(f"/incident/{number}").status_code == 200
    assert feed_titles(reader.get("/rss.xml")) == ["Seen elsewhere"]
    answer = writer.post(
        f"/api/incident/{number}/comment", json={"body": "From the writer"}, headers=auth
    )
    assert answer.status_code == 200, answer.text
    assert "From the writer" in reader.get(f"/incident/{number}").text

    # The same data gives the same tag from either process, and either answers 304 to it.
    for path in [
        "/",
        "/badge/earth/status",
        "/badge/earth/uptime",
        f"/incident/{number}",
        "/history.atom",
    ]:
        first, second = (tag_through(client, path) for client in (writer, reader))
        if second != first:  # the minute or the day turned between the two: once more
            first, second = (tag_through(client, path) for client in (writer, reader))
        assert first == second, path
        answer = reader.get(path, headers={"If-None-Match": first, "Host": BALANCED_HOST})
        assert answer.status_code == 304, path


# --- Entity tags and If-None-Match ---------------------------------------------------------------


@pytest.mark.parametrize("path", CACHED_PATHS)
def test_every_kept_answer_has_a_strong_tag_and_answers_304_to_it(api, anonymous, path):
    create_incident(api, "Tagged")
    answer = anonymous.get(path)
    assert answer.status_code == 200
    etag = answer.headers["etag"]
    assert re.fullmatch(r'"[A-Za-z0-9_-]+"', etag)  # strong: no W/
    assert anonymous.get(path).headers["etag"] == etag  # the same answer, the same tag
    again = anonymous.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == answer.headers["cache-control"]
    assert "content-type" not in again.headers and "content-length" not in again.headers


@pytest.mark.parametrize(
    ("if_none_match", "status"),
    [
        ("{tag}", 304),
        ("W/{tag}", 304),  # weak comparison: the opaque tags are compared
        ('"other", {tag}', 304),
        ('W/"other",W/{tag} , "third"', 304),
        ("*", 304),
        ('"other"', 200),  # a stale tag
        ('W/"other", "also-other"', 200),
        ("{bare}", 200),  # no quotes: no entity tag
        ("{tag} garbage", 200),
        ("garbage, {tag}", 200),  # a value that is no list of tags names nothing
        ('"unterminated', 200),
        ("w/{tag}", 200),  # `W/` is case-sensitive
        ("", 200),
        (", ,", 200),
    ],
)
def test_if_none_match_forms(anonymous, if_none_match, status):
    tag = anonymous.get("/badge/earth/status").headers["etag"]
    value = if_none_match.format(tag=tag, bare=tag.strip('"'))
    answer = anonymous.get("/badge/earth/status", headers={"If-None-Match": value})
    assert answer.status_code == status, value
    if status == 200:
        assert answer.headers["etag"] == tag and answer.content.startswith(b"<svg")


def test_if_none_match_over_several_field_lines(live_server, anonymous):
    tag = anonymous.get("/badge/earth/status").headers["etag"]
    host = urlsplit(live_server.url)
    with socket.create_connection((host.hostname, host.port), timeout=10) as connection:
        connection.sendall(
            b"GET /badge/earth/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b'If-None-Match: "other"\r\nIf-None-Match: ' + tag.encode() + b"\r\n\r\n"
        )
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 304 "), head
    fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
    assert {name.lower(): value for name, value in fields.items()}[b"etag"] == tag.encode()
    assert body == b""  # no body on the wire


def test_a_changed_answer_is_200_with_its_new_tag_to_a_stale_if_none_match(api, anonymous, clock):
    push(api, "earth", "UP", int(clock()))
    old = anonymous.get("/badge/earth/status").headers["etag"]
    push(api, "earth", "DOWN", int(clock()))
    answer = anonymous.get("/badge/earth/status", headers={"If-None-Match": old})
    assert answer.status_code == 200
    assert answer.headers["etag"] != old
    assert badge_message(answer.text) == "DOWN"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/badge/earth/uptime?sinceLast=10", 400),
        ("/embed-earth?bgc=red", 400),
        ("/badge/mars/status", 404),
        ("/embed-mars", 404),
        ("/incident/999", 404),
        ("/incident/x", 404),
    ],
)
def test_bad_requests_stay_errors_whatever_if_none_match_says(anonymous, path, status):
    for value in ("*", '"x"', "\xffgarbage"):
        answer = anonymous.get(path, headers={"If-None-Match": value.encode("latin-1")})
        assert answer.status_code == status, (path, value)
        assert "etag" not in answer.headers


def test_cache_control_says_ask_again(anonymous):
    for path in CACHED_PATHS:
        if "incident" in path:
            continue
        expected = "no-cache" if path == "/" or path.startswith("/embed") else "public, no-cache"
        assert anonymous.get(path).headers["cache-control"] == expected, path


# --- The clock -----------------------------------------------------------------------------------


def test_the_next_minute_refreshes_answers_without_a_write(api, anonymous, clock):
    clock.now = clock.now - clock.now % 60 + 30  # half a minute in
    now = int(clock())
    push(api, "earth", "UP", now)
    path = "/badge/earth/uptime?sinceLast=60"
    assert badge_message(anonymous.get(path).text) == "100%"
    clock.advance(20)  # the same minute: the same answer
    assert badge_message(anonymous.get(path).text) == "100%"
    clock.advance(20)  # the next minute: the window has left the point
    assert badge_message(anonymous.get(path).text) == "-"


def test_a_window_of_no_whole_minutes_moves_within_a_minute(api, anonymous, clock):
    clock.now = clock.now - clock.now % 60 + 10
    now = int(clock())
    push(api, "earth", "DOWN", now - 60)
    push(api, "earth", "UP", now)
    path = "/badge/earth/uptime?sinceLast=90"
    assert badge_message(anonymous.get(path).text) == "50%"  # both minutes
    clock.advance(30)  # the same minute of the clock, but the window starts a minute later
    assert badge_message(anonymous.get(path).text) == "100%"


def test_the_page_follows_the_days_and_the_resolved_window(api, anonymous, clock):
    number = create_incident(api, "Short outage")
    resolve(api, number)
    page = anonymous.get("/").text
    assert 'data-incident="1"' in page
    first_day = re.search(r'data-date="([\d-]+)"', page).group(1)
    clock.advance(15 * DAY)
    page = anonymous.get("/").text
    assert 'data-incident="1"' not in page  # resolved more than 14 days ago
    assert re.search(r'data-date="([\d-]+)"', page).group(1) != first_day


# --- Bounded memory ------------------------------------------------------------------------------


def test_many_distinct_query_strings_stay_within_the_bound(anonymous):
    answers = public_cache.answers
    served = 0
    distinct = 600
    for colour in range(distinct):
        answer = anonymous.get(f"/embed-earth?bgc={colour:06x}")
        assert answer.status_code == 200
        served += len(answer.content)
        assert answers.bytes_held <= answers.max_bytes
    assert served > 1.5 * answers.max_bytes  # more was answered than may be kept
    assert len(answers) < distinct
    # What is counted is no less than what is held: the bodies and the keys.
    with answers._lock:
        kept = list(answers._answers.items())
    assert sum(len(answer.body) + len(repr(key)) for key, answer in kept) <= answers.bytes_held
    # The most recent are kept, and answered from memory with their tags.
    last = anonymous.get(f"/embed-earth?bgc={distinct - 1:06x}")
    assert (
        anonymous.get(last.url, headers={"If-None-Match": last.headers["etag"]}).status_code == 304
    )


def test_a_newer_answer_replaces_the_older(api, anonymous, clock):
    """Every write makes every kept answer useless: the one built next takes its place, and
    writes do not fill memory with answers no request can be given."""
    anonymous.get("/badge/earth/status")
    held = len(public_cache.answers)
    for step in range(20):
        push(api, "earth", ("UP", "DOWN")[step % 2], int(clock()))
        assert badge_message(anonymous.get("/badge/earth/status").text) == ("UP", "DOWN")[step % 2]
    assert len(public_cache.answers) <= held


def test_an_answer_larger_than_the_bound_is_sent_not_kept():
    cache = public_cache.AnswerCache(max_bytes=10_000)
    headers = {"Cache-Control": "no-cache"}
    small = public_cache.Answer((1, 0), b"x" * 100, "text/plain", headers, '"s"', 500)
    large = public_cache.Answer((1, 0), b"x" * 20_000, "text/plain", headers, '"l"', 21_000)
    cache.put(("small",), small)
    cache.put(("large",), large)
    assert cache.get(("small",)) is small and cache.get(("large",)) is None
    for i in range(30):
        cache.put((i,), small)
    assert cache.bytes_held <= 10_000 and len(cache) == 20


# --- The data version ----------------------------------------------------------------------------


@pytest.fixture
def store(settings):
    storage.open_database(settings.database)
    storage.catalog.configure([storage.Monitor("earth", "Earth")], settings.clock)
    yield settings.database
    storage.close_database()


def test_data_version_counts_every_change_shown_and_nothing_else(store, clock):
    now = int(clock())
    seen = [storage.data_version()]

    def changed() -> bool:
        seen.append(storage.data_version())
        return seen[-1] != seen[-2]

    storage.record_status("earth", "UP", 1.0, now)
    assert changed()
    storage.record_status("earth", "UP", 9.0, now)  # a new latency only: nothing shown
    assert not changed()
    storage.record_status("earth", "DOWN", 9.0, now)
    assert changed()
    incident = storage.create_incident(storage.IncidentContent(title="t", tags=["earth"]))
    assert changed()
    storage.replace_incident(incident.number, storage.IncidentContent(title="u", tags=["earth"]))
    assert changed()
    storage.add_comment(incident.number, "c")
    assert changed()
    storage.update_incident_status(incident.number, is_resolved=True)
    assert changed()
    storage.keys.create_key("reader", "read", now)  # keys are not shown
    assert not changed()
    storage.maintenance.prune_points(now - 10 * DAY)  # nothing that old
    assert not changed()
    storage.maintenance.prune_points(now + 60)
    assert changed()
    # Another database, even with equal counters, is another version.
    storage.close_database()
    storage.open_database(store)
    assert changed()


def test_a_migrated_database_counts_changes(store, clock):
    with database.connection_context():
        # Back to schema version 3: no data version, no triggers counting it.
        if storage.database.is_sqlite():
            for table in storage.versioning.TABLES:
                for event in ("insert", "update", "delete"):
                    database.execute_sql(f"DROP TRIGGER data_version_{table}_{event}")
        else:
            database.execute_sql(
                "DROP FUNCTION data_version_bump, data_version_bump_points CASCADE"
            )
        database.execute_sql("DROP TABLE data_version")
        SchemaVersion.update(version=3).execute()
    assert storage.database.migrate_schema() == 4
    before = storage.data_version()
    storage.record_status("earth", "UP", 1.0, int(clock()))
    assert storage.data_version() != before


def test_concurrent_status_writers_are_all_counted(store, clock):
    """On PostgreSQL each writer adds to the slot of its transaction: concurrent writers never
    lose a count, whichever slots they fall on."""
    now = int(clock())
    start = storage.data_version()[1]
    per_thread, threads = 25, 6
    failures = []

    def writer(index: int) -> None:
        try:
            for i in range(per_thread):
                status = ("UP", "DOWN")[(index + i) % 2]
                storage.record_status("earth", status, 1.0, now - 60 * (index * per_thread + i))
        except Exception as error:  # reported below, with the others
            failures.append(error)

    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert not failures
    assert storage.data_version()[1] == start + per_thread * threads
