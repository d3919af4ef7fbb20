"""The one lease mechanism: claim rows for this process, renew, finish fenced, give back.

Generic over any model with the ``Leased`` fields (``durable.leased``). A claim is one conditional UPDATE
that stamps every row it takes with a fresh ``lease_token`` (the fencing token) and a lease
expiry; every later write of the holder carries the token in its WHERE clause, so a holder that
lost its lease (swept, and claimed by another consumer) changes nothing: its late write matches
0 rows and is logged. While a process holds rows, its monitor thread (``durable.monitor``)
extends all their leases with one UPDATE per kind, so the lease bounds how long a dead
consumer's rows wait, not how long the work may run. Taking rows back from dead holders is
``durable.recovery``.
"""

import logging
import os
import threading
import uuid
from datetime import timedelta
from operator import attrgetter

from django.db import connections, router, transaction
from django.db.models import F
from django.utils import timezone

from durable import sql
from durable.recovery import HOST, TakeBack, pid_alive  # noqa: F401 - HOST, pid_alive: for the apps

logger = logging.getLogger(__name__)


def worker_id():
    """This process as a holder: ``host:pid``."""
    return f"{HOST}:{os.getpid()}"


class Leases(TakeBack):
    """Claim and hold rows of ``model`` for this process.

    A claim counts an attempt on every row it takes (no write per row when it starts); a row
    given back untried (``release``) is uncounted. ``max_attempts`` is a number, a function or an expression
    (``F("max_attempts")``): a row taken back from a dead holder with that many attempts ends
    failed. Subclasses add fields to the claim and release (``claim_values``, ``release_values``)
    and record more when they take rows back (``lost``, ``take_back``). One instance per model
    per process: it remembers the tokens this process holds, for ``renew``.
    """

    def __init__(self, model, states, *, seconds, max_attempts, order_by=("due_at", "id")):
        self.model = model
        self.states = states
        self._seconds = seconds  # a number, or a function () -> number (a setting, read at each use)
        self._max_attempts = max_attempts  # the same, or an expression naming a field of the row
        self.order_by = order_by
        self._held = {}  # lease token -> rows still held under it
        self._lock = threading.Lock()

    @property
    def seconds(self):
        return self._seconds() if callable(self._seconds) else self._seconds

    @property
    def max_attempts(self):
        return self._max_attempts() if callable(self._max_attempts) else self._max_attempts

    # --- what this process holds ------------------------------------------------

    def _hold(self, token, count):
        with self._lock:
            self._held[token] = self._held.get(token, 0) + count

    def _drop(self, token, count=1):
        with self._lock:
            left = self._held.get(token, 0) - count
            if left > 0:
                self._held[token] = left
            else:
                self._held.pop(token, None)

    def held_tokens(self):
        with self._lock:
            return list(self._held)

    def forget_all(self):
        """Stop holding (and renewing) every row this process holds; the rows stay as they are, for recovery."""
        with self._lock:
            self._held.clear()

    def _objects(self):
        return self.model._default_manager.db_manager(router.db_for_write(self.model))

    def held(self, row):
        """The row as still held by ``row.lease_token``: the queryset every fenced write goes through."""
        return self._objects().filter(pk=row.pk, status=self.states.running, lease_token=row.lease_token)

    # --- claim ------------------------------------------------------------------------

    AMONG_KEPT = 16  # a claim among more ids than this is compiled each time (one statement per count is kept)

    def claim(self, limit=1, where=None, check=None, shape=None, among=None):
        """Take up to ``limit`` due rows (in ``order_by`` order) for this process; return them.

        ``where(queryset) -> queryset`` narrows the due rows (a queue, a concurrency cap). One UPDATE whose
        WHERE picks the rows (``id IN (SELECT ... LIMIT n)``) and that returns what it won (``_won``). On SQLite the
        statement holds the write lock, so concurrent claimers take the next rows; on PostgreSQL the pick is
        ``FOR UPDATE SKIP LOCKED`` for the same effect. Two claimers never hold the same row. ``check(rows)
        -> rows`` runs before the claim commits; the rows it returns go back untried (``durable.limits``).
        ``among``: the ids to take from (the rows a wake-up named). ``shape``: a key for what ``where`` does, the
        same at every call with it: the statements are then made once (``durable.sql.statement``), not at each claim.
        """
        objects, queued = self._objects(), self.states.queued
        conn = connections[objects.db]
        token = uuid.uuid4().hex
        among = None if among is None else list(among)
        slots = [f"id{i}" for i in range(len(among or ()))]

        def pick(v):
            due = objects.filter(status=queued, due_at__lte=v["now"])
            due = due if among is None else due.filter(pk__in=[v[slot] for slot in slots])
            return (due if where is None else where(due)).order_by(*self.order_by).values("pk")[:limit]

        def pick_locked(v):
            return pick(v).select_for_update(skip_locked=True).query

        def update(ids, v, recheck=True):
            values = {"status": self.states.running, "lease_token": v["token"], "claimed_by": v["holder"]}
            values.update(claimed_at=v["now"], lease_expires_at=v["expires"], attempts=F("attempts") + 1)
            values.update(self.claim_values(v["now"]))
            rows = objects.filter(pk__in=ids)
            return sql.update_query(rows.filter(status=queued) if recheck else rows, values)

        def won(token):
            return objects.filter(status=self.states.running, lease_token=token).order_by(*self.order_by).query

        if among == []:
            return []
        key = None if shape is None or len(slots) > self.AMONG_KEPT else (self, shape, limit, len(slots))
        with sql.serialized(self.model), transaction.atomic(using=objects.db), conn.cursor() as cursor:
            now = timezone.now()  # read once the claim may write: claimed_at follows the order of claims
            picked = {"now": now, **dict(zip(slots, among or (), strict=True))}
            values = {**picked, "expires": now + timedelta(seconds=self.seconds), "token": token, "holder": worker_id()}
            if conn.features.has_select_for_update_skip_locked:
                # The ids first, as a list: inside UPDATE ... IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)
                # PostgreSQL may run the subquery more than once and claim more than ``limit`` rows.
                locked = sql.statement(conn, key and ("locked", *key), lambda **v: pick_locked(v), **picked)
                ids = [pk for (pk,) in locked.execute(cursor, picked).fetchall()]
                claim = ids and sql.statement(conn, None, lambda **v: update(ids, v), **values)  # [] if none
            else:
                # No status test beside the subquery that picks queued rows in this one statement (it holds the write
                # lock): with one, SQLite walks every queued row by status (6.9 ms a claim at 100,000 queued, 0.7 at 100)
                claim = sql.statement(conn, key and ("claim", *key), lambda **v: update(pick(v), v, False), **values)
            rows = self._checked(token, self._won(claim, won, values, cursor), check) if claim else []
        if rows:
            self._hold(token, len(rows))
        return rows

    def _won(self, claim, won, values, cursor):
        """Run ``claim``; the rows it took, in claim order. One statement where the database returns what an
        UPDATE wrote (PostgreSQL, SQLite 3.35+: a round trip less on every claim), else the UPDATE, then a read of
        the rows it stamped with the claim's token."""
        conn, token = cursor.db, values["token"]
        reads = sql.statement(conn, (self, "won"), won, token=token)
        if conn.features.can_return_columns_from_insert:  # the same RETURNING clause, on an UPDATE
            rows = sql.returning(claim, reads.columns, conn).objects(conn, self.model, values)
            for name in reversed(self.order_by):
                rows.sort(key=attrgetter(name.lstrip("-")), reverse=name.startswith("-"))
            return rows
        if not claim.execute(cursor, values).rowcount:
            return []
        return reads.objects(conn, self.model, {"token": token})

    def _checked(self, token, rows, check):
        """``rows`` less those ``check`` gives back (in the claim's transaction)."""
        back = check(rows) if check is not None else ()
        if back:
            self._objects().filter(pk__in=[r.pk for r in back], lease_token=token).update(**self._untried())
        return [row for row in rows if row not in back]

    def _untried(self):
        """The fields of a row given back untried: queued, due as it was, the claim's attempt uncounted."""
        values = {"status": self.states.queued, "lease_token": "", "lease_expires_at": None, **self.release_values()}
        values["attempts"] = F("attempts") - 1
        return values

    def claim_values(self, now):
        """More fields a claim sets (expressions welcome)."""
        return {}

    def release_values(self):
        """More fields a release sets (expressions see the row before the release)."""
        return {}

    def due(self, seconds=0, now=None):
        """The queued rows due ``seconds`` before ``now`` (default: now) or earlier."""
        since = (now or timezone.now()) - timedelta(seconds=seconds)
        return self._objects().filter(status=self.states.queued, due_at__lte=since)

    # --- while held ---------------------------------------------------------------------

    def renew(self):
        """Extend the lease of every row this process holds: one UPDATE. Returns how many rows it matched."""
        tokens = self.held_tokens()
        if not tokens:
            return 0
        with sql.serialized(self.model):
            return (
                self._objects()
                .filter(status=self.states.running, lease_token__in=tokens)
                .update(lease_expires_at=timezone.now() + timedelta(seconds=self.seconds))
            )

    def finish(self, row, **values):
        """Record the holder's outcome on ``row`` (fenced): True if written, False if the lease was lost.

        ``values`` are the outcome's fields (its status among them); the lease fields are cleared.
        A lost lease means the row was taken back and maybe run elsewhere: the newer outcome stands.
        """
        values.update(lease_token="", lease_expires_at=None)
        if any(hasattr(v, "resolve_expression") for v in values.values()):
            written = self.held(row).update(**values)  # an expression (F("attempts") - 1): through the ORM
        else:  # the hot path's write: one plain UPDATE
            where = {self.model._meta.pk.name: row.pk, "status": self.states.running, "lease_token": row.lease_token}
            written = sql.update(self.model, values, where)
        self._drop(row.lease_token)
        if not written:
            logger.warning(
                "%s %s: lease %s lost before its outcome (%s) was recorded; the newer outcome stands",
                self.model._meta.model_name,
                row.pk,
                row.lease_token[:8],
                values.get("status"),
            )
        return bool(written)

    def finish_each(self, outcomes, memo=None):
        """``finish(row, **values)`` for each ``(row, values)`` of ``outcomes`` (plain values, one shape), as one
        statement run for each; the rows written. A lost lease among them: each is written on its own instead.
        ``memo``: values already prepared for the database (``durable.sql.update_many``)."""
        pk, held = self.model._meta.pk.name, self.states.running
        each = [
            (
                {**v, "lease_token": "", "lease_expires_at": None},
                {pk: r.pk, "status": held, "lease_token": r.lease_token},
            )
            for r, v in outcomes
        ]
        db = router.db_for_write(self.model)
        with transaction.atomic(using=db):
            lost = sql.update_many(self.model, each, memo) != len(each)
            transaction.set_rollback(lost, using=db)  # a lease lost among them: undone, and written one by one
        if lost:
            return [row for row, values in outcomes if self.finish(row, **values)]
        for row, _ in outcomes:
            self._drop(row.lease_token)
        return [row for row, _ in outcomes]

    def finish_many(self, rows, **values):
        """Record one outcome on all ``rows`` (fenced, plain values): one UPDATE per lease token among them.

        For a holder that records many rows alike (e-mails sent cleanly, say). Returns how many rows
        were written; rows whose lease was lost are left alone (the newer outcome stands) and logged.
        """
        if not rows:
            return 0
        values.update(lease_token="", lease_expires_at=None)
        pk = self.model._meta.pk.name
        written = 0
        for token in dict.fromkeys(r.lease_token for r in rows):
            ids = [r.pk for r in rows if r.lease_token == token]
            matched = sql.update(self.model, values, {pk: ids, "status": self.states.running, "lease_token": token})
            self._drop(token, len(ids))
            written += matched
            if matched < len(ids):
                logger.warning(
                    "%s %s: %s of %s rows lost their lease %s before their outcome (%s) was recorded;"
                    " the newer outcome stands",
                    self.model._meta.model_name,
                    ", ".join(map(str, ids)),
                    len(ids) - matched,
                    len(ids),
                    token[:8],
                    values.get("status"),
                )
        return written

    def release(self, rows, **values):
        """Give ``rows`` back untried (queued, due as they were); an attempt counted by the claim is uncounted."""
        if not rows:
            return 0
        values.update(self._untried())
        given = 0
        for token in {r.lease_token for r in rows}:
            ids = [r.pk for r in rows if r.lease_token == token]
            given += self._objects().filter(pk__in=ids, status=self.states.running, lease_token=token).update(**values)
            self._drop(token, len(ids))
        return given

    def forget(self, rows):
        """Stop renewing ``rows`` (their outcome could not be written): their lease lapses and the sweeper takes them."""
        for row in rows:
            self._drop(row.lease_token)
