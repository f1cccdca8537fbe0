"""What the suite knows about its target, from the command line."""

from dataclasses import dataclass
from pathlib import Path

SPECS = Path(__file__).resolve().parent / "specs"
ORIGINAL_SPEC = SPECS / "kener-2.0.0-openapi.yaml"
# The refined contract: the repository's openapi.yaml, through a symbolic link, so that the
# suite's own distribution carries it (a wheel holds the file itself) and it never drifts.
STRICT_SPEC = SPECS / "openapi.yaml"

PROFILES = {
    # Only what the original spec and the original server's documented behaviour promise.
    "kener-2.0": ORIGINAL_SPEC,
    # The refined openapi.yaml and every rule of the reference behaviour.
    "strict": STRICT_SPEC,
}
GROUPS = ("monitors", "incidents", "auth", "errors", "http", "schema")
# The operations that need an incident store (`--without incidents` skips the tests of these).
INCIDENT_OPERATIONS = frozenset(
    {
        "createIncident",
        "searchIncidents",
        "getIncident",
        "updateIncident",
        "addIncidentComment",
        "getIncidentComments",
        "updateIncidentStatus",
    }
)
# The Schemathesis checks of the schema group (and of this project's own tests).
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "ignored_auth",
    "unsupported_method",
    "allow_header_conformance",
    "positive_data_acceptance",
]


@dataclass(frozen=True)
class Target:
    base_url: str
    token: str
    tags: tuple[str, ...]  # monitor tags the target knows
    degraded_tag: str | None  # a tag whose monitor counts DEGRADED as down, if any
    profile: str
    max_examples: int

    @property
    def spec_path(self) -> Path:
        return PROFILES[self.profile]

    @property
    def strict(self) -> bool:
        return self.profile == "strict"
