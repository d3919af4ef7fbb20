"""The claim query's cost as the tables grow: 10,000 then 1,000,000 finished rows beside 200 due, then 100,000 due.

``python -m benchmarks.scaling_claim`` runs on the database ``DATABASE_URL`` names (``benchmarks.scaling``
runs it once on PostgreSQL and once on SQLite, each in a process of its own, on a scratch database). For
each of the durable ``Task`` table and the outbox ``Message`` table it times the claim a worker makes (the
statements of ``durable.claim.claim`` and ``notifications.delivery.claim``, in a transaction rolled back, so
the same due rows are claimed every time), and shows ``EXPLAIN`` of the statement that picks the rows: the
index it reads, and on PostgreSQL ``EXPLAIN (ANALYZE, BUFFERS)``'s time and pages. Flat means the claim
reads the due rows off an index and never walks the finished ones.

Rows are copied in bulk by SQL (``INSERT ... SELECT``), never through the ORM: a million of each in seconds.
PostgreSQL's statistics are refreshed (``ANALYZE``) as autovacuum would have; SQLite's are not, as Django
never gathers them.
"""

import json
import os
import statistics
import sys
import time

DUE = 200  # due rows waiting beside the finished ones
SIZES = (10_000, 1_000_000)
BACKLOG = 100_000  # then due rows as a newsletter leaves them, beside the million finished
REPEATS = 40


def _table(model):
    from django.db import connection

    return connection.ops.quote_name(model._meta.db_table)


def _grow(model, finished, to):
    """Copy the row ``finished`` until the table holds ``to`` finished rows (new ids, same finished status)."""
    from django.db import connection

    table = _table(model)
    have = model.objects.filter(status=finished.status).count()
    more = to - have
    if more <= 0:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    source = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            series = "generate_series(1, %s)"
        else:
            series = "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s) SELECT i FROM n)"
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {source} FROM {table}, {series} s WHERE id = %s",
            [more, finished.pk],
        )
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {table}")


def _plan(sql, params):
    """``EXPLAIN`` of one statement: PostgreSQL's ANALYZE/BUFFERS text, SQLite's query plan."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        rows = cursor.fetchall()
    return [row[0] if connection.vendor == "postgresql" else row[-1] for row in rows]


def _scans(plan):
    """How each table is read, from plan lines: "Index Scan using durable_due", "SEARCH ... USING INDEX ...", "Seq Scan"."""
    keys = ("Scan", "SCAN", "SEARCH", "B-TREE", "Sort (")
    nodes = [line.strip().removeprefix("->  ").split(" (actual")[0] for line in plan if any(k in line for k in keys)]
    return [node for node in nodes if node != "Sort"] + (["Sort"] if "Sort" in nodes else [])


def _run_ms(sql, params):
    """SQLite has no EXPLAIN ANALYZE: the statement's own time (median of 5, each rolled back), in ms."""
    from django.db import connection, transaction

    samples = []
    for _ in range(5):
        with transaction.atomic(), connection.cursor() as cursor:
            t = time.perf_counter()
            cursor.execute(sql, params)
            if cursor.description:
                cursor.fetchall()
            samples.append((time.perf_counter() - t) * 1000)
            transaction.set_rollback(True)
    return round(statistics.median(samples), 3)


def _explained(statements):
    """Each SELECT/UPDATE of the claim: its plan (in a transaction rolled back: EXPLAIN ANALYZE runs an UPDATE)."""
    from django.db import transaction

    out = []
    for sql, params in statements:
        if not sql.lstrip().upper().startswith(("SELECT", "UPDATE")):
            continue
        with transaction.atomic():
            plan = _plan(sql, params)
            transaction.set_rollback(True)
        ms = [float(line.split(":")[1].split()[0]) for line in plan if line.startswith("Execution Time")]
        ms = ms[0] if ms else _run_ms(sql, params)
        picks = "ORDER BY" in sql.upper()  # the statement that picks the due rows, in claim order
        out.append({"sql": sql[:60] + "...", "scans": _scans(plan), "ms": ms, "plan": plan, "picks": picks})
    return out


def _timed_claims(claim, leases):
    """Median ms of ``claim()`` in a transaction rolled back (the same due rows each time), and its statements."""
    from django.db import connection, transaction

    statements, samples = [], []

    def capture(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    for i in range(REPEATS):
        with transaction.atomic():
            t = time.perf_counter()
            if i == 0:
                with connection.execute_wrapper(capture):
                    rows = claim()
            else:
                rows = claim()
            samples.append((time.perf_counter() - t) * 1000)
            transaction.set_rollback(True)
        leases.forget_all()
        assert rows, "the claim found no due row"
    return statistics.median(samples), statements


def measure(kind):
    """Figures for ``kind`` ("Task" or "Message") at each size: claim ms, plan lines."""
    model, claim, leases, finished = _setup(kind)
    out = []
    for size in SIZES:
        _grow(model, finished, size)
        ms, statements = _timed_claims(claim, leases)
        explained = _explained(statements)
        leases.forget_all()
        out.append({"rows": size, "due": DUE, "claim_ms": round(ms, 2), "statements": explained})
    _grow(model, model.objects.filter(status=leases.states.queued).first(), BACKLOG)
    ms, statements = _timed_claims(claim, leases)
    out.append({"rows": SIZES[-1], "due": BACKLOG, "claim_ms": round(ms, 2), "statements": _explained(statements)})
    leases.forget_all()
    return out


def _setup(kind):
    from django.utils import timezone

    if kind == "Task":
        from durable import claim as durable_claim
        from durable.models import LEASES, Task

        Task.objects.all().delete()
        finished = Task.objects.create(
            name="benchmarks.noop_tasks.noop", status="successful", finished_at=timezone.now()
        )
        Task.objects.bulk_create(Task(name="benchmarks.noop_tasks.noop", status="queued") for _ in range(DUE))
        return Task, lambda: durable_claim.claim(1), LEASES, finished
    from notifications import delivery
    from notifications.models import LEASES, Message

    Message.objects.all().delete()
    common = dict(
        from_email="from@example.com",
        recipients=["to@example.com"],
        subject="bench",
        raw=b"Subject: bench\r\n\r\nBody\r\n",
    )
    finished = Message.objects.create(status="sent", finished_at=timezone.now(), **common)
    Message.objects.bulk_create(Message(status="queued", **common) for _ in range(DUE))
    return Message, lambda: delivery.claim(limit=10), LEASES, finished


def main():
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    django.setup()
    kinds = sys.argv[1:] or ["Task", "Message"]
    print(json.dumps({kind: measure(kind) for kind in kinds}))


if __name__ == "__main__":
    main()
