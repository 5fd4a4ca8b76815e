"""activity version: a per-community change counter of a session page's activity

A session page shows, beside the session and its series (``calendar_version``, 0010),
its sign-ups and waiting list, its invitations and their answers, its agenda with its
resolutions, its minutes, the attendance recorded, the community's alliance (whether
units may be invited), the units' names and which residents may be named. The database
now raises ``communities.activity_version`` whenever any of these changes, so that the
page is kept in the cache under its community's three counters, read with the session
itself:

- a row of ``registrations``, ``invitations``, ``agenda_items``, ``minutes`` or
  ``attendance`` inserted, changed or removed raises the counter of its session's
  community (both communities' when it moves), ``resolutions`` through their agenda
  item's session, ``alliance_members`` their own community's;
- a unit changed or removed, or a person's consent to be named in minutes (or role,
  which decides whether the consent matters) changed, raises every community's counter
  (rare changes).

As in 0010, triggers keep it: on PostgreSQL once per statement over its transition
table, on SQLite per row.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 17:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COUNTER = "activity_version"
#: Without a WHERE clause: every community's counter.
BUMP = f"UPDATE communities SET {COUNTER} = {COUNTER} + 1"
BUMP_ALL = BUMP

#: Tables whose rows belong to a session (meeting_id): the community is the session's.
OF_MEETING = ("registrations", "invitations", "agenda_items", "minutes", "attendance")
#: Tables whose rows belong to one community through their community_id.
OWNED = ("alliance_members",)
EVENTS = ("insert", "update", "delete")


def _communities_sql(table: str, ids: str) -> str:
    """Select the communities of ``table``'s rows whose key columns are ``ids`` (a list
    of SQL expressions, or a subquery)."""
    if table in OF_MEETING:
        return f"SELECT community_id FROM meetings WHERE id IN ({ids})"
    if table == "resolutions":
        return (
            "SELECT meetings.community_id FROM meetings"
            " JOIN agenda_items ON agenda_items.meeting_id = meetings.id"
            f" WHERE agenda_items.id IN ({ids})"
        )
    return ids


def _key(table: str) -> str:
    """The column through which a row of ``table`` reaches its community."""
    if table in OF_MEETING:
        return "meeting_id"
    if table == "resolutions":
        return "agenda_item_id"
    return "community_id"


TABLES = (*OF_MEETING, "resolutions", *OWNED)


def _sqlite_triggers() -> list[str]:
    found = []
    for table in TABLES:
        key = _key(table)
        rows = {
            "insert": f"NEW.{key}",
            "update": f"OLD.{key}, NEW.{key}",
            "delete": f"OLD.{key}",
        }
        for event in EVENTS:
            found.append(
                f"""CREATE TRIGGER {COUNTER}_{table}_{event} AFTER {event.upper()} ON {table}
                BEGIN {BUMP} WHERE id IN ({_communities_sql(table, rows[event])}); END"""
            )
    found += [
        f"CREATE TRIGGER {COUNTER}_units_update AFTER UPDATE ON units BEGIN {BUMP_ALL}; END",
        f"CREATE TRIGGER {COUNTER}_units_delete AFTER DELETE ON units BEGIN {BUMP_ALL}; END",
        f"""CREATE TRIGGER {COUNTER}_users_update AFTER UPDATE OF named_in_minutes, role
            ON users BEGIN {BUMP_ALL}; END""",
    ]
    return found


def _sqlite_trigger_names() -> list[str]:
    names = [f"{COUNTER}_{table}_{event}" for table in TABLES for event in EVENTS]
    return names + [f"{COUNTER}_units_update", f"{COUNTER}_units_delete", f"{COUNTER}_users_update"]


def _pg_function(table: str) -> str:
    key = _key(table)
    new = _communities_sql(table, f"SELECT {key} FROM changed_new")
    old = _communities_sql(table, f"SELECT {key} FROM changed_old")
    return f"""CREATE FUNCTION consult_{COUNTER}_{table}_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            {BUMP} WHERE id IN ({new});
        ELSIF TG_OP = 'UPDATE' THEN
            {BUMP} WHERE id IN ({new} UNION {old});
        ELSE
            {BUMP} WHERE id IN ({old});
        END IF;
        RETURN NULL;
    END $$"""


PG_ALL_FUNCTION = f"""CREATE FUNCTION consult_{COUNTER}_all_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        {BUMP_ALL};
        RETURN NULL;
    END $$"""


def _pg_triggers() -> list[str]:
    found = []
    for table in TABLES:
        function = f"consult_{COUNTER}_{table}_changed()"
        found += [
            f"""CREATE TRIGGER {COUNTER}_{table}_insert AFTER INSERT ON {table}
                REFERENCING NEW TABLE AS changed_new FOR EACH STATEMENT
                EXECUTE FUNCTION {function}""",
            f"""CREATE TRIGGER {COUNTER}_{table}_update AFTER UPDATE ON {table}
                REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new
                FOR EACH STATEMENT EXECUTE FUNCTION {function}""",
            f"""CREATE TRIGGER {COUNTER}_{table}_delete AFTER DELETE ON {table}
                REFERENCING OLD TABLE AS changed_old FOR EACH STATEMENT
                EXECUTE FUNCTION {function}""",
        ]
    found += [
        f"""CREATE TRIGGER {COUNTER}_units_change AFTER UPDATE OR DELETE ON units
           FOR EACH STATEMENT EXECUTE FUNCTION consult_{COUNTER}_all_changed()""",
        f"""CREATE TRIGGER {COUNTER}_users_update AFTER UPDATE OF named_in_minutes, role
           ON users FOR EACH STATEMENT EXECUTE FUNCTION consult_{COUNTER}_all_changed()""",
    ]
    return found


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.add_column(sa.Column(COUNTER, sa.Integer(), server_default="0", nullable=False))
    if sqlite:
        for statement in _sqlite_triggers():
            op.execute(statement)
        return
    for statement in [*(_pg_function(table) for table in TABLES), PG_ALL_FUNCTION]:
        op.execute(statement)
    for statement in _pg_triggers():
        op.execute(statement)


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for name in _sqlite_trigger_names():
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for table in TABLES:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS {COUNTER}_{table}_{event} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS consult_{COUNTER}_{table}_changed()")
        op.execute(f"DROP TRIGGER IF EXISTS {COUNTER}_units_change ON units")
        op.execute(f"DROP TRIGGER IF EXISTS {COUNTER}_users_update ON users")
        op.execute(f"DROP FUNCTION IF EXISTS consult_{COUNTER}_all_changed()")
    # In place on SQLite too (3.35+), as 0010 does.
    op.execute(f"ALTER TABLE communities DROP COLUMN {COUNTER}")
