"""CORS: off by default; with KENER_CORS_ORIGINS, preflights of the contract's paths and
methods from an allowed origin are answered by Starlette's CORSMiddleware, and everything
else is answered as without CORS (JSON 405 or 404)."""

import dataclasses

import httpx
import pytest

import storage
from kener_api import create_app
from kener_api.settings import Settings, SettingsError
from tests.conftest import TOKEN, serving

ALLOWED = "https://status.example"
PREFLIGHT = {
    "Origin": ALLOWED,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


@pytest.fixture
def cors_server(settings, request):
    origins = getattr(request, "param", (ALLOWED,))
    app = create_app(dataclasses.replace(settings, cors_origins=origins))
    try:
        with serving(app) as url, httpx.Client(base_url=url, timeout=30) as client:
            yield client
    finally:
        storage.close_database()


def assert_json_error(answer, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert "error" in answer.json()
    assert "access-control-allow-origin" not in answer.headers


def test_off_by_default_a_preflight_is_405(anonymous):
    assert_json_error(anonymous.options("/api/status", headers=PREFLIGHT), 405)
    answer = anonymous.get("/healthz", headers={"Origin": ALLOWED})
    assert "access-control-allow-origin" not in answer.headers


def test_a_preflight_from_an_allowed_origin_names_the_paths_methods(cors_server):
    answer = cors_server.options("/api/status", headers=PREFLIGHT)
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == ALLOWED
    assert answer.headers["access-control-allow-methods"] == "GET, POST"
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert answer.headers["access-control-max-age"] == "600"
    comment = cors_server.options(
        "/api/incident/1/comment", headers={**PREFLIGHT, "Access-Control-Request-Method": "GET"}
    )
    assert comment.status_code == 200
    assert comment.headers["access-control-allow-methods"] == "GET, POST"
    status = cors_server.options("/api/incident/1/status", headers=PREFLIGHT)
    assert status.headers["access-control-allow-methods"] == "POST"


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/api/status", {"Origin": "https://other.example"}, 405),
        ("/api/status", {"Access-Control-Request-Method": "DELETE"}, 405),
        ("/api/status", {"Access-Control-Request-Headers": "x-custom"}, 405),
        ("/api/incident/1/status", {"Access-Control-Request-Method": "GET"}, 405),
        ("/api/nothing", {}, 404),
    ],
)
def test_any_other_options_request_is_answered_as_without_cors(cors_server, path, headers, status):
    assert_json_error(cors_server.options(path, headers={**PREFLIGHT, **headers}), status)


def test_answers_to_an_allowed_origin_carry_the_cors_headers(cors_server):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    answer = cors_server.get(
        "/api/status", params={"tag": "earth"}, headers={**auth, "Origin": ALLOWED}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == ALLOWED
    assert "origin" in answer.headers["vary"].lower()
    other = cors_server.get(
        "/api/status", params={"tag": "earth"}, headers={**auth, "Origin": "https://other.example"}
    )
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    # A refused request is refused the same; the browser may read why.
    refused = cors_server.get("/api/status", params={"tag": "earth"}, headers={"Origin": ALLOWED})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == ALLOWED


@pytest.mark.parametrize("cors_server", [("*",)], indirect=True)
def test_any_origin(cors_server):
    answer = cors_server.options(
        "/api/incident", headers={**PREFLIGHT, "Origin": "https://x.example"}
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"


def test_a_malformed_request_is_400_and_the_browser_may_read_why(cors_server):
    answer = cors_server.get("/api/status?tag=earth&tag=earth", headers={"Origin": ALLOWED})
    assert answer.status_code == 400 and "error" in answer.json()
    assert answer.headers["access-control-allow-origin"] == ALLOWED


def test_the_setting_takes_origins_or_a_star():
    load = Settings.load
    assert load(
        {"KENER_CORS_ORIGINS": "https://A.example, http://b.example:8080"}
    ).cors_origins == (
        "https://a.example",
        "http://b.example:8080",
    )
    assert load({"KENER_CORS_ORIGINS": "*"}).cors_origins == ("*",)
    assert load({}).cors_origins == ()
    for wrong in ("status.example", "https://a.example/path", "ftp://a.example", "https://"):
        with pytest.raises(SettingsError, match="KENER_CORS_ORIGINS"):
            load({"KENER_CORS_ORIGINS": wrong})
