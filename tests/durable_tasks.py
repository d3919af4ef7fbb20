"""Tasks for the durable backend's tests: importable by a real consumer process (``manage.py run_huey``)."""

import os
import time

import durable
from durable import options
from durable.celery import shared_task
from durable.compat import task


def _mark(path, text):
    """Append a line to ``path``: the tests count runs from it (a file survives the consumer's death)."""
    with open(path, "a") as f:
        f.write(text + "\n")


@task()
def add(a, b):
    return a + b


@task()
def noop():
    return None


@task()
def slow(path, seconds, tag=""):
    """Runs ``seconds`` (in small steps, so a time limit can stop it), marking start and end in ``path``."""
    _mark(path, f"start {tag} {os.getpid()}")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)
    _mark(path, f"end {tag} {os.getpid()}")
    return tag


@task()
def gated(path, gate, tag=""):
    """Runs until the file ``gate`` exists (at most 120 s), marking start and end in ``path``: held for as long as
    a test needs, however busy the machine."""
    _mark(path, f"start {tag} {os.getpid()}")
    deadline = time.monotonic() + 120
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)
    _mark(path, f"end {tag} {os.getpid()}")
    return tag


@options(max_attempts=3, backoff=lambda attempt: 0.2)
@task(takes_context=True)
def flaky(context, path, fail_times):
    """Fails its first ``fail_times`` attempts; returns the attempt number it succeeded on."""
    _mark(path, f"attempt {context.attempt}")
    if context.attempt <= fail_times:
        raise RuntimeError(f"failing on purpose, attempt {context.attempt}")
    return context.attempt


@options(max_attempts=1, time_limit=1)
@task()
def too_long(path):
    _mark(path, "start")
    while True:
        time.sleep(0.01)


@options(max_attempts=2)
@task()
def crash(path):
    """Kills its consumer every time (as a segfault or the OOM killer would)."""
    _mark(path, f"crash {os.getpid()}")
    os._exit(3)


@options(unique_key=lambda name: f"unique:{name}")
@task()
def unique(name):
    return name


@options(group="slow")
@task()
def grouped(n):
    return n


class _SlowDown(Exception):  # noqa: N818 - an API's "try again in N seconds"
    retry_after = 42


@options(max_attempts=2, backoff=lambda attempt: 1)
@task()
def asks_to_wait():
    """Fails saying when to try again (as an API's Retry-After does)."""
    raise _SlowDown("come back in 42 s")


@options(max_attempts=1, time_limit=120, group="isolation")
@task()
def spin(stop_path, seconds):
    """CPU-bound pure Python (it never waits on I/O) for ``seconds``, or until ``stop_path`` exists."""
    deadline = time.monotonic() + seconds
    look_at = 0.0
    n = 0
    while (now := time.monotonic()) < deadline:
        if now >= look_at:  # a stat() releases the GIL: look only every 0.2 s, to stay CPU-bound
            if os.path.exists(stop_path):
                break
            look_at = now + 0.2
        for i in range(10000):
            n += i * i
    return n % 1000


@shared_task(max_retries=1, default_retry_delay=0.2, queue="default")
def celery_flaky(path):
    """A Celery-style task (``durable.celery``): fails its first attempt, succeeds on the retry."""
    _mark(path, "attempt")
    if len(open(path).read().splitlines()) < 2:
        raise RuntimeError("failing on purpose, first attempt")
    return "second time lucky"


@shared_task
def celery_add(a, b):
    return a + b


@options(max_attempts=1)
@task(takes_context=True)
def snoozy(context, path, seconds):
    """Snoozes ``seconds`` on its first run (``durable.Snooze``); returns the attempt number it ran to the end on."""
    _mark(path, f"run {context.attempt}")
    if len(open(path).read().splitlines()) < 2:
        raise durable.Snooze(seconds)
    return context.attempt


@options(group=lambda path, customer, seconds=0.3: f"customer:{customer}", concurrency=1)
@task()
def per_customer(path, customer, seconds=0.3):
    """At most one at a time per customer (a key per enqueue): marks its start and end with the wall clock."""
    _mark(path, f"start {customer} {time.time():.6f}")
    time.sleep(seconds)
    _mark(path, f"end {customer} {time.time():.6f}")


@options(group=lambda path, host: f"host:{host}", rate="4/s")
@task()
def per_host(path, host):
    """At most 4 starts a second per host."""
    _mark(path, f"call {host} {time.time():.6f}")


@options(group=lambda path, host: f"minute:{host}", rate="4/m")
@task()
def per_host_a_minute(path, host):
    """At most 4 starts a minute per host: a run of a few tasks ends well inside one window, however busy the
    machine (with 4/s, a run that took over a second under load saw the window open again)."""
    _mark(path, f"call {host} {time.time():.6f}")


@options(
    group=lambda path, host, endpoint, n, fail=False: f"host:{host}/{endpoint}",
    concurrency=1,
    ordered=True,
    rate="4/s",
    rate_key=lambda key: key.rpartition("/")[0] + "/",
    max_attempts=3,
    backoff=lambda attempt: 0.5,
)
@task(takes_context=True)
def per_endpoint(context, path, host, endpoint, n, fail=False):
    """One at a time per endpoint in enqueue order (its failed first attempt holds the later back); 4 starts/s per host."""
    _mark(path, f"start {host}/{endpoint} {n} {time.time():.6f}")
    time.sleep(0.05)
    _mark(path, f"end {host}/{endpoint} {n} {time.time():.6f}")
    if fail and context.attempt == 1:
        raise RuntimeError("the first attempt fails")


@options(group=lambda n: f"endpoint:{n}", rate="1/s", rate_key=lambda key: "host:x/")
@task()
def bad_rate_key(n):
    """Its rate_key gives no prefix of its group key: refused at enqueue."""


@options(group=lambda customer: f"customer:{customer}" if customer != "boom" else 1 / 0)
@task()
def group_raises(customer):
    return customer


@task()
def step(previous, path, seconds, tag):
    """A chain step: marks its start and end in ``path``; returns what it was given plus its tag."""
    _mark(path, f"start {tag} {os.getpid()}")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)
    _mark(path, f"end {tag} {os.getpid()}")
    return f"{previous or ''}{tag}"


@task()
def note(path, label, batch_id=None):
    """A batch callback: one line per run, ``label batch_id``."""
    _mark(path, f"{label} {batch_id}")
    return label


@options(max_attempts=1)
@task()
def boom(*args):
    raise RuntimeError("boom")
