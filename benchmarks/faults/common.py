"""What every scenario needs: a fresh database and queue, the outbox's state, the sink's tally."""

from collections import Counter
from dataclasses import dataclass, field

from benchmarks import rig


@dataclass
class Result:
    """One scenario's verdict and the figures behind it."""

    name: str
    passed: bool = True
    figures: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)

    def check(self, ok, problem):
        if not ok:
            self.passed = False
            self.problems.append(problem)
        return ok


def fresh(work, name, queue_url=None):
    """A new database (copy of the migrated template) and an empty queue for scenario ``name``."""
    rig.use_database(work / f"{name}.sqlite3")
    rig.use_queue(queue_url or rig.sqlite_url(work / f"{name}-huey.sqlite3"))


def statuses():
    from notifications.models import Message

    return Counter(Message.objects.values_list("status", flat=True))


def tally(sink, prefix):
    """(distinct e-mails that arrived, duplicate arrivals) among subjects starting with ``prefix``."""
    seen = Counter({s: n for s, n in sink.subjects().items() if s.startswith(prefix)})
    return len(seen), sum(n - 1 for n in seen.values())


def queue_mail(prefix, n, start=0):
    from django.core.mail import send_mail

    for i in range(start, start + n):
        send_mail(f"{prefix} {i}", "Body", "from@example.com", ["to@example.com"])
