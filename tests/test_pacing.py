"""The relay's pace, learned from its answers (notifications.pacing), against a relay that limits per window."""

import threading
import time

import pytest
from django.core.mail import send_mail

from notifications.models import Attempt, Message
from testing.plugin import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


class WindowLimit:
    """Like Postfix's anvil: ``count`` messages per window of ``seconds`` from the first; past it, ``reply``."""

    def __init__(self, count, seconds, reply):
        self.count, self.seconds, self.reply = count, seconds, reply
        self.started, self.taken, self.refused = None, 0, 0
        self.lock = threading.Lock()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.lock:
            now = time.monotonic()
            if self.started is None or now > self.started + self.seconds:
                self.started, self.taken = now, 0
            self.taken += 1
            if self.taken > self.count:
                self.refused += 1
                return self.reply
        envelope.mail_from = address
        return "250 OK"


@pytest.mark.slow  # three windows of the relay's 1.5 s
@pytest.mark.parametrize(
    "reply",
    ["452 4.7.1 Too many messages, slow down", "421 4.7.0 Try again later, closing connection"],
    ids=["452", "421"],
)
def test_a_relay_limiting_per_window_gets_every_message_once_and_no_attempt_fails(deliver_now, smtp_server, reply):
    """5 per 1.5 s, 15 queued: each arrives once, no attempt is counted, and the relay refuses a few times per
    window, not once per message (the pause is learned, not doubled: backing off from a 60 s base, the
    second window alone would wait a minute)."""
    limit = WindowLimit(5, 1.5, reply)
    smtp_server.handler.handle_MAIL = limit.handle_MAIL
    for i in range(15):
        send_mail(f"paced {i}", "Body", "from@example.com", [f"to{i}@example.com"])

    wait_until(
        lambda: deliver_now() is not None and Message.objects.filter(status="sent").count() == 15,
        timeout=60,
        interval=0.1,
        message="every message sent",
    )

    subjects = [m.subject for m in smtp_server.messages]
    assert sorted(subjects) == sorted(f"paced {i}" for i in range(15))  # each once
    assert not Attempt.objects.filter(outcome__in=["retry", "failed"]).exists()
    assert set(Message.objects.values_list("attempts", flat=True)) == {1}  # a slow-down spends no attempt
    deferred = Attempt.objects.filter(outcome="deferred").count()
    assert deferred == limit.refused >= 2  # the relay did say "slow down", and each answer is on record
    assert deferred <= 12  # two windows past the first: a few probes to learn the first, about one each after
