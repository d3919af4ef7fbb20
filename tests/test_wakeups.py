"""Wake-ups (mysite.wakeups): one per transaction, none while a consumer drains, none lost when it stops."""

import pytest
from django.core.mail import send_mail
from django.db import transaction
from huey.contrib.djhuey import HUEY

from notifications.models import Message
from testing.plugin import wait_until
from tests import durable_tasks

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_transaction_queues_one_wake_up_however_many_rows(queue_url):
    with transaction.atomic():
        for i in range(3):
            send_mail(f"Hello {i}", "Body", "from@example.com", [f"to{i}@example.com"])
        durable_tasks.noop.enqueue()
        durable_tasks.add.enqueue(1, 2)
        assert HUEY.pending_count() == 0  # nothing before the commit

    [wake_up] = HUEY.pending()  # one real queue entry for five rows of two kinds
    assert wake_up.args == (["durable", "outbox"],)


def test_each_transaction_has_its_own_wake_up_and_a_rolled_back_one_none(queue_url):
    with pytest.raises(RuntimeError), transaction.atomic():
        send_mail("Rolled back", "Body", "from@example.com", ["to@example.com"])
        raise RuntimeError("the view failed")
    for _ in range(2):
        with transaction.atomic():
            send_mail("Kept", "Body", "from@example.com", ["to@example.com"])
            send_mail("Kept too", "Body", "from@example.com", ["to@example.com"])

    assert HUEY.pending_count() == 2
    assert Message.objects.count() == 4


@pytest.mark.consumer
@pytest.mark.slow
def test_no_wake_up_while_a_consumer_drains_and_none_lost_when_it_stops(queue_url, start_consumer, smtp_server):
    """One consumer drains a slow relay's backlog; the other is idle. Mail queued meanwhile enqueues nothing;
    the draining consumer is stopped half-way, and the idle one sends the rest, each message once."""
    smtp_server.slow_down(0.3)
    env = {"HUEY_WORKERS": 2, "NOTIFICATIONS_REQUEUE_AFTER_SECONDS": 3600}  # no sweeper to the rescue
    consumers = [start_consumer(smtp_server.url, **env), start_consumer(smtp_server.url, **env)]
    with transaction.atomic():
        for i in range(15):
            send_mail(f"backlog {i}", "Body", "from@example.com", [f"to{i}@example.com"])
    wait_until(lambda: HUEY.is_draining("outbox") and len(smtp_server.messages) >= 1, message="a consumer drains")

    queued_before = HUEY.pending_count()
    send_mail("while draining", "Body", "from@example.com", ["late@example.com"])
    assert HUEY.is_draining("outbox")
    assert HUEY.pending_count() == queued_before  # no wake-up: the draining consumer will see the row

    drainer = next(c for c in consumers if Message.objects.filter(claimed_by__endswith=f":{c.pid}").exists())
    drainer.stop()  # SIGINT while it still holds untried rows: they go back, and it hands over a wake-up
    arrived = smtp_server.wait_for(16, timeout=60)

    subjects = [m.subject for m in arrived]
    assert sorted(subjects) == sorted([f"backlog {i}" for i in range(15)] + ["while draining"])  # each once
    wait_until(lambda: Message.objects.filter(status="sent").count() == 16, message="every row recorded sent")
    assert len(smtp_server.messages) == 16
