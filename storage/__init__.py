"""Persistence of the monitors' data points and of incidents, in the domain's terms.

Handlers call these functions; none of them builds a query.
"""

from storage import keys, maintenance
from storage.catalog import Monitor, catalog
from storage.database import close_database, migrate_schema, open_database, readiness
from storage.errors import IncidentNotFound, InvalidValue, NotShown, Rejected, UnknownTags
from storage.history import Counts, Day, daily_history, window_counts
from storage.incidents import (
    IncidentContent,
    IncidentFilters,
    add_comment,
    create_incident,
    get_incident,
    incident_with_comments,
    incidents_created_since,
    list_comments,
    replace_incident,
    search_incidents,
    update_incident_status,
)
from storage.overview import (
    MonitorOverview,
    Overview,
    data_version,
    monitor_overview,
    status_overview,
    worst,
)
from storage.status import (
    MonitorState,
    current_state,
    format_uptime,
    latest_status,
    newest_points,
    record_status,
)

__all__ = [
    "Counts",
    "Day",
    "MonitorOverview",
    "NotShown",
    "Overview",
    "daily_history",
    "data_version",
    "incident_with_comments",
    "incidents_created_since",
    "latest_status",
    "monitor_overview",
    "newest_points",
    "status_overview",
    "window_counts",
    "worst",
    "IncidentContent",
    "IncidentFilters",
    "IncidentNotFound",
    "InvalidValue",
    "Monitor",
    "MonitorState",
    "Rejected",
    "UnknownTags",
    "add_comment",
    "catalog",
    "close_database",
    "create_incident",
    "current_state",
    "format_uptime",
    "keys",
    "maintenance",
    "get_incident",
    "list_comments",
    "migrate_schema",
    "open_database",
    "readiness",
    "record_status",
    "replace_incident",
    "search_incidents",
    "update_incident_status",
]
