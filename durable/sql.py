"""Plain UPDATEs and INSERTs for the writes every task makes (its claim, its outcome, its attempt row).

The ORM's queryset ``update()`` and ``save()`` cost several times the statement itself in Python
(a no-op drain on SQLite, one thread, measured with cProfile: 323 tasks/s through the ORM, of which
the statements were 8 %). Values still go through each field's ``get_db_prep_save``, so every
database gets what Django would send. Only plain values: no expressions. A claim, which needs expressions and
subqueries, is compiled by Django once per shape and then run with each call's values (``statement``).
"""

import sqlite3
import threading
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from functools import cache

from django.db import connections, router
from django.db.models import DateTimeField
from django.db.models.sql import UpdateQuery

_sqlite_writer = threading.RLock()  # a serialized write may call another


def serialized(model):
    """Writes of this process's threads to SQLite, one at a time, queued on a Python lock.

    SQLite lets one writer in at a time and makes the others sleep and retry (1, 2, 5, 10 ms ...);
    with four workers in one consumer most of that sleep is wasted. Waiting here wakes the next
    writer the moment the previous one commits (a no-op drain at 4 workers: make bench, section 7).
    Other processes (the site) still meet SQLite's busy timeout. Elsewhere: nothing.
    """
    if connections[router.db_for_write(model)].vendor != "sqlite":
        return nullcontext()
    return _locked()


@contextmanager
def _locked():
    with _sqlite_writer:
        yield


def update(model, values, where):
    """``UPDATE model SET values WHERE where`` (ANDed); returns the rows matched.

    A ``where`` value that is a list or tuple is ``IN (...)`` its items, any other an equality.
    """
    conn = connections[router.db_for_write(model)]
    shape = tuple((name, len(v) if isinstance(v, (list, tuple)) else None) for name, v in where.items())
    sql, set_fields, where_fields = _update_sql(model, conn.alias, tuple(values), shape)
    params = [f.get_db_prep_save(v, conn) for f, v in zip(set_fields, values.values(), strict=True)]
    for f, v in zip(where_fields, where.values(), strict=True):
        if isinstance(v, (list, tuple)):
            params += [f.get_db_prep_save(item, conn) for item in v]
        else:
            params.append(f.get_db_prep_save(v, conn))
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def update_many(model, each, memo=None):
    """``update(model, values, where)`` for each ``(values, where)`` of ``each`` (all of one shape), as one
    ``executemany``; returns the rows matched in all. Values alike across rows are prepared once."""
    if not each:
        return 0
    conn = connections[router.db_for_write(model)]
    values, where = each[0]
    sql, set_fields, where_fields = _update_sql(model, conn.alias, tuple(values), tuple((n, None) for n in where))
    fields, memo = [*set_fields, *where_fields], {} if memo is None else memo
    params = [
        [_prep(f, v, conn, memo) for f, v in zip(fields, [*vs.values(), *ws.values()], strict=True)] for vs, ws in each
    ]
    with conn.cursor() as cursor:
        cursor.executemany(sql, params)
        return cursor.rowcount


def _prep(field, value, conn, memo):
    # A time is prepared alike for every DateTimeField (a task's finish is its attempt's): keyed by the type.
    key = (DateTimeField if isinstance(field, DateTimeField) else field, value)
    try:
        return memo[key]
    except KeyError:
        prepared = memo[key] = field.get_db_prep_save(value, conn)
        return prepared
    except TypeError:  # not hashable (a list for a JSON field): prepared each time
        return field.get_db_prep_save(value, conn)


def insert(obj, names):
    """INSERT ``obj`` (its fields ``names``) with one statement; its primary key is not read back."""
    model = type(obj)
    conn = connections[router.db_for_write(model)]
    sql, fields = _insert_sql(model, conn.alias, tuple(names))
    with conn.cursor() as cursor:
        cursor.execute(sql, [f.get_db_prep_save(getattr(obj, f.attname), conn) for f in fields])


def insert_many(objs, names, memo=None):
    """INSERT ``objs`` (all of one model; their fields ``names``) with multi-row statements, in chunks the database takes."""
    if not objs:
        return
    model = type(objs[0])
    conn = connections[router.db_for_write(model)]
    fields = [model._meta.get_field(n) for n in names]
    head = "INSERT INTO {} ({}) VALUES ".format(
        conn.ops.quote_name(model._meta.db_table), ", ".join(conn.ops.quote_name(f.column) for f in fields)
    )
    one = "({})".format(", ".join(["%s"] * len(fields)))
    size, memo = max(conn.ops.bulk_batch_size(fields, objs), 1), {} if memo is None else memo
    with conn.cursor() as cursor:
        for start in range(0, len(objs), size):
            chunk = objs[start : start + size]
            params = [_prep(f, getattr(o, f.attname), conn, memo) for o in chunk for f in fields]
            cursor.execute(head + ", ".join([one] * len(chunk)), params)


@cache
def _update_sql(model, alias, set_names, where_shape):
    quote = connections[alias].ops.quote_name
    set_fields = [model._meta.get_field(n) for n in set_names]
    where_fields = [model._meta.get_field(n) for n, _ in where_shape]
    tests = [
        f"{quote(f.column)} = %s" if size is None else "{} IN ({})".format(quote(f.column), ", ".join(["%s"] * size))
        for f, (_, size) in zip(where_fields, where_shape, strict=True)
    ]
    sql = "UPDATE {} SET {} WHERE {}".format(
        quote(model._meta.db_table),
        ", ".join(f"{quote(f.column)} = %s" for f in set_fields),
        " AND ".join(tests),
    )
    return sql, set_fields, where_fields


@cache
def _insert_sql(model, alias, names):
    quote = connections[alias].ops.quote_name
    fields = [model._meta.get_field(n) for n in names]
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        quote(model._meta.db_table),
        ", ".join(quote(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    return sql, fields


def insert_returning_pks(model, fields, rows):
    """INSERT ``rows`` of ``model`` (each a list of values for ``fields``, prepared for the database) with as few
    statements as the database allows; returns their new primary keys in order.

    Django's ``bulk_create`` caps SQLite at 999 parameters a statement (39 rows of 25 columns); SQLite
    3.32+ takes 32,766 by default, so 10,000 rows are 8 INSERTs instead of 257. One row is what a single
    ``enqueue()`` writes: the statement's text is made once, where ``save()`` compiles it each time.
    """
    conn = connections[router.db_for_write(model)]
    head, one, tail = _insert_returning_sql(model, conn.alias, tuple(fields))
    size = max(_max_params(conn) // len(fields), 1)
    pks = []
    with conn.cursor() as cursor:
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            cursor.execute(head + ", ".join([one] * len(chunk)) + tail, [v for row in chunk for v in row])
            pks += [pk for (pk,) in cursor.fetchall()]
    return pks


@cache
def _insert_returning_sql(model, alias, fields):
    quote = connections[alias].ops.quote_name
    head = "INSERT INTO {} ({}) VALUES ".format(quote(model._meta.db_table), ", ".join(quote(f.column) for f in fields))
    return head, "({})".format(", ".join(["%s"] * len(fields))), f" RETURNING {quote(model._meta.pk.column)}"


def _max_params(conn):
    """Parameters one statement may bind on ``conn``'s database."""
    if conn.vendor == "sqlite":
        conn.ensure_connection()
        return conn.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return 65535 if conn.vendor == "postgresql" else conn.features.max_query_params or 999


# --- a query's statement made once per shape, run many times ------------------------------------

# Two stand-ins for each kind of slot, unlike in every part (year to microsecond, weekday, parity, first and last
# character), so a value made from a slot differs between the two statements and the shape is not kept.
_STAND_IN_TIMES = (
    datetime(2001, 2, 3, 4, 5, 6, 100, tzinfo=UTC),
    datetime(2013, 11, 18, 19, 37, 48, 500001, tzinfo=UTC),
)
_statements = {}  # (alias, vendor, key) -> Statement, or None: that shape cannot be kept


class Statement:
    """The SQL Django compiled for a query, with the places its changing values (``slots``) take among the
    parameters. A claim builds the same query every time but for its time and token; compiling it cost five
    times the statement itself (an idle pickup, in-process, cProfile). It holds no connection: any thread runs it."""

    def __init__(self, sql, params, slots, columns):
        self.sql, self.params, self.slots, self.columns = sql, params, slots, columns

    def bind(self, conn, values):
        params = list(self.params)
        for name, positions in self.slots.items():
            prepared = _prepared(values[name], conn)
            for i in positions:
                params[i] = prepared
        return params

    def execute(self, cursor, values):
        cursor.execute(self.sql, self.bind(cursor.db, values))
        return cursor

    def rows(self, conn, values):
        """Run a SELECT on ``conn``: its rows, their values converted as the ORM converts them."""
        with conn.cursor() as cursor:
            rows = self.execute(cursor, values).fetchall()
        converters = [
            (i, conn.ops.get_db_converters(c) + c.get_db_converters(conn), c) for i, c in enumerate(self.columns)
        ]
        converters = [(i, each, c) for i, each, c in converters if each]
        if not converters:
            return rows
        rows = [list(row) for row in rows]
        for row in rows:
            for i, each, column in converters:
                for convert in each:
                    row[i] = convert(row[i], column, conn)
        return rows

    def objects(self, conn, model, values):
        """Run a SELECT of ``model``'s rows on ``conn``: the instances, as the ORM makes them."""
        names = [column.target.attname for column in self.columns]
        return [model.from_db(conn.alias, names, row) for row in self.rows(conn, values)]


def statement(conn, key, build, **values):
    """The ``Statement`` of ``build(**values)`` (a ``Query``) on ``conn``, made once per ``key``, bound to ``values``.

    ``values`` are the slots: datetimes, strings or integers (ids), the only things that may change between calls
    with one key, each passed to the query as it is. The query is compiled twice with stand-ins for them; a key
    whose two statements differ anywhere but in the slots (a value made from one, a time read inside ``build``) is
    compiled at every call instead. ``key=None``: compiled at this call, not kept.
    """
    if key is None:
        return _compiled(conn, build(**values), values, {})
    try:
        kept = _statements[conn.alias, conn.vendor, key]
    except KeyError:  # two threads may both make it: the same statement
        kept = _statements[conn.alias, conn.vendor, key] = _keep(conn, build, values)
    return kept if kept is not None else _compiled(conn, build(**values), values, {})


def returning(update, columns, conn):
    """``update`` (the ``Statement`` of an UPDATE) returning ``columns`` of the rows it writes: ``objects`` reads them."""
    names = ", ".join(conn.ops.quote_name(column.target.column) for column in columns)
    return Statement(f"{update.sql} RETURNING {names}", update.params, update.slots, columns)


def update_query(queryset, values):
    """The UPDATE ``queryset.update(**values)`` runs, as a ``Query`` (for ``statement``)."""
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    return query


def _compiled(conn, query, values, slots):
    compiler = query.get_compiler(connection=conn)
    sql, params = compiler.as_sql()
    return Statement(sql, tuple(params), slots, [column for column, _, _ in getattr(compiler, "select", None) or ()])


def _keep(conn, build, values):
    one, two = (_stand_ins(values, n) for n in (1, 2))
    first, second = _compiled(conn, build(**one), one, {}), _compiled(conn, build(**two), two, {})
    if first.sql != second.sql or len(first.params) != len(second.params):
        return None
    marks = {name: (_prepared(one[name], conn), _prepared(two[name], conn)) for name in values}
    slots = {name: [] for name in values}
    for i, pair in enumerate(zip(first.params, second.params, strict=True)):
        if pair[0] == pair[1]:
            continue
        name = next((name for name, mark in marks.items() if mark == pair), None)
        if name is None:
            return None  # something else changed between the two: not a shape that can be kept
        slots[name].append(i)
    first.slots = slots
    return first


def _stand_ins(values, n):
    def stand_in(i, name, value):
        if isinstance(value, datetime):
            return _STAND_IN_TIMES[n - 1] + timedelta(microseconds=i)
        return -(10**12) - n * 1_000_003 - 2 * i if isinstance(value, int) else f"{n} {name}{'~' * n}{n}"

    return {name: stand_in(i, name, value) for i, (name, value) in enumerate(values.items())}


def _prepared(value, conn):
    return DateTimeField().get_db_prep_value(value, conn) if isinstance(value, datetime) else value
