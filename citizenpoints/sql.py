"""Small helpers for hand-written SQL: the `any` lookup, prepared statements, binary parameters and COPY."""

import functools
import hashlib
import re

import psycopg
from django.conf import settings
from django.db.models import Field, ForeignObject, Lookup


class AnyOf(Lookup):
    """`field__any=[…]`: membership in a list of values passed as ONE array parameter on PostgreSQL
    (`field = ANY(%s)`), an `IN` list elsewhere.

    For a batch's thousands of residents: as 10,000 placeholders the list cost Django and psycopg about 25 ms of
    CPU to compile and split, more than the query itself; `IN (SELECT unnest(…))` avoided that but let the planner
    swap the index scan for a hash join over the whole ledger. `= ANY(array)` keeps the index scan of `IN (…)`.
    """

    lookup_name = "any"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = [self.lhs.output_field.get_db_prep_value(value, connection) for value in self.rhs]
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*lhs_params, values]
        if not values:
            return "1 = 0", list(lhs_params)
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]


Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)  # relations look up only their own lookups, not Field's


def execute_prepared(cursor, sql: str, params: list) -> None:
    """Execute `sql` (with %s placeholders) on `cursor`; on PostgreSQL as a statement this connection prepared.

    For the statements every request of a kind runs (the signed-in user, the counter's redemption): planning their
    joins and subqueries cost PostgreSQL several times what running them does. Django turns psycopg's own prepared
    statements off (for connection poolers), so this PREPAREs by name once per connection, then EXECUTEs; generic
    plans after five runs. Prepared statements outlive a rollback, and persistent connections (CONN_MAX_AGE) keep
    them. Behind a pooler in transaction mode, set PREPARED_STATEMENTS = False. Elsewhere: as it is.
    """
    connection = cursor.db
    if connection.vendor == "postgresql" and _prepared_statements_allowed():
        name, numbered = _prepared_name(sql)
        raw = connection.connection
        prepared = getattr(raw, "_citypoints_prepared", None)
        if prepared is None:
            prepared = raw._citypoints_prepared = set()
        if name not in prepared:
            cursor.execute(f"PREPARE {name} AS {numbered}")
            prepared.add(name)
        sql = f"EXECUTE {name}({', '.join(['%s'] * len(params))})"
    cursor.execute(sql, params)


def _prepared_statements_allowed() -> bool:
    # BENEFITS_PREPARED_STATEMENTS: the setting's name when only the counter prepared its statements; a deployment
    # behind a pooler that turned it off must stay off.
    return getattr(settings, "PREPARED_STATEMENTS", getattr(settings, "BENEFITS_PREPARED_STATEMENTS", True))


@functools.cache
def _prepared_name(sql: str) -> tuple[str, str]:
    """A name for the statement and its text with $1, $2, ... for the %s placeholders, in order."""
    pieces = sql.split("%s")
    numbered = pieces[0] + "".join(f"${n}{piece}" for n, piece in enumerate(pieces[1:], start=1))
    return f"citypoints_{hashlib.sha256(sql.encode()).hexdigest()[:16]}", numbered


def execute_binary(cursor, sql: str, params: list) -> list[tuple] | None:
    """Execute `sql` (positional %s placeholders) on `cursor`'s connection and transaction; its rows, if it returns
    any. On PostgreSQL the parameters are bound by the server, in binary.

    For statements whose parameters are a batch's columns (arrays of thousands of values): Django binds on the
    client, writing each array into the statement as a quoted literal (a regular expression per element in Python,
    then PostgreSQL parses the text back); binary arrays cost psycopg a third of the CPU. Errors are Django's, as
    through any cursor; statements run this way bypass Django's execute wrappers (query logging). Elsewhere: as it is.
    """
    connection = cursor.db
    if connection.vendor != "postgresql":
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None
    assert "%(" not in sql and "%b" not in sql, "positional %s placeholders only"
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as raw:
        raw.execute(sql.replace("%s", "%b"), params)
        return raw.fetchall() if raw.description else None


def copy_binary(cursor, model, attnames: list[str], rows) -> None:
    """COPY `rows` (value lists in the order of `attnames`) into `model`'s table in PostgreSQL's binary format.

    Binary rows cost psycopg less than half the CPU of text rows, and PostgreSQL a third less to read: no number or
    date is printed and parsed back. Binary COPY needs each column's exact type, taken here from the model's fields
    (`varchar(100)` -> varchar, a foreign key -> its target's type). Errors are Django's, as through any cursor.
    """
    fields = {field.attname: field for field in model._meta.concrete_fields}
    columns = [fields[name].column for name in attnames]
    statement = f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    with cursor.db.wrap_database_errors, cursor.cursor.copy(statement) as copy:
        copy.set_types([_copy_type(fields[name], cursor.db) for name in attnames])
        for row in rows:
            copy.write_row(row)


def _copy_type(field, connection) -> str:
    return re.sub(r"\(.*\)", "", field.db_type(connection)).strip()
