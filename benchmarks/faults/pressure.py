"""Scenarios 8-10 (issue 10, part 4): a graceful stop, writers contending for SQLite, a queue that comes back.

8. SIGINT (what ``deploy/`` sends) several times while a backlog drains: each stop takes seconds, not
   the shutdown timeout, and nothing goes twice (the workers record what they sent, give back the rest).
9. Unpaced writer threads on the Django SQLite database while a backlog drains: the writers (the web
   side) see no "database is locked", no delivery task dies, nothing goes twice, and the drain goes on.
10. Redis stopped during sign-ups (all answered 302): every e-mail arrives within seconds of its return,
   because the consumer sees its queue work again and wakes the due rows (not the 120 s sweeper).
"""

import re
import threading
import time
from urllib.parse import urlencode

from benchmarks import rig
from benchmarks.faults.common import Result, fresh, queue_mail, statuses, tally
from benchmarks.faults.redis_restart import OwnRedis
from benchmarks.faults.web_load import Site


def sigint(work, sink, n, stops, workers=4):
    """SIGINT ``stops`` times while ``n`` e-mails drain; a new consumer each time."""
    result = Result(f"8. SIGINT {stops} times while {n:,} drain")
    fresh(work, "sigint")
    sink.reset()
    queue_mail("sigint", n)
    sink.delay(0.002)  # a relay a little slower than loopback: each stop finds the drain under way
    took, held, codes = [], [], []
    for k in range(stops):
        consumer = rig.start_consumer(work, sink.url, "sigint", workers=workers)
        rig.wait_for(lambda k=k: sink.count() >= (k + 1) * n // (stops + 1), timeout=120, interval=0.01)
        began = time.monotonic()
        codes.append(consumer.stop(timeout=70))
        took.append(round(time.monotonic() - began, 1))
        held.append(statuses().get("sending", 0))
    sink.delay(0)
    consumer = rig.start_consumer(work, sink.url, "sigint", workers=workers)
    done = rig.wait_for(lambda: statuses() == {"sent": n}, timeout=180, interval=0.2)
    consumer.stop()
    arrived, duplicates = tally(sink, "sigint ")
    result.figures = {
        "e-mails": n,
        "stop took (s), each": took,
        "exit codes": codes,
        "rows left held after each stop": held,
        "arrived (distinct)": arrived,
        "duplicates": duplicates,
    }
    result.check(max(took) < 10, f"a stop took {max(took)} s (limit 10 s)")
    result.check(duplicates == 0, f"{duplicates} e-mails sent twice")
    result.check(arrived == n and bool(done), f"{n - arrived} never arrived; rows {dict(statuses())}")
    return result


def writers(work, sink, n, seconds, threads=8):
    """``threads`` unpaced writers (each a session saved, as a log-in writes) for ``seconds`` while ``n`` drain."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection

    result = Result(f"9. {threads} unpaced writer threads on SQLite for {seconds} s while {n:,} drain")
    fresh(work, "writers")
    sink.reset()
    queue_mail("writers", n)
    consumer = rig.start_consumer(work, sink.url, "writers")
    rig.wait_for(lambda: sink.count() > 0, timeout=60, interval=0.01)
    stop_at = time.monotonic() + seconds
    writes, errors, lock = [0], {}, threading.Lock()

    def write():
        try:
            while time.monotonic() < stop_at:
                try:
                    session = SessionStore()
                    session["n"] = 1
                    session.save()
                except Exception as exc:  # noqa: BLE001 - every error of the web side is counted
                    what = f"{type(exc).__name__}: {exc}"[:80]
                    with lock:
                        errors[what] = errors.get(what, 0) + 1
                else:
                    with lock:
                        writes[0] += 1
        finally:
            connection.close()

    before = sink.count()
    pool = [threading.Thread(target=write) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    during = sink.count() - before
    arrivals = sink.times(before)[:during]
    # The rate while the writers ran: over the span the arrivals took (the backlog may drain before they stop).
    rate = (len(arrivals) - 1) / (max(arrivals) - min(arrivals)) if len(arrivals) > 1 else 0.0
    done = rig.wait_for(lambda: statuses() == {"sent": n}, timeout=180, interval=0.5)
    consumer.stop()
    log = consumer.log()
    arrived, duplicates = tally(sink, "writers ")
    locked_web = sum(k for e, k in errors.items() if "locked" in e)
    died = log.count("Unhandled exception in task") + log.count("Unhandled error during execution")
    result.figures = {
        "e-mails": n,
        "writes by the writers": writes[0],
        "writer errors": errors,
        "e-mails sent while the writers ran": during,
        "drain while the writers ran (e-mails/s)": round(rate, 1),
        '"database is locked" in the consumer (handled)': log.count("database is locked"),
        "delivery tasks that died": died,
        "arrived (distinct)": arrived,
        "duplicates": duplicates,
    }
    result.check(locked_web == 0, f'{locked_web} "database is locked" on the web side')
    result.check(not errors, f"writer errors: {errors}")
    result.check(died == 0, f"{died} delivery tasks died")
    result.check(duplicates == 0, f"{duplicates} e-mails sent twice")
    result.check(arrived == n and bool(done), f"{n - arrived} never arrived; rows {dict(statuses())}")
    result.check(during >= seconds, f"only {during} e-mails went out in the writers' {seconds} s")
    return result


def redis_down(work, sink, signups):
    """Redis stopped during ``signups`` sign-ups through gunicorn; how soon after its return the e-mails arrive."""
    result = Result(f"10. Redis stopped during {signups} sign-ups")
    redis = OwnRedis(work)
    redis.start()
    fresh(work, "redis-down", redis.url)
    sink.reset()
    consumer = rig.start_consumer(work, sink.url, "redis-down")
    site = Site(work)
    try:
        status, cookie, _ = site.request("GET", "/accounts/signup/")
        token = re.search(r"csrftoken=([^;]+)", cookie).group(1)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={token}"}
        redis.stop()
        codes = []
        for i in range(signups):
            fields = {"username": f"down{i}", "email": f"down{i}@example.com", "password1": "a-Long-pass-42"}
            body = urlencode({**fields, "password2": fields["password1"], "csrfmiddlewaretoken": token})
            codes.append(site.request("POST", "/accounts/signup/", body, headers)[0])
        time.sleep(2)  # the consumer's dequeue fails meanwhile
        queued = statuses().get("queued", 0)
        redis.start()
        back = time.monotonic()
        arrived_all = sink.wait_for(signups, timeout=150) >= signups
        after = time.monotonic() - back
    finally:
        site.stop()
        consumer.stop()
        redis.stop()
    result.figures = {
        "sign-ups": signups,
        "answered 302": codes.count(302),
        "rows queued while Redis was down": queued,
        "all e-mails arrived, s after Redis returned": round(after, 1),
        "arrived": sink.count(),
    }
    result.check(codes.count(302) == signups, f"answers: {sorted(set(codes))}")
    result.check(bool(arrived_all) and after <= 10, f"{sink.count()} arrived, the last {after:.0f} s after the return")
    return result
