"""Tables. Every model is bound to one `DatabaseProxy`, pointed at SQLite or PostgreSQL at
start-up."""

from peewee import (
    SQL,
    AutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    CompositeKey,
    DatabaseProxy,
    DoubleField,
    ForeignKeyField,
    IntegerField,
    Model,
    NodeList,
    SqliteDatabase,
    TextField,
)

database = DatabaseProxy()


class NeverReusedAutoField(AutoField):
    """An auto-incrementing key whose values are never handed out twice.

    PostgreSQL sequences already behave so. SQLite reuses the highest rowid after that row is
    deleted unless the key is declared AUTOINCREMENT.
    """

    def ddl(self, ctx):
        node = super().ddl(ctx)
        if isinstance(database.obj, SqliteDatabase):
            return NodeList((node, SQL("AUTOINCREMENT")))
        return node


class BaseModel(Model):
    class Meta:
        database = database


class SchemaVersion(BaseModel):
    """One row: the number of the last migration applied."""

    version = IntegerField()

    class Meta:
        table_name = "schema_version"


class DataPoint(BaseModel):
    """A monitor's status for one UTC minute; at most one per (tag, minute)."""

    tag = CharField()
    minute = BigIntegerField()  # UTC seconds, a multiple of 60
    status = CharField()
    latency = DoubleField()

    class Meta:
        table_name = "data_point"
        # The key's index serves both the newest-point and the today-range queries.
        primary_key = CompositeKey("tag", "minute")


class Incident(BaseModel):
    number = NeverReusedAutoField()
    title = TextField()
    # casefold()ed copy of the title: case-insensitive search behaves the same on SQLite,
    # whose LIKE folds ASCII only, and on PostgreSQL.
    title_folded = TextField()
    body = TextField(default="")
    impact = CharField(null=True)
    start_datetime = BigIntegerField(null=True)
    end_datetime = BigIntegerField(null=True)
    is_maintenance = BooleanField(default=False)
    is_identified = BooleanField(default=False)
    is_resolved = BooleanField(default=False)
    created_at = BigIntegerField()
    closed_at = BigIntegerField(null=True)

    class Meta:
        table_name = "incident"
        # Search filters on the state and sorts by creation time, newest first.
        indexes = ((("is_resolved", "created_at", "number"), False),)


class IncidentTag(BaseModel):
    incident = ForeignKeyField(Incident, backref="tag_rows", on_delete="CASCADE")
    tag = CharField()
    position = IntegerField()  # order in which the tags were given

    class Meta:
        table_name = "incident_tag"
        primary_key = CompositeKey("incident", "tag")
        # Search by tag looks incidents up from the tag.
        indexes = ((("tag", "incident"), False),)


class Comment(BaseModel):
    id = NeverReusedAutoField()
    incident = ForeignKeyField(Incident, backref="comments", on_delete="CASCADE", index=True)
    body = TextField()
    created_at = BigIntegerField()

    class Meta:
        table_name = "comment"


class ApiKey(BaseModel):
    """A named credential with a scope. Only the SHA-256 of the key is stored: the key is
    shown once, when it is created."""

    name = CharField(unique=True)
    scope = CharField()  # full, push or read
    key_hash = CharField(unique=True)  # hex SHA-256 of the key
    created_at = BigIntegerField()
    last_used_at = BigIntegerField(null=True)  # to the minute: see storage.keys

    class Meta:
        table_name = "api_key"


class DaySummary(BaseModel):
    """The number of points of each status a monitor has on one UTC day: kept by the
    database's own triggers on `data_point` (storage.history), so that every write, rewrite
    and delete of a point changes its day's counts in the same transaction."""

    tag = CharField()
    day = BigIntegerField()  # UTC seconds of the day's midnight
    up = IntegerField(default=0)
    degraded = IntegerField(default=0)
    down = IntegerField(default=0)

    class Meta:
        table_name = "day_summary"
        primary_key = CompositeKey("tag", "day")


class HistoryVersion(BaseModel):
    """One row: a number counted up, by the triggers of storage.rollup, in the transaction of
    every change to a point older than a day; what readers compare to know whether the
    summaries of past days they keep are still right."""

    n = BigIntegerField(default=0)

    class Meta:
        table_name = "history_version"
        primary_key = False


class DataVersion(BaseModel):
    """Counters whose sum goes up, by the triggers of storage.versioning, in the transaction of
    every change to what the public answers show (points, incidents, their tags, comments):
    what readers compare to know whether an answer built from the data is still right. One
    row on SQLite; on PostgreSQL one per slot, so that concurrent writers rarely update the
    same row."""

    slot = IntegerField(primary_key=True)
    n = BigIntegerField(default=0)

    class Meta:
        table_name = "data_version"


TABLES = [
    SchemaVersion,
    DataPoint,
    Incident,
    IncidentTag,
    Comment,
    ApiKey,
    DaySummary,
    HistoryVersion,
    DataVersion,
]
