"""An in-memory stand-in for the GitHub REST API, as far as Kener 2.0.0 uses it for incidents.

Kener 2.0.0 keeps no incidents of its own: each incident is a GitHub issue of the repository
named in its `site.yaml` (`github.owner`, `github.repo`), reached at `github.apiURL` with the
`GH_TOKEN` environment variable (`src/lib/server/github.js`). To run the original server
without the internet, point `github.apiURL` at this process. It answers exactly the calls
github.js makes, with the fields of GitHub's answers that Kener reads:

    GET   /repos/{o}/{r}/labels                GetAllGHLabels (build.js, `npm run configure`)
    POST  /repos/{o}/{r}/labels                CreateGHLabel (build.js)
    POST  /repos/{o}/{r}/issues                CreateIssue: POST /api/incident
    GET   /repos/{o}/{r}/issues                GetIncidents, GetIncidentsManual, GetOpenIncidents
                                               (the public pages and the scheduler)
    GET   /repos/{o}/{r}/issues/{n}            GetIncidentByNumber: GET /api/incident/{n},
                                               POST /api/incident/{n}/status
    PATCH /repos/{o}/{r}/issues/{n}            UpdateIssue, UpdateIssueLabels, CloseIssue
    GET   /repos/{o}/{r}/issues/{n}/comments   GetCommentsForIssue: GET .../comment
    POST  /repos/{o}/{r}/issues/{n}/comments   AddComment: POST .../comment
    GET   /search/issues?q=...                 SearchIssue: GET /api/incident

GitHub behaviour kept because Kener's answers depend on it:
- an empty or absent issue body is stored and answered as `"body": null` (GitHub does so);
- issues are numbered 1, 2, 3, ... per repository; timestamps are ISO 8601 to the second;
- labels named on an issue that do not exist yet are created; PATCH `labels` replaces them;
  PATCH `state` closed sets `closed_at`, open clears it;
- search understands the qualifiers Kener sends: `repo:`, `is:issue`, `state:`, `label:`
  (`label:a,b` is any of; two `label:` are both), `created:` (`>=X`, `<=X`, `X..Y`, inclusive),
  `sort:created-desc|asc`, and words with `in:title`, matched as GitHub does: by whole words,
  case-insensitively (GitHub's search has no substring match); at most 100 per page and the
  first 1000 results; answered `{total_count, incomplete_results, items}`;
- lists are paginated by `per_page` (default 30, at most 100) and `page`;
- an unknown repository, issue or route is 404 `{"message": "Not Found"}`; with `--token`, a
  request without `Authorization: Bearer <token>` is 401 `{"message": "Bad credentials"}`.
One difference: GitHub's search index lags writes by seconds; here it is current at once.
`--keep-empty-body` answers an empty body as `""` instead (not what GitHub does): Kener 2.0.0
fails on a null body, and this shows what else it gets wrong.

Run: python -m tests.kener2.github_standin --port 8790 [--owner o --repo r] [--token t]
         [--keep-empty-body]
"""

import argparse
import json
import re
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WORD = re.compile(r"[0-9a-z]+")


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def words(text: str) -> set[str]:
    return set(WORD.findall(text.lower()))


def page_of(items: list, query: dict, default: int = 30, cap: int = 100) -> tuple[list, int, int]:
    def number(name: str, fallback: int) -> int:
        try:
            value = int(query.get(name, [fallback])[0])
        except ValueError:
            return fallback
        return value if value >= 1 else fallback

    per_page, page = min(number("per_page", default), cap), number("page", 1)
    return items[(page - 1) * per_page : page * per_page], per_page, page


class Repo:
    """The state of one repository: labels, issues and their comments."""

    def __init__(self, base_url: str, owner: str, name: str, null_body: bool = True) -> None:
        self.base, self.owner, self.name = base_url, owner, name
        self.empty_body = None if null_body else ""
        self.labels: dict[str, dict] = {}
        self.issues: dict[int, dict] = {}
        self.comments: dict[int, list[dict]] = {}
        self.lock = threading.Lock()
        self.next_id = 1000

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def label(self, name: str, color: str = "ededed", description: str | None = None) -> dict:
        if name not in self.labels:
            self.labels[name] = {
                "id": self.new_id(),
                "url": f"{self.base}/repos/{self.owner}/{self.name}/labels/{name}",
                "name": name,
                "color": color,
                "default": False,
                "description": description,
            }
        return self.labels[name]

    def set_labels(self, issue: dict, names: list) -> None:
        names = [n["name"] if isinstance(n, dict) else str(n) for n in names]
        issue["labels"] = [self.label(name) for name in dict.fromkeys(names)]

    def create_issue(self, data: dict) -> dict:
        number = len(self.issues) + 1
        now = iso(time.time())
        url = f"{self.base}/repos/{self.owner}/{self.name}/issues/{number}"
        issue = {
            "id": self.new_id(),
            "url": url,
            "comments_url": f"{url}/comments",
            "html_url": f"https://github.com/{self.owner}/{self.name}/issues/{number}",
            "number": number,
            "title": str(data["title"]),
            "user": {"login": "kener-standin", "id": 1, "type": "User"},
            "labels": [],
            "state": "open",
            "state_reason": None,
            "locked": False,
            "comments": 0,
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
            "author_association": "OWNER",
            "body": data.get("body") or self.empty_body,
        }
        self.set_labels(issue, data.get("labels") or [])
        self.issues[number] = issue
        self.comments[number] = []
        return issue

    def update_issue(self, issue: dict, data: dict) -> dict:
        if "title" in data:
            issue["title"] = str(data["title"])
        if "body" in data:
            issue["body"] = data["body"] or self.empty_body
        if "labels" in data:
            self.set_labels(issue, data["labels"] or [])
        if data.get("state") in ("open", "closed") and data["state"] != issue["state"]:
            closed = data["state"] == "closed"
            issue["state"] = data["state"]
            issue["closed_at"] = iso(time.time()) if closed else None
            issue["state_reason"] = "completed" if closed else "reopened"
        issue["updated_at"] = iso(time.time())
        return issue

    def add_comment(self, issue: dict, body: str) -> dict:
        now = iso(time.time())
        comment_id = self.new_id()
        comment = {
            "id": comment_id,
            "url": f"{self.base}/repos/{self.owner}/{self.name}/issues/comments/{comment_id}",
            "html_url": f"{issue['html_url']}#issuecomment-{comment_id}",
            "issue_url": issue["url"],
            "body": body,
            "user": {"login": "kener-standin", "id": 1, "type": "User"},
            "created_at": now,
            "updated_at": now,
            "author_association": "OWNER",
        }
        self.comments[issue["number"]].append(comment)
        issue["comments"] += 1
        issue["updated_at"] = now
        return comment

    def list_issues(self, query: dict) -> list[dict]:
        """GET /repos/{o}/{r}/issues: state (open|closed|all), labels (all of), since (updated
        at or after), sort created|updated, direction."""
        state = query.get("state", ["open"])[0]
        wanted = [n for n in query.get("labels", [""])[0].split(",") if n]
        since = query.get("since", [None])[0]
        found = [
            issue
            for issue in self.issues.values()
            if state in ("all", issue["state"])
            and all(name in label_names(issue) for name in wanted)
            and (since is None or parse_iso(issue["updated_at"]) >= parse_iso(since))
        ]
        key = "updated_at" if query.get("sort", ["created"])[0] == "updated" else "created_at"
        ascending = query.get("direction", ["desc"])[0] == "asc"
        found.sort(key=lambda issue: (issue[key], issue["number"]), reverse=not ascending)
        return found

    def search(self, terms: list[str]) -> list[dict]:
        """The issues matching the parsed search `q` (the qualifiers Kener sends)."""
        checks, text, in_title, descending = [], [], False, True
        for term in terms:
            key, _, value = term.partition(":")
            key = key.lower()
            if key == "in" and value:
                in_title = value.lower() == "title"
            elif key == "sort" and value:
                descending = not value.lower().endswith("-asc")
            elif key in ("is", "state", "label", "created", "repo") and value:
                checks.append(self.qualifier(key, value))
            else:
                text += WORD.findall(term.lower())
        found = []
        for issue in self.issues.values():
            haystack = issue["title"] if in_title else f"{issue['title']} {issue['body'] or ''}"
            if all(check(issue) for check in checks) and set(text) <= words(haystack):
                found.append(dict(issue, score=1.0))
        found.sort(key=lambda issue: (issue["created_at"], issue["number"]), reverse=descending)
        return found

    def qualifier(self, key: str, value: str):
        """A test of an issue for the search qualifier `key:value`."""
        if key == "created":
            return created_check(value)
        if key == "label":  # label:a,b is any of them
            return lambda issue: bool(set(value.split(",")) & label_names(issue))
        if key == "repo":
            here = f"{self.owner}/{self.name}".lower()
            return lambda issue: value.lower() == here
        if key == "state":
            return lambda issue: issue["state"] == value.lower()
        return lambda issue: value.lower() in ("issue", issue["state"])  # is:issue, is:open


def label_names(issue: dict) -> set[str]:
    return {label["name"] for label in issue["labels"]}


def created_check(value: str):
    """`created:>=X`, `created:<=X`, `created:>X`, `created:<X`, `created:X..Y`, `created:X`."""
    if ".." in value:
        low, high = (parse_iso(part) for part in value.split("..", 1))
        return lambda i: low <= parse_iso(i["created_at"]) <= high
    match = re.fullmatch(r"(>=|<=|>|<)?(.+)", value)
    operator, moment = match.group(1) or "=", parse_iso(match.group(2))
    compare = {
        ">=": lambda t: t >= moment,
        "<=": lambda t: t <= moment,
        ">": lambda t: t > moment,
        "<": lambda t: t < moment,
        "=": lambda t: t == moment,
    }[operator]
    return lambda i: compare(parse_iso(i["created_at"]))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "StandIn"

    def answer(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def not_found(self) -> None:
        self.answer(404, {"message": "Not Found", "documentation_url": "https://docs.github.com"})

    def invalid(self, message: str = "Validation Failed") -> None:
        self.answer(422, {"message": message})

    def handle_any(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        token = self.server.token
        sent = self.headers.get("Authorization", "")
        if token and sent not in (f"Bearer {token}", f"token {token}"):
            return self.answer(401, {"message": "Bad credentials"})
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            return self.answer(400, {"message": "Problems parsing JSON"})
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        parts = [p for p in url.path.split("/") if p]
        repo = self.server.repo
        with repo.lock:
            if parts == ["search", "issues"] and method == "GET":
                return self.search(repo, query)
            if parts[:3] != ["repos", repo.owner, repo.name] or len(parts) < 4:
                return self.not_found()
            return self.route(repo, method, parts[3:], data, query)

    def route(self, repo: Repo, method: str, rest: list[str], data, query: dict) -> None:
        if rest == ["labels"] and method == "GET":
            return self.answer(200, page_of(list(repo.labels.values()), query)[0])
        if rest == ["labels"] and method == "POST":
            name = data.get("name") if isinstance(data, dict) else None
            if not name or name in repo.labels:
                return self.invalid()
            color = data.get("color") or "ededed"
            return self.answer(201, repo.label(name, color, data.get("description")))
        if rest == ["issues"] and method == "GET":
            return self.answer(200, page_of(repo.list_issues(query), query)[0])
        if rest == ["issues"] and method == "POST":
            if not isinstance(data, dict) or not data.get("title"):
                return self.invalid()
            return self.answer(201, repo.create_issue(data))
        if len(rest) < 2 or rest[0] != "issues" or not rest[1].isdigit():
            return self.not_found()
        issue = repo.issues.get(int(rest[1]))
        if issue is None:
            return self.not_found()
        if rest[2:] == [] and method == "GET":
            return self.answer(200, issue)
        if rest[2:] == [] and method == "PATCH":
            if not isinstance(data, dict):
                return self.invalid()
            return self.answer(200, repo.update_issue(issue, data))
        if rest[2:] == ["comments"] and method == "GET":
            return self.answer(200, page_of(repo.comments[issue["number"]], query)[0])
        if rest[2:] == ["comments"] and method == "POST":
            body = data.get("body") if isinstance(data, dict) else None
            if not isinstance(body, str) or not body:
                return self.invalid()
            return self.answer(201, repo.add_comment(issue, body))
        return self.not_found()

    def search(self, repo: Repo, query: dict) -> None:
        try:
            found = repo.search(query.get("q", [""])[0].split())
        except ValueError:  # a `created:` that is not a date
            return self.invalid()
        items, per_page, page = page_of(found, query)
        if page * per_page > 1000:
            return self.invalid("Only the first 1000 search results are available")
        self.answer(200, {"total_count": len(found), "incomplete_results": False, "items": items})

    def do_GET(self) -> None:
        self.handle_any("GET")

    def do_POST(self) -> None:
        self.handle_any("POST")

    def do_PATCH(self) -> None:
        self.handle_any("PATCH")


class StandIn(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self, host: str, port: int, owner: str, repo: str, token: str | None, null_body: bool = True
    ) -> None:
        super().__init__((host, port), Handler)
        self.repo = Repo(f"http://{host}:{self.server_address[1]}", owner, repo, null_body)
        self.token = token


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--owner", default="kener")
    parser.add_argument("--repo", default="incidents")
    parser.add_argument("--token", default=None, help="the GH_TOKEN Kener must send")
    parser.add_argument(
        "--keep-empty-body", action="store_true", help='answer an empty body as "", not null'
    )
    args = parser.parse_args(argv)
    server = StandIn(
        args.host, args.port, args.owner, args.repo, args.token, not args.keep_empty_body
    )
    print(f"GitHub stand-in for {args.owner}/{args.repo} at http://{args.host}:{args.port}")
    server.serve_forever()


if __name__ == "__main__":
    main()
