"""Which tasks are short: a claim takes a batch of rows only for tasks this process has seen to be short (their
last run took under DURABLE_BATCH_SECONDS / DURABLE_BATCH_SIZE), and never puts a row behind one that is slow
or not yet seen (``durable.claim``)."""

from django.conf import settings

_took = {}  # task name -> seconds its last run in this process took


def ran(name, seconds):
    """Note how long a run of task ``name`` took (``executor.run_one`` calls it)."""
    _took[name] = seconds


LOOK_AHEAD = 500  # at most this many rows in one claim, however short their tasks


def short(name):
    return _took.get(name, float("inf")) <= settings.DURABLE_BATCH_SECONDS / settings.DURABLE_BATCH_SIZE


def batch_size():
    """How many rows a claim looks at: 1 until a task was seen to be short, then as many of the shortest as run
    in DURABLE_BATCH_SECONDS (at least DURABLE_BATCH_SIZE, at most LOOK_AHEAD)."""
    took = [t for name, t in list(_took.items()) if short(name)]
    if not took:
        return 1
    fit = int(settings.DURABLE_BATCH_SECONDS / max(min(took), 1e-6))
    return max(settings.DURABLE_BATCH_SIZE, min(fit, LOOK_AHEAD))


def short_run(head):
    """How many rows of ``head`` ((pk, name) in claim order) one worker may hold at once: the short ones at its
    head, as many as are expected to run in DURABLE_BATCH_SECONDS."""
    n, expected = 0, 0.0
    while n < len(head) and short(head[n][1]):
        expected += _took[head[n][1]]
        if expected > settings.DURABLE_BATCH_SECONDS:
            break
        n += 1
    return max(n, 1)
