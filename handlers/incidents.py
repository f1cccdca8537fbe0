"""Operations tagged `Incidents`."""

import storage


def create_incident(body: dict) -> dict:
    """Create an incident."""
    return _incident_json(storage.create_incident(_content(body)))


def search_incidents(
    state: str = "open",
    tags: str | None = None,
    page: int = 1,
    per_page: int = 10,
    created_after_utc: int | None = None,
    created_before_utc: int | None = None,
    title_like: str | None = None,
) -> list:
    """Incidents matching the filters, newest first."""
    filters = storage.IncidentFilters(
        state=state,
        tags=[tag.strip() for tag in tags.split(",")] if tags is not None else [],
        created_after=created_after_utc,
        created_before=created_before_utc,
        title_like=title_like,
        page=page,
        per_page=per_page,
    )
    return [_incident_json(incident) for incident in storage.search_incidents(filters)]


def get_incident(incident_number: int) -> dict:
    """One incident."""
    return _incident_json(storage.get_incident(incident_number))


def update_incident(incident_number: int, body: dict) -> dict:
    """Replace an incident's content."""
    return _incident_json(storage.replace_incident(incident_number, _content(body)))


def add_incident_comment(incident_number: int, body: dict) -> dict:
    """Comment on an incident."""
    return _comment_json(storage.add_comment(incident_number, body["body"]))


def get_incident_comments(incident_number: int) -> list:
    """An incident's comments, oldest first."""
    return [_comment_json(comment) for comment in storage.list_comments(incident_number)]


def update_incident_status(incident_number: int, body: dict) -> dict:
    """Change an incident's identified and resolved flags and end time."""
    incident = storage.update_incident_status(
        incident_number,
        is_identified=body.get("isIdentified"),
        is_resolved=body.get("isResolved"),
        end_datetime=body.get("endDatetime"),
    )
    return _incident_json(incident)


def _content(body: dict) -> storage.IncidentContent:
    return storage.IncidentContent(
        title=body["title"],
        tags=body["tags"],
        body=body.get("body", ""),
        impact=body.get("impact"),
        start_datetime=body.get("startDatetime"),
        end_datetime=body.get("endDatetime"),
        is_maintenance=body.get("isMaintenance", False),
        is_identified=body.get("isIdentified", False),
        is_resolved=body.get("isResolved", False),
    )


def _incident_json(incident) -> dict:
    answer = {
        "incidentNumber": incident.number,
        "title": incident.title,
        "body": incident.body,
        "tags": incident.tags,
        "isMaintenance": incident.is_maintenance,
        "isIdentified": incident.is_identified,
        "isResolved": incident.is_resolved,
        "createdAt": incident.created_at,
        "closedAt": incident.closed_at,
    }
    # Absent values are left out: the contract does not allow them to be null.
    optional = {
        "impact": incident.impact,
        "startDatetime": incident.start_datetime,
        "endDatetime": incident.end_datetime,
    }
    answer.update({name: value for name, value in optional.items() if value is not None})
    return answer


def _comment_json(comment) -> dict:
    return {"commentID": comment.id, "body": comment.body, "createdAt": comment.created_at}
