def test_status_round_trip(api, clock):
    answer = api.post("/api/status", json={"status": "UP", "latency": 3, "tag": "earth"})
    assert answer.status_code == 200
    assert api.get("/api/status", params={"tag": "earth"}).json()["status"] == "UP"
