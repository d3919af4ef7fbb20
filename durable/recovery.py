"""Taking leased rows back from holders that died: the per-row half of recovery (``durable.lifeline`` runs it).

Rows whose holder died come back two ways: at consumer start, rows held by a pid of this host
that no longer exists (``recover_dead``, at once); anywhere, rows whose lease expired
(``sweep``). At exit, a consumer gives back what it still holds (``take_back_at_exit``). Either
way a row whose attempts are used up ends failed instead of being run (and crashing its
consumer) again.
"""

import logging
import os
import socket

from django.utils import timezone

logger = logging.getLogger(__name__)

HOST = socket.gethostname()


def pid_alive(pid):
    """True while a process with ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def held_by_dead_processes(queryset):
    """Primary keys in ``queryset`` whose holder ran on this host and has exited."""
    dead = []
    for pk, holder in queryset.filter(claimed_by__startswith=f"{HOST}:").values_list("pk", "claimed_by"):
        pid = int(holder.rsplit(":", 1)[1])
        if pid != os.getpid() and not pid_alive(pid):
            dead.append(pk)
    return dead


class TakeBack:
    """The take-back half of ``durable.leases.Leases`` (which gives it ``_objects``, ``states``, ``held``)."""

    def recover_dead(self):
        """At consumer start: take back the rows held by processes of this host that have exited. Returns them."""
        running = self._objects().filter(status=self.states.running)
        dead = held_by_dead_processes(running)
        return self.take_back(running.filter(pk__in=dead), "its consumer was gone at start-up") if dead else []

    def sweep(self, now=None):
        """Take back the rows whose lease expired by ``now`` (their holder died or hung). Returns them."""
        expired = self._objects().filter(status=self.states.running, lease_expires_at__lt=now or timezone.now())
        return self.take_back(expired, "its lease expired")

    def take_back_at_exit(self, why="its consumer stopped before it finished"):
        """At consumer exit: rows this process still holds (cut off by Huey's shutdown timeout) go back now.

        Counted as interrupted attempts (``take_back``), not left for the next start or the lease to lapse.
        """
        tokens = self.held_tokens()
        if not tokens:
            return []
        try:
            held = self._objects().filter(status=self.states.running, lease_token__in=tokens)
            return self.take_back(held, why)
        except Exception:  # noqa: BLE001 - exiting anyway: the next start on this host, or the sweeper, takes them
            logger.exception("could not give back the %s rows still held at exit", self.model._meta.verbose_name)
            return []

    def take_back(self, queryset, why):
        """Requeue the rows of ``queryset`` (or a list of rows), or fail those whose attempts are used up.

        Returns the rows taken.

        Each UPDATE repeats the row's token: a row its holder finished meanwhile is left alone.
        Subclasses record more (an attempt row, say) by overriding ``lost``.
        """
        rows = list(queryset)
        if not rows:
            return []
        now = timezone.now()
        taken = []
        for row in rows:
            used_up = self.used_up(row)
            values = self.lost(row, why, used_up, now)
            if self.held(row).update(lease_token="", lease_expires_at=None, **values):
                taken.append(row)
                logger.warning(
                    "%s %s %s: %s (holder %s, attempt %s)",
                    self.model._meta.model_name,
                    row.pk,
                    "failed" if used_up else "requeued",
                    why,
                    row.claimed_by,
                    row.attempts,
                )
        return taken

    def used_up(self, row):
        """True when ``row`` may not be tried again."""
        limit = self.max_attempts
        if hasattr(limit, "name"):  # an F() expression naming a field of the row
            limit = getattr(row, limit.name)
        return row.attempts >= limit

    def lost(self, row, why, used_up, now):
        """The fields to write on a row taken back from a dead holder (queued again, or failed)."""
        if used_up:
            return {"status": self.states.failed, "last_error": f"gave up after {row.attempts} attempts: {why}"}
        return {"status": self.states.queued, "last_error": f"requeued: {why}"}  # due as it was: it goes first
