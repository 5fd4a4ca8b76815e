"""calendar and stats versions: per-community change counters kept by the database;
sessions indexed by (start, id)

A community's calendar feed was fingerprinted by summing the change stamps of every
session in its window (and of their series, venues and organisers): a revalidation cost
a read of the whole window. Now the database raises ``communities.calendar_version``
whenever anything a feed shows changes, so that the fingerprint is one number read with
the feed's token:

- a session or a series inserted, changed or removed raises its community's counter
  (both communities' when it moves);
- a venue changed or removed, or a person's name or address changed (organisers are
  shown by name and address), raises every community's counter (rare changes).

Likewise ``communities.stats_version`` is raised whenever one of the community's cases
or issues is inserted, changed or removed: the programme's statistics are kept in the
cache under the versions (with what was asked) instead of counted over every case,
issue and session at each request.

Triggers keep them, so that no write can forget them (hand-written statements and bulk
loads included). On PostgreSQL they run once per statement over its transition table
(a bulk insert raises each community once, instead of updating its row once per row
inserted); SQLite's triggers run per row, in place.

Lists of sessions are ordered by start and id: the index of start times becomes one of
(start, id), so that PostgreSQL reads a page in order and stops at its last row instead
of sorting every session that shares the page's first start time.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 14:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

#: Tables whose rows belong to one community through their community_id, and the
#: counter of the community each raises.
OWNED = {
    "meetings": "calendar_version",
    "series": "calendar_version",
    "cases": "stats_version",
    "issues": "stats_version",
}

BUMP_ALL = "UPDATE communities SET calendar_version = calendar_version + 1"


def _sqlite_triggers() -> list[str]:
    found = []
    for table, counter in OWNED.items():
        bump = f"UPDATE communities SET {counter} = {counter} + 1"
        found += [
            f"""CREATE TRIGGER {counter}_{table}_insert AFTER INSERT ON {table} BEGIN
                {bump} WHERE id = NEW.community_id; END""",
            f"""CREATE TRIGGER {counter}_{table}_update AFTER UPDATE ON {table} BEGIN
                {bump} WHERE id IN (OLD.community_id, NEW.community_id); END""",
            f"""CREATE TRIGGER {counter}_{table}_delete AFTER DELETE ON {table} BEGIN
                {bump} WHERE id = OLD.community_id; END""",
        ]
    found += [
        f"CREATE TRIGGER calendar_version_venues_update AFTER UPDATE ON venues BEGIN {BUMP_ALL}; END",
        f"CREATE TRIGGER calendar_version_venues_delete AFTER DELETE ON venues BEGIN {BUMP_ALL}; END",
        f"""CREATE TRIGGER calendar_version_users_update AFTER UPDATE OF name, email ON users
            BEGIN {BUMP_ALL}; END""",
    ]
    return found


def _sqlite_trigger_names() -> list[str]:
    names = [
        f"{counter}_{table}_{event}"
        for table, counter in OWNED.items()
        for event in ("insert", "update", "delete")
    ]
    return names + [
        "calendar_version_venues_update",
        "calendar_version_venues_delete",
        "calendar_version_users_update",
    ]


def _pg_owned_function(counter: str) -> str:
    bump = f"UPDATE communities SET {counter} = {counter} + 1"
    return f"""CREATE FUNCTION consult_{counter}_owned_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            {bump} WHERE id IN (SELECT community_id FROM changed_new);
        ELSIF TG_OP = 'UPDATE' THEN
            {bump} WHERE id IN (SELECT community_id FROM changed_new
                                UNION SELECT community_id FROM changed_old);
        ELSE
            {bump} WHERE id IN (SELECT community_id FROM changed_old);
        END IF;
        RETURN NULL;
    END $$"""


PG_FUNCTIONS = [
    _pg_owned_function("calendar_version"),
    _pg_owned_function("stats_version"),
    f"""CREATE FUNCTION consult_calendar_version_all_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        {BUMP_ALL};
        RETURN NULL;
    END $$""",
]


def _pg_triggers() -> list[str]:
    found = []
    for table, counter in OWNED.items():
        function = f"consult_{counter}_owned_changed()"
        found += [
            f"""CREATE TRIGGER {counter}_{table}_insert AFTER INSERT ON {table}
                REFERENCING NEW TABLE AS changed_new FOR EACH STATEMENT
                EXECUTE FUNCTION {function}""",
            f"""CREATE TRIGGER {counter}_{table}_update AFTER UPDATE ON {table}
                REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new
                FOR EACH STATEMENT EXECUTE FUNCTION {function}""",
            f"""CREATE TRIGGER {counter}_{table}_delete AFTER DELETE ON {table}
                REFERENCING OLD TABLE AS changed_old FOR EACH STATEMENT
                EXECUTE FUNCTION {function}""",
        ]
    found += [
        """CREATE TRIGGER calendar_version_venues_change AFTER UPDATE OR DELETE ON venues
           FOR EACH STATEMENT EXECUTE FUNCTION consult_calendar_version_all_changed()""",
        """CREATE TRIGGER calendar_version_users_update AFTER UPDATE OF name, email ON users
           FOR EACH STATEMENT EXECUTE FUNCTION consult_calendar_version_all_changed()""",
    ]
    return found


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("calendar_version", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("stats_version", sa.Integer(), server_default="0", nullable=False)
        )
    # Lists are ordered by (starts_at, id): PostgreSQL read every session sharing the
    # first start time of a page (hundreds in the demo town) and sorted them by id.
    op.create_index("ix_meetings_starts_at_id", "meetings", ["starts_at", "id"], unique=False)
    op.drop_index("ix_meetings_starts_at", table_name="meetings")
    if sqlite:
        for statement in _sqlite_triggers():
            op.execute(statement)
        return
    for statement in PG_FUNCTIONS + _pg_triggers():
        op.execute(statement)


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for name in _sqlite_trigger_names():
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for table, counter in OWNED.items():
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {counter}_{table}_{event} ON {table}")
        op.execute("DROP TRIGGER IF EXISTS calendar_version_venues_change ON venues")
        op.execute("DROP TRIGGER IF EXISTS calendar_version_users_update ON users")
        for counter in ("calendar_version", "stats_version"):
            op.execute(f"DROP FUNCTION IF EXISTS consult_{counter}_owned_changed()")
        op.execute("DROP FUNCTION IF EXISTS consult_calendar_version_all_changed()")
    op.create_index("ix_meetings_starts_at", "meetings", ["starts_at"], unique=False)
    op.drop_index("ix_meetings_starts_at_id", table_name="meetings")
    # In place on SQLite too (3.35+): communities cannot be copied while others refer to it.
    op.execute("ALTER TABLE communities DROP COLUMN stats_version")
    op.execute("ALTER TABLE communities DROP COLUMN calendar_version")
