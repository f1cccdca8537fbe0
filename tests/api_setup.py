"""Data the public-page tests put in through the API, each call checked to have succeeded."""


def push(api, tag, status, at):
    answer = api.post(
        "/api/status",
        json={"tag": tag, "status": status, "latency": 5, "timestampInSeconds": int(at)},
    )
    assert answer.status_code == 200, answer.text


def create_incident(api, title, **fields):
    answer = api.post("/api/incident", json={"title": title, "tags": ["earth"], **fields})
    assert answer.status_code == 200, answer.text
    return answer.json()["incidentNumber"]


def comment(api, number, text):
    answer = api.post(f"/api/incident/{number}/comment", json={"body": text})
    assert answer.status_code == 200, answer.text


def resolve(api, number):
    answer = api.post(f"/api/incident/{number}/status", json={"isResolved": True})
    assert answer.status_code == 200, answer.text
