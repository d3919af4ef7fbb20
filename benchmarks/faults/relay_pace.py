"""Scenario 12: a real Postfix that takes 100 messages per 10 s per client; 300 queued e-mails.

The outbox learns the relay's pace from its "450 4.7.1 Error: too much mail" answers
(``notifications.pacing``): all 300 arrive once, no attempt fails, within 1.5x what the limit allows.
"""

import shutil
import tempfile
import time
from pathlib import Path

from benchmarks import postfix, rig
from benchmarks.faults.common import Result, fresh, queue_mail, statuses

PORT = 10587  # loopback only, not 25 or 587


def run(work, n, count, seconds):
    from notifications.models import Attempt, RelayPace

    result = Result(f"12. Postfix taking {count} messages per {seconds} s per client: {n} e-mails")
    if not postfix.available():
        result.check(False, "Debian's postfix is not installed (apt-get install postfix)")
        return result
    # Postfix's own user must reach its folders: not under var/, which is 0750 to the site's user (docs/operations.md).
    root = Path(tempfile.mkdtemp(prefix="mysite-postfix-"))
    root.chmod(0o755)
    relay = postfix.Postfix(root / "postfix", PORT, count, seconds).start()
    try:
        fresh(work, "relay-pace")
        queue_mail("paced", n)
        consumer = rig.start_consumer(work, relay.url, "relay-pace")
        done = rig.wait_for(lambda: statuses() == {"sent": n}, timeout=30 * seconds, interval=0.2)
        consumer.stop()
    finally:
        time.sleep(1)  # let postlogd write its last lines
        accepted = relay.accepted()
        refusals = relay.refusals()
        relay.stop()
        shutil.rmtree(root, ignore_errors=True)
    sent = Attempt.objects.filter(outcome="sent").order_by("started_at").values_list("started_at", flat=True)
    span = (sent[len(sent) - 1] - sent[0]).total_seconds() if sent else None
    allowed = (n / count - 1) * seconds  # windows after the first: the limit's own minimum
    pace = RelayPace.objects.first()
    result.figures = {
        "e-mails": n,
        "first to last taken (s)": round(span, 1) if span is not None else None,
        "what the limit allows (s)": allowed,
        "ratio": round(span / allowed, 2) if span and allowed else None,
        "deferrals (relay said slow down; uncounted)": Attempt.objects.filter(outcome="deferred").count(),
        "failed or retried attempts": Attempt.objects.filter(outcome__in=["retry", "failed"]).count(),
        "Postfix refusals logged": refusals,
        "taken by Postfix (distinct)": len(accepted),
        "taken twice": sum(c - 1 for c in accepted.values()),
        "learned window (s)": round(pace.window_seconds, 1) if pace else None,
    }
    result.check(bool(done) and len(accepted) == n, f"{n - len(accepted)} not taken; rows {dict(statuses())}")
    result.check(result.figures["taken twice"] == 0, "an e-mail was taken twice")
    result.check(result.figures["failed or retried attempts"] == 0, "a slow-down was counted as a failed attempt")
    result.check(span is not None and span <= 1.5 * allowed, f"took {span} s; the limit allows {allowed} s")
    return result
