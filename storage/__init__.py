"""Persistence of the monitors' data points and of incidents, in the domain's terms.

Handlers call these functions; none of them builds a query.
"""

from storage import keys, maintenance
from storage.catalog import Monitor, catalog
from storage.database import close_database, migrate_schema, open_database
from storage.errors import IncidentNotFound, InvalidValue, Rejected, UnknownTags
from storage.incidents import (
    IncidentContent,
    IncidentFilters,
    add_comment,
    create_incident,
    get_incident,
    list_comments,
    replace_incident,
    search_incidents,
    update_incident_status,
)
from storage.status import MonitorState, current_state, format_uptime, record_status

__all__ = [
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
    "record_status",
    "replace_incident",
    "search_incidents",
    "update_incident_status",
]
