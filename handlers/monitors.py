"""Operations tagged `Monitors`."""

import storage


def update_monitor_status(body: dict) -> dict:
    """Record a monitor's status for one UTC minute."""
    minute = storage.record_status(
        tag=body["tag"],
        status=body["status"],
        latency=body["latency"],
        timestamp=body.get("timestampInSeconds"),
    )
    return {"status": 200, "message": f"success at {minute}"}


def get_monitor_status(tag: str) -> dict:
    """A monitor's current status and today's uptime."""
    state = storage.current_state(tag)
    answer = {"uptime": state.uptime}
    if state.status is not None:
        answer["status"] = state.status
        answer["lastUpdatedAt"] = state.last_updated_at
    return answer
