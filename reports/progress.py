"""A generating attempt's progress: saved at a bounded rate, fenced, and where stop orders are noticed."""

import time

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from durable.startup import stopping
from reports.models import Report

PROGRESS_DB = "reports-progress"  # a second connection to the default database, per generating thread

# What a ``Stop`` does with the report: fail it, give it back queued (to run again), or leave it as it is.
FAILED, GIVEN_BACK, STOPPED = "failed", "given back", "stopped"


class Stop(Exception):
    """Generation must stop: cancelled, taken over by a newer attempt, invalid, or the consumer is stopping.

    ``user_error`` says why; ``outcome`` is what to do with the report (``FAILED``, ``GIVEN_BACK``, ``STOPPED``).
    """

    def __init__(self, user_error, outcome=FAILED):
        super().__init__(user_error)
        self.user_error = user_error
        self.outcome = outcome


class ProgressSaver:
    """Saves progress at most once per REPORTS_PROGRESS_INTERVAL_SECONDS; checks for stop orders at each save.

    Each save is fenced (``Report.fenced``): a save that matches nothing means the report was cancelled
    or a newer attempt has it, and generation stops. Durable's monitor renews the task's lease meanwhile.
    It writes over a connection of its own: while a type streams rows with ``.iterator()``, the default
    connection has a read statement open, and on SQLite a write there would see a stale snapshot and
    fail at once ("database is locked") as soon as anyone else (a cancel, say) has written since.
    """

    def __init__(self, report, expected):
        self.report = report
        self.expected = expected
        self.interval = settings.REPORTS_PROGRESS_INTERVAL_SECONDS
        self.next_save = time.monotonic() + self.interval
        self.saves = 0

    def __enter__(self):
        default = connections[DEFAULT_DB_ALIAS]
        connections[PROGRESS_DB] = type(default)(dict(default.settings_dict), PROGRESS_DB)
        return self

    def __exit__(self, *exc):
        connections[PROGRESS_DB].close()
        del connections[PROGRESS_DB]

    def tick(self, rows, done):
        """After each row: save if the interval has passed."""
        if time.monotonic() >= self.next_save:
            self.check(rows, done)

    def check(self, rows, done):
        """Save ``rows`` (and ``done`` of ``expected`` as progress); raise ``Stop`` when told to stop.

        ``done`` is None at the last look, when the file is whole: a stopping consumer keeps it then.
        """
        self.next_save = time.monotonic() + self.interval
        if done is not None and stopping():
            raise Stop("its consumer is stopping", GIVEN_BACK)
        fields = {"row_count": rows}
        if done is not None and self.expected:
            fields["progress"] = min(99, int(done * 100 / self.expected))
        self.saves += 1
        if not self.report.fenced(using=PROGRESS_DB).update(**fields):
            status = Report.objects.using(PROGRESS_DB).filter(pk=self.report.pk).values_list("status", flat=True)
            if status.first() == Report.Status.CANCELLED:
                raise Stop("cancelled by its owner", STOPPED)
            raise Stop(
                "a newer attempt has it (its task was recovered from a consumer that stopped answering)", STOPPED
            )
