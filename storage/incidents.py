"""Incidents and their comments."""

from dataclasses import dataclass, field

from peewee import SQL, fn

from storage.catalog import catalog
from storage.database import is_sqlite, reads, time_limit, writes
from storage.errors import IncidentNotFound, InvalidValue
from storage.models import Comment, Incident, IncidentTag


@dataclass
class IncidentContent:
    """Everything a client sets on an incident; what is left out takes its default."""

    title: str
    tags: list[str]
    body: str = ""
    impact: str | None = None
    start_datetime: int | None = None
    end_datetime: int | None = None
    is_maintenance: bool = False
    is_identified: bool = False
    is_resolved: bool = False


@dataclass
class IncidentFilters:
    state: str = "open"  # "open": not resolved; "closed": resolved
    tags: list[str] = field(default_factory=list)  # any of them; empty: no filter
    created_after: int | None = None  # inclusive
    created_before: int | None = None  # inclusive
    title_like: str | None = None  # case-insensitive substring
    page: int = 1
    per_page: int = 10


@writes
def create_incident(content: IncidentContent) -> Incident:
    tags = _checked(content)
    now = catalog.now()
    incident = Incident.create(
        **_columns(content),
        created_at=now,
        closed_at=now if content.is_resolved else None,
    )
    _store_tags(incident, tags)
    return incident


@reads
def get_incident(number: int) -> Incident:
    incident = Incident.get_or_none(Incident.number == number)
    if incident is None:
        raise IncidentNotFound(number)
    return _with_tags([incident])[0]


@writes
def replace_incident(number: int, content: IncidentContent) -> Incident:
    """Full replacement: every field a client sets takes the new content or its default;
    the number, creation time and comments stay."""
    tags = _checked(content)
    incident = _locked(number)
    closed_at = _closed_at(incident, content.is_resolved)
    for name, value in _columns(content).items():
        setattr(incident, name, value)
    incident.closed_at = closed_at
    incident.save()
    IncidentTag.delete().where(IncidentTag.incident == incident).execute()
    _store_tags(incident, tags)
    return incident


@writes
def update_incident_status(
    number: int,
    is_identified: bool | None = None,
    is_resolved: bool | None = None,
    end_datetime: int | None = None,
) -> Incident:
    """Change only the fields given."""
    incident = _locked(number)
    if end_datetime is not None:
        _check_times(incident.start_datetime, end_datetime)
        incident.end_datetime = end_datetime
    if is_identified is not None:
        incident.is_identified = is_identified
    if is_resolved is not None:
        incident.closed_at = _closed_at(incident, is_resolved)
        incident.is_resolved = is_resolved
    incident.save()
    return _with_tags([incident])[0]


@reads
def search_incidents(filters: IncidentFilters) -> list[Incident]:
    """Incidents matching every filter given, newest first, one page."""
    catalog.require_known(filters.tags)
    query = Incident.select().where(Incident.is_resolved == (filters.state == "closed"))
    if filters.tags:
        # EXISTS, correlated: the incidents are walked newest first along the state index and
        # each is checked by its key until the page is full. `number IN (all tagged
        # incidents)` built the whole tagged set first: cost grew with history.
        tagged = IncidentTag.select(SQL("1")).where(
            (IncidentTag.incident == Incident.number) & IncidentTag.tag.in_(filters.tags)
        )
        query = query.where(fn.EXISTS(tagged))
    if filters.created_after is not None:
        query = query.where(Incident.created_at >= filters.created_after)
    if filters.created_before is not None:
        query = query.where(Incident.created_at <= filters.created_before)
    if filters.title_like:
        query = query.where(Incident.title_folded.contains(filters.title_like.casefold()))
    query = query.order_by(Incident.created_at.desc(), Incident.number.desc())
    with time_limit(SEARCH_SECONDS, "search", SEARCH_ADVICE):
        return _with_tags(list(query.paginate(filters.page, filters.per_page)))


# The longest a search may run. A thread held by one costly search is one fewer for every
# other client (4 read-key clients repeating a 1,000-character title_like made a status read
# take 5 s).
SEARCH_SECONDS = 2.0
SEARCH_ADVICE = "narrow it with tags, created_after_utc or a shorter title_like"


@writes
def add_comment(number: int, body: str) -> Comment:
    _locked(number)
    return Comment.create(incident=number, body=body, created_at=catalog.now())


@reads
def list_comments(number: int) -> list[Comment]:
    """The incident's comments, oldest first."""
    if not Incident.select().where(Incident.number == number).exists():
        raise IncidentNotFound(number)
    return list(Comment.select().where(Comment.incident == number).order_by(Comment.id))


def _checked(content: IncidentContent) -> list[str]:
    """The content's tags, known and without duplicates, in the order given."""
    tags = list(dict.fromkeys(content.tags))
    catalog.require_known(tags)
    _check_times(content.start_datetime, content.end_datetime)
    return tags


def _check_times(start: int | None, end: int | None) -> None:
    if start is not None and end is not None and end <= start:
        raise InvalidValue(f"Invalid endDatetime {end}: it must be after startDatetime {start}")


def _columns(content: IncidentContent) -> dict:
    return {
        "title": content.title,
        "title_folded": content.title.casefold(),
        "body": content.body,
        "impact": content.impact,
        "start_datetime": content.start_datetime,
        "end_datetime": content.end_datetime,
        "is_maintenance": content.is_maintenance,
        "is_identified": content.is_identified,
        "is_resolved": content.is_resolved,
    }


def _closed_at(incident: Incident, is_resolved: bool) -> int | None:
    """`closedAt` is the time the incident last became resolved, None while open."""
    if not is_resolved:
        return None
    return incident.closed_at if incident.is_resolved else catalog.now()


def _locked(number: int) -> Incident:
    """The incident, locked against concurrent writers until the transaction ends (SQLite's
    write transactions hold the whole database already)."""
    query = Incident.select().where(Incident.number == number)
    if not is_sqlite():
        query = query.for_update()
    incident = query.first()
    if incident is None:
        raise IncidentNotFound(number)
    return incident


def _store_tags(incident: Incident, tags: list[str]) -> None:
    IncidentTag.insert_many(
        [{"incident": incident.number, "tag": tag, "position": i} for i, tag in enumerate(tags)]
    ).execute()
    incident.tags = tags


def _with_tags(incidents: list[Incident]) -> list[Incident]:
    """Attach each incident's tags (as `.tags`, in the order given) with one query."""
    by_number = {incident.number: incident for incident in incidents}
    for incident in incidents:
        incident.tags = []
    if by_number:
        rows = (
            IncidentTag.select(IncidentTag.incident, IncidentTag.tag)
            .where(IncidentTag.incident.in_(list(by_number)))
            .order_by(IncidentTag.position)
            .tuples()
        )
        for number, tag in rows:
            by_number[number].tags.append(tag)
    return incidents


# --- What the public pages show ---------------------------------------------------------

# The most incidents a public page or feed lists of each kind.
PUBLIC_LIMIT = 50


@reads
def open_incidents() -> list[Incident]:
    """Incidents not resolved, newest first (at most PUBLIC_LIMIT), each with its tags and
    its newest comment (`.latest_comment`, None without one)."""
    query = (
        Incident.select()
        .where(Incident.is_resolved == False)  # noqa: E712 (peewee builds SQL from ==)
        .order_by(Incident.created_at.desc(), Incident.number.desc())
        .limit(PUBLIC_LIMIT)
    )
    return _with_latest_comment(_with_tags(list(query)))


@reads
def resolved_incidents(since: int) -> list[Incident]:
    """Incidents resolved at or after `since`, most recently resolved first (at most
    PUBLIC_LIMIT), with tags and newest comment as `open_incidents`."""
    query = (
        Incident.select()
        .where((Incident.is_resolved == True) & (Incident.closed_at >= since))  # noqa: E712
        .order_by(Incident.closed_at.desc(), Incident.number.desc())
        .limit(PUBLIC_LIMIT)
    )
    return _with_latest_comment(_with_tags(list(query)))


@reads
def incidents_created_since(since: int) -> list[Incident]:
    """Incidents created at or after `since`, newest first (at most PUBLIC_LIMIT), each with
    its tags and its comments (`.comment_list`, oldest first): the feeds' entries."""
    query = (
        Incident.select()
        .where(Incident.created_at >= since)
        .order_by(Incident.created_at.desc(), Incident.number.desc())
        .limit(PUBLIC_LIMIT)
    )
    return _with_comments(_with_tags(list(query)))


@reads
def incident_with_comments(number: int) -> Incident:
    """The incident with its tags and its comments (`.comment_list`, oldest first)."""
    return _with_comments([get_incident(number)])[0]


def _with_comments(incidents: list[Incident]) -> list[Incident]:
    by_number = {incident.number: incident for incident in incidents}
    for incident in incidents:
        incident.comment_list = []
    if by_number:
        comments = (
            Comment.select().where(Comment.incident.in_(list(by_number))).order_by(Comment.id)
        )
        for comment in comments:
            by_number[comment.incident_id].comment_list.append(comment)
    return incidents


def _with_latest_comment(incidents: list[Incident]) -> list[Incident]:
    by_number = {incident.number: incident for incident in incidents}
    for incident in incidents:
        incident.latest_comment = None
    if by_number:
        newest = (
            Comment.select(fn.MAX(Comment.id))
            .where(Comment.incident.in_(list(by_number)))
            .group_by(Comment.incident)
        )
        for comment in Comment.select().where(Comment.id.in_(newest)):
            by_number[comment.incident_id].latest_comment = comment
    return incidents
