"""The rules the suite judges: one per test function, each with an identifier that never
changes between releases, a one-line statement, where the rule comes from and the profiles
that hold it.

Identifiers are `KENER-<GROUP>-<NNN>`. A new rule takes the next free number of its group; a
rule that is dropped keeps its number retired (never given to another rule), so a verdict that
names `KENER-MON-004` means the same rule in every release. `conformance/RULES.md` is
generated from this table (`kener-conformance --list --markdown`), and a test keeps it in step.

Profiles: every rule belongs to `strict`. A rule belongs to `kener-2.0` too unless it has a
`strict_only` reason: what Kener 2.0.0's spec and documentation did not promise.
"""

from dataclasses import dataclass

PROFILES_ALL = ("kener-2.0", "strict")


@dataclass(frozen=True)
class Rule:
    id: str
    test: str  # "<module>:<test function>" of conformance/suite, e.g. "test_auth:test_x_is_401"
    statement: str  # the rule, one line, in the present tense
    source: str  # where it comes from: the spec's path and field, REFERENCE or README section
    strict_only: str | None = None  # why the kener-2.0 profile does not hold it

    @property
    def profiles(self) -> tuple[str, ...]:
        return ("strict",) if self.strict_only else PROFILES_ALL


RULES: tuple[Rule, ...] = (
    # Entries are grouped by test module, in the modules' order of tests.
    Rule(
        "KENER-MON-001",
        test="test_monitors:test_timestamps_are_floored_to_their_minute",
        statement=(
            "A push's timestampInSeconds is floored to its UTC minute, answered `success at "
            "<minute>`, the current one too."
        ),
        source=(
            "REFERENCE: POST /api/status; kener-2.0.0 spec: POST /api/status, responses.200 "
            "(success at ...); openapi.yaml: MonitorStatus.timestampInSeconds"
        ),
    ),
    Rule(
        "KENER-MON-002",
        test="test_monitors:test_timestamp_in_a_future_minute_is_400",
        statement=(
            "updateMonitorStatus answers 400 to a timestampInSeconds after the target's current "
            "UTC minute."
        ),
        source=(
            "Kener 2.0 docs: timestampInSeconds ('between 90 Days and now'); REFERENCE: POST "
            "/api/status ('in future'); openapi.yaml: MonitorStatus.timestampInSeconds"
        ),
    ),
    Rule(
        "KENER-MON-003",
        test="test_monitors:test_timestamp_older_than_90_days_is_400",
        statement=(
            "updateMonitorStatus accepts the minute 90 days before the current one and answers 400 "
            "to any older one."
        ),
        source=(
            "Kener 2.0 docs: timestampInSeconds ('between 90 Days and now'); REFERENCE: POST "
            "/api/status ('older than 90 days'); openapi.yaml: MonitorStatus.timestampInSeconds"
        ),
    ),
    Rule(
        "KENER-MON-004",
        test="test_monitors:test_status_is_the_newest_data_point_not_the_last_written",
        statement=(
            "getMonitorStatus's status and lastUpdatedAt are those of the newest data point, not "
            "of the last one written."
        ),
        source=(
            "REFERENCE: GET /api/status?tag= (status and lastUpdatedAt); openapi.yaml: "
            "StatusResponse"
        ),
    ),
    Rule(
        "KENER-MON-005",
        test="test_monitors:test_last_write_for_a_minute_wins_and_counts_once",
        statement=(
            "A second push for the same tag and UTC minute replaces the first: the last write "
            "wins, counted once."
        ),
        source=(
            "REFERENCE: Words (data point); openapi.yaml: MonitorStatus.timestampInSeconds (last "
            "write wins)"
        ),
    ),
    Rule(
        "KENER-MON-006",
        test="test_monitors:test_uptime_is_0_when_no_data_point_today_is_up",
        statement=(
            "getMonitorStatus's uptime is \"0\" when none of today's data points (since 00:00 UTC) "
            "is up."
        ),
        source=(
            "REFERENCE: GET /api/status?tag= (uptime and its format); openapi.yaml: "
            "StatusResponse.uptime"
        ),
    ),
    Rule(
        "KENER-MON-007",
        test="test_monitors:test_uptime_is_100_when_every_data_point_today_is_up",
        statement=(
            "getMonitorStatus's uptime is \"100\" when every one of today's data points is up; "
            "yesterday's do not count."
        ),
        source=(
            "REFERENCE: GET /api/status?tag= (uptime and its format); openapi.yaml: "
            "StatusResponse.uptime"
        ),
    ),
    Rule(
        "KENER-MON-008",
        test="test_monitors:test_uptime_has_4_decimals_rounded_otherwise",
        statement=(
            "Any other uptime has 4 decimals, rounded (strict: the exact share half up; kener-2.0 "
            "also Kener's doubles)."
        ),
        source=(
            "REFERENCE: GET /api/status?tag= (ParseUptime format); README: Behaviour where Kener's "
            "spec is silent (exact rounding); openapi.yaml: StatusResponse.uptime"
        ),
    ),
    Rule(
        "KENER-MON-009",
        test="test_monitors:test_degraded_counts_as_down_for_include_degraded_in_downtime",
        statement=(
            "For a monitor with includeDegradedInDowntime: true, uptime counts DEGRADED data "
            "points as down (UP / all)."
        ),
        source=(
            "Kener 2.0 docs: monitors.md, includeDegradedInDowntime; REFERENCE: GET "
            "/api/status?tag= (uptime)"
        ),
    ),
    Rule(
        "KENER-MON-010",
        test="test_monitors:test_degraded_counts_as_up_by_default",
        statement=(
            "By default (includeDegradedInDowntime false) uptime counts DEGRADED data points as up "
            "((UP + DEGRADED) / all)."
        ),
        source=(
            "Kener 2.0 docs: monitors.md, includeDegradedInDowntime; REFERENCE: GET "
            "/api/status?tag= (uptime)"
        ),
    ),
    Rule(
        "KENER-MON-011",
        test="test_monitors:test_uptime_that_is_a_whole_multiple_of_10_has_no_decimals",
        statement=(
            "An uptime that is a whole multiple of 10 other than 0 and 100 is written without "
            'decimals ("50").'
        ),
        source=(
            "REFERENCE: GET /api/status?tag= (uptime and its format); openapi.yaml: "
            "StatusResponse.uptime"
        ),
    ),
    Rule(
        "KENER-INC-001",
        test="test_incidents:test_create_answers_incident_with_defaults",
        statement=(
            'A created incident has number >= 1, body "", flags false, createdAt now, closedAt '
            "null, no impact or times."
        ),
        source=(
            "kener-2.0.0 spec: POST /api/incident, responses.200 (IncidentResponse); REFERENCE: "
            "POST /api/incident"
        ),
    ),
    Rule(
        "KENER-INC-002",
        test="test_incidents:test_create_echoes_every_field",
        statement=(
            "createIncident answers every field it was sent (title, body, tags, impact, times, the "
            "three flags) unchanged."
        ),
        source=(
            "kener-2.0.0 spec: POST /api/incident, requestBody (Incident) and responses.200 "
            "(IncidentResponse)"
        ),
    ),
    Rule(
        "KENER-INC-003",
        test="test_incidents:test_create_leaves_out_absent_optional_fields",
        statement=(
            "An incident without impact, startDatetime or endDatetime leaves them out of its "
            "answers, not null."
        ),
        source=(
            "kener-2.0.0 spec: IncidentResponse impact, startDatetime, endDatetime (not "
            "nullable); REFERENCE: Absent values; openapi.yaml: IncidentResponse"
        ),
    ),
    Rule(
        "KENER-INC-004",
        test="test_incidents:test_create_resolved_is_closed_at_creation",
        statement=(
            "An incident created with isResolved true has closedAt equal to createdAt and is found "
            "by state=closed."
        ),
        source=(
            "openapi.yaml: POST /api/incident description (closedAt now when created resolved); "
            "README: Behaviour where Kener's spec is silent"
        ),
        strict_only=(
            "Kener 2.0's closedAt was its GitHub issue's closing time, and creating one never "
            "closed the issue"
        ),
    ),
    Rule(
        "KENER-INC-005",
        test="test_incidents:test_create_collapses_duplicate_tags_keeping_order",
        statement=(
            "createIncident collapses duplicate tags, keeping the order of first appearance, in "
            "its answer and in GET."
        ),
        source=(
            "REFERENCE: POST /api/incident (duplicates collapse); openapi.yaml: IncidentFields.tags"
        ),
        strict_only=(
            "Kener 2.0.0's spec and docs say nothing of duplicate tags or their order (Kener "
            "answered monitors.yaml order)"
        ),
    ),
    Rule(
        "KENER-INC-006",
        test="test_incidents:test_create_invalid_is_rejected_and_not_stored",
        statement=(
            "createIncident answers 400 and stores nothing for unknown or no tags, an empty title, "
            "an end before start."
        ),
        source=(
            "kener-2.0.0 spec: POST /api/incident, requestBody (Incident: title, tags required) "
            "and responses.400 (unknown tags); REFERENCE: POST /api/incident"
        ),
    ),
    Rule(
        "KENER-INC-007",
        test="test_incidents:test_create_end_equal_to_start_is_rejected",
        statement=(
            "createIncident answers 400 and stores nothing when endDatetime equals startDatetime "
            "(the end must be after it)."
        ),
        source=(
            "REFERENCE: POST /api/incident (end must be after start); openapi.yaml: "
            "IncidentFields.endDatetime"
        ),
        strict_only=(
            "Kener 2.0.0's spec and docs order no times (its example ends before it starts); "
            "'after' is the refined rule"
        ),
    ),
    Rule(
        "KENER-INC-008",
        test="test_incidents:test_get_equals_create_answer",
        statement="getIncident answers exactly the incident that createIncident answered.",
        source=(
            "kener-2.0.0 spec: GET /api/incident/{incidentNumber}, responses.200 (IncidentResponse)"
        ),
    ),
    Rule(
        "KENER-INC-009",
        test="test_incidents:test_numbers_increase_and_are_never_reused",
        statement=(
            "A new incident's number is above every existing one: incident numbers increase and "
            "are never reused."
        ),
        source="REFERENCE: Words (incident); openapi.yaml: IncidentResponse.incidentNumber",
    ),
    Rule(
        "KENER-INC-010",
        test="test_incidents:test_concurrent_creates_get_distinct_numbers",
        statement=(
            "Concurrent createIncident calls get distinct incident numbers, each naming its own "
            "incident."
        ),
        source=(
            "kener-2.0.0 spec: IncidentResponse.incidentNumber (id of the incident); REFERENCE: "
            "Words (incident)"
        ),
    ),
    Rule(
        "KENER-INC-011",
        test="test_incidents:test_unknown_incident_is_400",
        statement=(
            "updateIncident, addIncidentComment, getIncidentComments, updateIncidentStatus answer "
            "400 to unknown incidents."
        ),
        source=(
            "REFERENCE: GET / PATCH /api/incident/{incidentNumber}; openapi.yaml: "
            "parameters.incidentNumber (an unknown number is answered 400)"
        ),
        strict_only=(
            "Kener 2.0.0's spec never says so, and Kener's getIncidentComments answered 200 [] for "
            "an unknown incident"
        ),
    ),
    Rule(
        "KENER-INC-012",
        test="test_incidents:test_get_unknown_incident_is_400_not_found",
        statement=(
            "getIncident answers 400 to an unknown incident, naming the number and 'not found', "
            "and 400 to number 0."
        ),
        source=(
            "REFERENCE: GET / PATCH /api/incident/{incidentNumber}; README: Behaviour where "
            "Kener's spec is silent"
        ),
        strict_only=(
            "Kener 2.0's GET answered 404 'incident not found', a status its spec does not declare"
        ),
    ),
    Rule(
        "KENER-INC-013",
        test="test_incidents:test_patch_resets_omitted_fields_to_defaults",
        statement=(
            "updateIncident replaces the whole incident: an omitted body, impact, times or flag "
            "goes back to its default."
        ),
        source=(
            "Kener 2.0 docs: Update an Incident ('It will clear values if not passed'); REFERENCE: "
            "GET / PATCH /api/incident/{incidentNumber}"
        ),
    ),
    Rule(
        "KENER-INC-014",
        test="test_incidents:test_patch_sets_every_field_given",
        statement=(
            "updateIncident sets every field it is sent, and getIncident then answers the replaced "
            "incident."
        ),
        source=(
            "kener-2.0.0 spec: PATCH /api/incident/{incidentNumber}, requestBody (Incident) and "
            "responses.200"
        ),
    ),
    Rule(
        "KENER-INC-015",
        test="test_incidents:test_patch_keeps_number_created_at_and_comments",
        statement=(
            "updateIncident keeps the incident's number, createdAt and comments, and creates no "
            "other incident."
        ),
        source=(
            "REFERENCE: GET / PATCH /api/incident/{incidentNumber} (incidentNumber, createdAt and "
            "comments stay)"
        ),
    ),
    Rule(
        "KENER-INC-016",
        test="test_incidents:test_patch_invalid_is_rejected_and_incident_unchanged",
        statement=(
            "updateIncident answers 400 and leaves the incident unchanged for a body breaking "
            "create's rules."
        ),
        source=(
            "kener-2.0.0 spec: PATCH /api/incident/{incidentNumber}, responses.400; REFERENCE: GET "
            "/ PATCH /api/incident/{incidentNumber} (the rules of create)"
        ),
    ),
    Rule(
        "KENER-INC-017",
        test="test_incidents:test_patch_end_equal_to_start_is_rejected",
        statement=(
            "updateIncident answers 400 and leaves the incident unchanged when endDatetime equals "
            "startDatetime."
        ),
        source=(
            "REFERENCE: POST /api/incident (end must be after start); openapi.yaml: "
            "IncidentFields.endDatetime"
        ),
        strict_only=(
            "Kener 2.0.0's spec and docs order no times (its example ends before it starts); "
            "'after' is the refined rule"
        ),
    ),
    Rule(
        "KENER-INC-018",
        test="test_incidents:test_patch_leaves_out_cleared_optional_fields",
        statement=(
            "An updateIncident that omits impact and the times leaves those fields out of its "
            "answer and of getIncident's."
        ),
        source=(
            "kener-2.0.0 spec: IncidentResponse impact, startDatetime, endDatetime (not "
            "nullable); REFERENCE: Absent values; openapi.yaml: IncidentResponse"
        ),
    ),
    Rule(
        "KENER-INC-019",
        test="test_incidents:test_patch_closed_at_follows_is_resolved",
        statement=(
            "updateIncident sets closedAt to now on resolving, keeps it while resolved, clears it "
            "on reopening."
        ),
        source=(
            "openapi.yaml: PATCH /api/incident/{incidentNumber} description (closedAt follows "
            "isResolved); REFERENCE: GET /api/incident (state)"
        ),
        strict_only=(
            "Kener 2.0's PATCH reopened the GitHub issue (closedAt null) whatever isResolved said"
        ),
    ),
    Rule(
        "KENER-INC-020",
        test="test_incidents:test_comment_answer_echoes_body",
        statement=(
            "addIncidentComment answers the comment's body unchanged (any Unicode, newlines) and "
            "an integer commentID."
        ),
        source=(
            "kener-2.0.0 spec: POST /api/incident/{incidentNumber}/comment, responses.200 "
            "(CommentResponse)"
        ),
    ),
    Rule(
        "KENER-INC-021",
        test="test_incidents:test_new_incident_has_no_comments",
        statement="getIncidentComments answers [] for an incident without comments.",
        source=(
            "kener-2.0.0 spec: GET /api/incident/{incidentNumber}/comment, responses.200 (array of "
            "CommentResponse)"
        ),
    ),
    Rule(
        "KENER-INC-022",
        test="test_incidents:test_comments_oldest_first",
        statement=(
            "getIncidentComments lists an incident's comments oldest first, as addIncidentComment "
            "answered them."
        ),
        source="REFERENCE: POST / GET /api/incident/{incidentNumber}/comment (oldest first)",
    ),
    Rule(
        "KENER-INC-023",
        test="test_incidents:test_comment_ids_unique_across_incidents",
        statement=(
            "A commentID is unique across all incidents, and each incident lists only its own "
            "comments."
        ),
        source=(
            "REFERENCE: POST / GET /api/incident/{incidentNumber}/comment; openapi.yaml: "
            "CommentResponse.commentID"
        ),
    ),
    Rule(
        "KENER-INC-024",
        test="test_incidents:test_empty_comment_body_is_rejected",
        statement="addIncidentComment answers 400 and adds nothing for an empty or a missing body.",
        source=(
            "kener-2.0.0 spec: Comment (body required), responses.400; REFERENCE: POST / GET "
            "/api/incident/{incidentNumber}/comment (non-empty string)"
        ),
    ),
    Rule(
        "KENER-INC-025",
        test="test_incidents:test_comment_created_at_is_now_and_listed_unchanged",
        statement=(
            "A comment's createdAt is the server's now when it is added; getIncidentComments lists "
            "it as answered."
        ),
        source=(
            "openapi.yaml: CommentResponse.createdAt; kener-2.0.0 spec: CommentResponse.createdAt"
        ),
        strict_only=(
            "Kener 2.0.0's spec only names createdAt; Kener took it from GitHub's clock, not the "
            "time its own answers carry"
        ),
    ),
    Rule(
        "KENER-INC-026",
        test="test_incidents:test_status_update_changes_only_given_fields",
        statement=(
            "updateIncidentStatus changes only the fields it is sent (isIdentified, isResolved, "
            "endDatetime)."
        ),
        source=(
            "Kener 2.0 docs: Update Incident Status (each field optional); REFERENCE: POST "
            "/api/incident/{incidentNumber}/status"
        ),
    ),
    Rule(
        "KENER-INC-027",
        test="test_incidents:test_resolving_sets_closed_at",
        statement=(
            "updateIncidentStatus with isResolved true sets closedAt to now on an open incident, "
            "and getIncident shows it."
        ),
        source=(
            "REFERENCE: POST /api/incident/{incidentNumber}/status; openapi.yaml: "
            "IncidentStatus.isResolved"
        ),
        strict_only=(
            "Kener 2.0's closedAt was its GitHub issue's closed_at, set on closing; its spec never "
            "ties it to isResolved"
        ),
    ),
    Rule(
        "KENER-INC-028",
        test="test_incidents:test_closed_at_kept_while_resolved_cleared_on_reopen",
        statement=(
            "closedAt stays while an incident stays resolved, is null once reopened, and is new on "
            "resolving again."
        ),
        source=(
            "REFERENCE: POST /api/incident/{incidentNumber}/status; openapi.yaml: "
            "IncidentStatus.isResolved"
        ),
        strict_only="Kener 2.0's status update reopened the GitHub issue and never set closedAt",
    ),
    Rule(
        "KENER-INC-029",
        test="test_incidents:test_status_end_not_after_start_is_rejected",
        statement=(
            "updateIncidentStatus answers 400, changing nothing, to an endDatetime at or before "
            "the startDatetime."
        ),
        source=(
            "README: Behaviour where Kener's spec is silent (POST .../status with endDatetime); "
            "openapi.yaml: IncidentFields"
        ),
        strict_only=(
            "Kener 2.0 checked only that endDatetime is a number; the order rule on status updates "
            "is this project's"
        ),
    ),
    Rule(
        "KENER-INC-030",
        test="test_incidents:test_search_state_open_by_default_and_closed",
        statement=(
            "searchIncidents answers unresolved incidents by default and for state=open, resolved "
            "ones for state=closed."
        ),
        source=(
            "REFERENCE: GET /api/incident (state); openapi.yaml: GET /api/incident, "
            "parameters.state"
        ),
        strict_only="In Kener 2.0 open and closed were the GitHub issue's state, not isResolved",
    ),
    Rule(
        "KENER-INC-031",
        test="test_incidents:test_search_unknown_state_is_rejected",
        statement="searchIncidents answers 400 to a state other than open or closed.",
        source=(
            "kener-2.0.0 spec: GET /api/incident, parameters.state (enum open, closed); REFERENCE: "
            "GET /api/incident"
        ),
    ),
    Rule(
        "KENER-INC-032",
        test="test_incidents:test_search_tags_match_any",
        statement=(
            "searchIncidents with tags=a,b answers the incidents having any of those tags; without "
            "tags, every incident."
        ),
        source=(
            "kener-2.0.0 spec: GET /api/incident, parameters.tags; REFERENCE: GET /api/incident "
            "(any of them: GitHub label OR)"
        ),
    ),
    Rule(
        "KENER-INC-033",
        test="test_incidents:test_search_tags_ignore_spaces_around_entries",
        statement="searchIncidents ignores spaces around the entries of tags (' earth , google ').",
        source=(
            "README: Behaviour where Kener's spec is silent (tags in search); openapi.yaml: GET "
            "/api/incident, parameters.tags"
        ),
        strict_only=(
            "Kener 2.0.0's spec and docs only say 'comma separated'; ignoring spaces is this "
            "project's rule"
        ),
    ),
    Rule(
        "KENER-INC-034",
        test="test_incidents:test_search_unknown_tag_is_rejected",
        statement=(
            "searchIncidents answers 400 when tags names an unknown monitor tag, alone or beside a "
            "known one."
        ),
        source=(
            "REFERENCE: GET /api/incident (unknown tags: 400); openapi.yaml: GET /api/incident, "
            "parameters.tags"
        ),
        strict_only="Kener 2.0 searched GitHub labels and never refused an unknown tag",
    ),
    Rule(
        "KENER-INC-035",
        test="test_incidents:test_search_empty_tag_entry_is_rejected",
        statement=(
            "searchIncidents answers 400 to an empty tags value or an empty entry in it ('earth,', "
            "',earth')."
        ),
        source=(
            "README: Behaviour where Kener's spec is silent (an empty entry is unknown); "
            "openapi.yaml: GET /api/incident, parameters.tags"
        ),
        strict_only=(
            "Kener 2.0 searched GitHub labels and refused no entry; an empty one as unknown is "
            "this project's rule"
        ),
    ),
    Rule(
        "KENER-INC-036",
        test="test_incidents:test_search_created_range_is_inclusive",
        statement=(
            "searchIncidents' created_after_utc and created_before_utc are inclusive bounds on "
            "createdAt."
        ),
        source=(
            "kener-2.0.0 spec: GET /api/incident, parameters.created_after_utc, "
            "created_before_utc; REFERENCE: GET /api/incident (inclusive bounds)"
        ),
    ),
    Rule(
        "KENER-INC-037",
        test="test_incidents:test_search_title_like_is_case_insensitive_substring",
        statement=(
            "searchIncidents' title_like matches any case-insensitive substring of the title, part "
            "of a word included."
        ),
        source=(
            "REFERENCE: GET /api/incident (title_like); openapi.yaml: GET /api/incident, "
            "parameters.title_like"
        ),
        strict_only=(
            "Kener 2.0 passed title_like to GitHub's 'in:title' search, which matches whole words, "
            "not substrings"
        ),
    ),
    Rule(
        "KENER-INC-038",
        test="test_incidents:test_search_title_like_is_literal",
        statement="searchIncidents' title_like takes % and _ literally, not as wildcards.",
        source=(
            "openapi.yaml: GET /api/incident, parameters.title_like (part of the title); "
            "REFERENCE: GET /api/incident"
        ),
        strict_only=(
            "Kener 2.0.0's spec and docs say nothing of wildcards (Kener passed the text to GitHub "
            "search)"
        ),
    ),
    Rule(
        "KENER-INC-039",
        test="test_incidents:test_search_newest_first",
        statement=(
            "searchIncidents answers the matching incidents newest first, each as createIncident "
            "answered it."
        ),
        source=(
            "REFERENCE: GET /api/incident (newest first); openapi.yaml: GET /api/incident "
            "description"
        ),
    ),
    Rule(
        "KENER-INC-040",
        test="test_incidents:test_search_pagination",
        statement=(
            "searchIncidents pages its answer: 10 per page by default, per_page up to 100, page "
            "from 1, [] past the end."
        ),
        source=(
            "kener-2.0.0 spec: GET /api/incident, parameters.page (default 1), per_page (default "
            "10, maximum 100); REFERENCE: GET /api/incident"
        ),
    ),
    Rule(
        "KENER-INC-041",
        test="test_incidents:test_search_per_page_bounds",
        statement=(
            "searchIncidents takes per_page from 1 to 100 and answers 400 to per_page 0, 101 or -1 "
            "and to page 0."
        ),
        source=(
            "openapi.yaml: GET /api/incident, parameters.per_page (minimum 1, maximum 100), page "
            "(minimum 1)"
        ),
        strict_only=(
            "Kener 2.0.0's spec sets per_page no minimum; refusing per_page below 1 is the refined "
            "contract's"
        ),
    ),
    Rule(
        "KENER-AUTH-001",
        test="test_auth:test_missing_authorization_is_401",
        statement=(
            'Every operation answers 401 with a JSON {"error": ...} to a request without an '
            "Authorization header."
        ),
        source=(
            "kener-2.0.0 spec: security (bearerAuth) and responses.401 (Response401) of every "
            "operation"
        ),
    ),
    Rule(
        "KENER-AUTH-002",
        test="test_auth:test_wrong_token_is_401",
        statement=(
            "Every operation answers 401 with a JSON error to a wrong bearer token (near misses) "
            "or 'Bearer' alone."
        ),
        source=(
            "kener-2.0.0 spec: security (bearerAuth) and responses.401 (Response401) of every "
            "operation"
        ),
    ),
    Rule(
        "KENER-AUTH-003",
        test="test_auth:test_bare_token_is_401",
        statement=(
            "Every operation answers 401 to the right token sent without the 'Bearer ' scheme."
        ),
        source=(
            "kener-2.0.0 spec: components.securitySchemes.bearerAuth (type http, scheme bearer); "
            "RFC 6750 §2.1"
        ),
    ),
    Rule(
        "KENER-AUTH-004",
        test="test_auth:test_other_scheme_is_401",
        statement=(
            "Every operation answers 401 to the token sent under another scheme (Basic, Token)."
        ),
        source=(
            "kener-2.0.0 spec: components.securitySchemes.bearerAuth (type http, scheme bearer); "
            "RFC 6750 §2.1"
        ),
    ),
    Rule(
        "KENER-AUTH-005",
        test="test_auth:test_refused_write_changes_nothing",
        statement=(
            "A write refused 401 (no, a wrong or a bare credential) stores nothing: no data point, "
            "incident or comment."
        ),
        source=(
            "kener-2.0.0 spec: responses.401 (Response401) of every write; REFERENCE: Every "
            "operation (auth)"
        ),
    ),
    Rule(
        "KENER-AUTH-006",
        test="test_auth:test_unauthenticated_malformed_body_is_refused_without_a_server_error",
        statement=(
            "A write without credentials and with a malformed or empty JSON body is answered 400 "
            "or 401, never a 5xx."
        ),
        source="kener-2.0.0 spec: responses of every write (200, 400 and 401 only)",
    ),
    Rule(
        "KENER-AUTH-007",
        test="test_auth:test_credentials_are_judged_before_the_body",
        statement=(
            "Every write answers 401, not 400, to missing or wrong credentials whatever its body "
            "(malformed, not UTF-8)."
        ),
        source=(
            "REFERENCE: Every operation (auth is checked before the body); openapi.yaml: "
            "components.securitySchemes.bearerAuth"
        ),
        strict_only=(
            "Kener 2.0.0's spec does not order the auth and body checks (its server parsed the "
            "body first)"
        ),
    ),
    Rule(
        "KENER-AUTH-008",
        test="test_auth:test_right_token_is_accepted",
        statement=(
            "Every operation answers 200 to a valid request with `Authorization: Bearer <the right "
            "token>`."
        ),
        source=(
            "kener-2.0.0 spec: components.securitySchemes.bearerAuth; responses.200 of every "
            "operation"
        ),
    ),
    Rule(
        "KENER-AUTH-009",
        test="test_auth:test_bearer_scheme_name_is_case_insensitive",
        statement=(
            "The bearer scheme's name is matched without letter case: `bearer <token>` and `BEARER "
            "<token>` are accepted."
        ),
        source=(
            "RFC 9110 §11.1; README: Behaviour where Kener's spec is silent (Bearer, the scheme "
            "name in any case)"
        ),
        strict_only=(
            "Kener 2.0 matched 'Bearer ' exactly, and its spec says nothing of the scheme's letter "
            "case"
        ),
    ),
    Rule(
        "KENER-ERR-001",
        test="test_errors:test_missing_or_empty_body_is_400",
        statement=(
            "Every write answers 400 with a JSON error to a request without a body or with an "
            "empty one."
        ),
        source=(
            "kener-2.0.0 spec: requestBody.required (true) and responses.400 (Response400) of "
            "every write"
        ),
    ),
    Rule(
        "KENER-ERR-002",
        test="test_errors:test_malformed_json_is_400",
        statement=(
            "Every write answers 400 with a JSON error to malformed JSON (truncated, "
            "single-quoted, trailing comma, blank)."
        ),
        source=(
            "kener-2.0.0 spec: requestBody content (application/json) and responses.400 of every "
            "write; RFC 8259"
        ),
    ),
    Rule(
        "KENER-ERR-003",
        test="test_errors:test_invalid_utf8_is_400",
        statement=(
            "Every write answers 400 with a JSON error to a body that is not UTF-8, outside or "
            "inside a JSON string."
        ),
        source=(
            "kener-2.0.0 spec: requestBody content (application/json) and responses.400 of every "
            "write; RFC 8259 §8.1"
        ),
    ),
    Rule(
        "KENER-ERR-004",
        test="test_errors:test_body_that_is_not_a_json_object_is_400",
        statement=(
            "Every write answers 400 with a JSON error to a JSON body that is no object ([], a "
            "string, null, a number)."
        ),
        source=(
            "kener-2.0.0 spec: request body schemas (type object) and responses.400 of every write"
        ),
    ),
    Rule(
        "KENER-ERR-005",
        test="test_errors:test_field_of_the_wrong_type_is_400",
        statement=(
            "A body field of the wrong type (a number for a string, a string for a boolean, ...) "
            "is answered 400."
        ),
        source=(
            "kener-2.0.0 spec: property types of MonitorStatus, Incident, Comment and "
            "IncidentStatus; responses.400"
        ),
    ),
    Rule(
        "KENER-ERR-006",
        test="test_errors:test_missing_required_field_or_parameter_is_400",
        statement=(
            "A missing required field (status, latency, tag, title, tags, comment body) or tag "
            "parameter is answered 400."
        ),
        source=(
            "kener-2.0.0 spec: required of MonitorStatus, Incident and Comment; GET /api/status, "
            "parameters.tag (required)"
        ),
    ),
    Rule(
        "KENER-ERR-007",
        test="test_errors:test_value_outside_the_declared_set_or_range_is_400",
        statement=(
            "A value outside the spec's enums and ranges (status, impact, state, page < 1, "
            "per_page > 100) is answered 400."
        ),
        source=(
            "kener-2.0.0 spec: MonitorStatus.status and Incident.impact (enums); GET "
            "/api/incident, parameters.state, page (minimum 1), per_page (maximum 100)"
        ),
    ),
    Rule(
        "KENER-ERR-008",
        test="test_errors:test_unknown_tag_is_400",
        statement=(
            "An unknown monitor tag is answered 400 by pushes, status reads, incident creates and "
            "replaces, and searches."
        ),
        source="kener-2.0.0 spec: Response400 (example 'unknown tags'); REFERENCE: Words (monitor)",
    ),
    Rule(
        "KENER-ERR-009",
        test="test_errors:test_unknown_incident_is_a_client_error",
        statement=(
            "Every {incidentNumber} operation answers an unknown incident with a 4xx JSON error "
            "(Kener's GET: 404)."
        ),
        source=(
            "REFERENCE: GET / PATCH /api/incident/{incidentNumber}; kener-2.0.0 spec: "
            "responses.400 of the {incidentNumber} operations"
        ),
    ),
    Rule(
        "KENER-ERR-010",
        test="test_errors:test_bad_input_never_causes_a_server_error",
        statement=(
            "No bad input of the errors group, the strict profile's included, causes a 5xx; a "
            "refusal is a 4xx JSON error."
        ),
        source=(
            "kener-2.0.0 spec: responses of every operation (200, 400 and 401 only); REFERENCE: "
            "Every operation (errors)"
        ),
    ),
    Rule(
        "KENER-ERR-011",
        test="test_errors:test_content_type_other_than_json_is_400",
        statement=(
            "Every write answers 400 to valid JSON sent as text/plain or "
            "application/x-www-form-urlencoded."
        ),
        source="openapi.yaml: info.description (Content-Type: application/json), Response400",
        strict_only=(
            "Kener 2.0.0's spec names application/json but does not say other media types are "
            "refused"
        ),
    ),
    Rule(
        "KENER-ERR-012",
        test="test_errors:test_value_outside_the_refined_range_is_400",
        statement=(
            "Values outside the refined bounds are 400: per_page < 1, latency < 0, negative times, "
            "empty title or tags, ..."
        ),
        source=(
            "openapi.yaml: bounds of the search parameters, MonitorStatus, IncidentFields and "
            "Comment; README: How openapi.yaml refines the Kener 2.0.0 spec"
        ),
        strict_only=(
            "These bounds are the refined contract's; Kener 2.0.0's spec declares none of them"
        ),
    ),
    Rule(
        "KENER-ERR-013",
        test="test_errors:test_unknown_or_invalid_incident_number_is_400",
        statement=(
            "Every {incidentNumber} operation answers 400 to an unknown, zero, negative or "
            "non-integer ('abc') number."
        ),
        source=(
            "REFERENCE: GET / PATCH /api/incident/{incidentNumber}; README: Behaviour where "
            "Kener's spec is silent; openapi.yaml: parameters.incidentNumber (minimum 1)"
        ),
        strict_only=(
            "Kener 2.0's GET answered 404 to an unknown incident; 400 for every invalid number is "
            "this project's decision"
        ),
    ),
    Rule(
        "KENER-ERR-014",
        test="test_errors:test_unknown_query_parameter_is_400",
        statement="Every operation answers 400 to a query parameter it does not declare.",
        source="openapi.yaml: Response400 (an unknown query parameter)",
        strict_only=(
            "Kener 2.0.0's spec does not refuse undeclared query parameters (Kener read an "
            "undeclared timestamp)"
        ),
    ),
    Rule(
        "KENER-ERR-015",
        test="test_errors:test_text_with_nul_or_an_unpaired_surrogate_is_400",
        statement=(
            "Text with NUL (U+0000) or an unpaired surrogate, in a body field or a query "
            "parameter, is answered 400."
        ),
        source=(
            "openapi.yaml: info.description (no NUL or unpaired surrogates); README: Behaviour "
            "where Kener's spec is silent"
        ),
        strict_only=(
            "Kener 2.0.0's spec allows any string; refusing NUL and unpaired surrogates is this "
            "project's decision"
        ),
    ),
    Rule(
        "KENER-ERR-016",
        test="test_errors:test_unpaired_surrogate_in_a_query_parameter_is_400",
        statement=(
            "searchIncidents answers 400 to a title_like holding U+D800 percent-encoded "
            "(%ED%A0%80), which is no UTF-8."
        ),
        source="openapi.yaml: info.description (the query string, percent-decoded, is UTF-8)",
        strict_only="Kener 2.0.0's spec says nothing of the query string's encoding",
    ),
    Rule(
        "KENER-ERR-017",
        test="test_errors:test_error_message_names_what_was_wrong",
        statement=(
            "An error message names what was wrong: the unknown tag, field, parameter, timestamp "
            "or incident number."
        ),
        source="REFERENCE: Every operation (errors: messages say what was wrong, with which value)",
        strict_only=(
            "Kener 2.0.0's spec only shows an example message ('unknown tags'); naming the value "
            "is this project's rule"
        ),
    ),
    Rule(
        "KENER-ERR-018",
        test="test_errors:test_unknown_path_is_a_json_404",
        statement=(
            "A GET of a path the contract does not have (/api, /api/nothing, ...) is answered 404 "
            "with a JSON error."
        ),
        source=(
            "openapi.yaml: info.description (a path the contract does not have is 404; every error "
            "is JSON)"
        ),
        strict_only=(
            "Kener 2.0.0's spec covers only its operations; a JSON 404 elsewhere is the refined "
            "contract's"
        ),
    ),
    Rule(
        "KENER-ERR-019",
        test="test_errors:test_wrong_method_is_a_json_405_with_a_complete_allow",
        statement=(
            "A method the contract does not declare for a path is answered 405, a JSON error with "
            "a complete Allow."
        ),
        source="openapi.yaml: info.description (405 with Allow); RFC 9110 §15.5.6",
        strict_only="Kener 2.0.0's spec declares no 405; the refined contract adds it",
    ),
    Rule(
        "KENER-ERR-020",
        test="test_errors:test_head_is_a_405_without_a_body",
        statement=(
            "HEAD /api/status is answered 405 with an Allow header and no body; the connection "
            "stays usable."
        ),
        source="README: Behaviour where Kener's spec is silent (HEAD); RFC 9110 §9.3.2, §15.5.6",
        strict_only=(
            "Kener 2.0.0's spec says nothing of HEAD; answering it 405 is this project's decision"
        ),
    ),
    Rule(
        "KENER-HTTP-001",
        test="test_http:test_content_type",
        statement=(
            "Any letter case of application/json and its utf-8 charset is read alike; other media "
            "types are 400 (strict)."
        ),
        source="RFC 9110 §8.3.1; openapi.yaml: info.description (Content-Type)",
    ),
    Rule(
        "KENER-HTTP-002",
        test="test_http:test_body",
        statement=(
            "A body is one JSON value in UTF-8, not coded; a BOM, gzip, trailing bytes or a GET "
            "body is 400 (strict)."
        ),
        source="RFC 8259 §8.1; RFC 9110 §8.4; openapi.yaml: info.description (request bodies)",
    ),
    Rule(
        "KENER-HTTP-003",
        test="test_http:test_framing",
        statement=(
            "A body sent chunked (small chunks, extensions) or after Expect: 100-continue is read "
            "as with Content-Length."
        ),
        source="RFC 9112 §7.1; RFC 9110 §10.1.1",
    ),
    Rule(
        "KENER-HTTP-004",
        test="test_http:test_target",
        statement=(
            "An absolute-form target is accepted; other spellings of the target get the contract's "
            "200, 404 or 400 (strict)."
        ),
        source=(
            "RFC 9112 §3.2.2; RFC 3986 §6.2.2; openapi.yaml: info.description (the path, the query)"
        ),
    ),
    Rule(
        "KENER-HTTP-005",
        test="test_http:test_method",
        statement=(
            "An undeclared method on an operation's path is 405 (strict); no method causes a 5xx "
            "but 501 for an unknown one."
        ),
        source="RFC 9110 §9.1, §15.5.6; openapi.yaml: info.description (405 with Allow)",
    ),
    Rule(
        "KENER-HTTP-006",
        test="test_http:test_headers",
        statement=(
            "Header names and auth scheme ignore letter case; Host is required once; the rest as "
            "the contract says (strict)."
        ),
        source=(
            "RFC 9110 §5.1, §11.1; RFC 9112 §3.2; openapi.yaml: info.description (Host, "
            "Authorization)"
        ),
    ),
    Rule(
        "KENER-HTTP-007",
        test="test_http:test_combinations",
        statement=(
            "Variants of several dimensions at once: accepted when each is, else refused (strict); "
            "never a 5xx."
        ),
        source="RFC 9110; RFC 9112; openapi.yaml: info.description (how a request is read)",
    ),
    Rule(
        "KENER-HTTP-008",
        test="test_http:test_a_plain_request_is_accepted",
        statement=(
            "The plain valid request of every operation, sent byte for byte, is answered 200."
        ),
        source="kener-2.0.0 spec: responses.200 of every operation",
    ),
    Rule(
        "KENER-SCHEMA-001",
        test="test_schema:test_operation",
        statement=(
            "Every operation answers generated requests with declared statuses, content types, "
            "schemas and headers."
        ),
        source="the profile's OpenAPI document (kener-2.0.0 spec or openapi.yaml): every operation",
    ),
    Rule(
        "KENER-SCHEMA-002",
        test="test_schema:test_stateful_links",
        statement=(
            "Calls chained along the spec's links (create, then read, replace, comment on, "
            "resolve) pass the same checks."
        ),
        source=(
            "openapi.yaml: links of createIncident to the {incidentNumber} operations (the "
            "kener-2.0.0 spec has none: skipped)"
        ),
    ),
)

BY_TEST = {rule.test: rule for rule in RULES}
BY_ID = {rule.id: rule for rule in RULES}
