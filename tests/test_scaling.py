"""Growing past one box: two consumers on one Redis queue (standing for two hosts) share a batch."""

from collections import Counter

import pytest
from django.core.mail import send_mail

from notifications.models import Message
from testing.plugin import use_queue, wait_until

pytestmark = [pytest.mark.consumer, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_two_consumers_on_redis_send_each_email_exactly_once(redis_url, start_consumer, smtp_server):
    use_queue(redis_url).flush_all()
    total = 400
    for i in range(total):
        send_mail(f"shared {i}", "Body", "from@example.com", [f"user{i}@example.com"])
    smtp_server.slow_down(0.005)

    first = start_consumer(smtp_server.url, queue=redis_url, HUEY_WORKERS=2, NOTIFICATIONS_BATCH_SIZE=10)
    second = start_consumer(smtp_server.url, queue=redis_url, HUEY_WORKERS=2, NOTIFICATIONS_BATCH_SIZE=10)

    wait_until(lambda: Message.objects.filter(status="sent").count() == total, timeout=120, message="all sent")
    arrived = Counter(m.subject for m in smtp_server.messages)
    assert len(arrived) == total  # none lost
    assert max(arrived.values()) == 1  # none sent twice
    by_consumer = Counter(h.rsplit(":", 1)[1] for h in Message.objects.values_list("claimed_by", flat=True))
    assert set(by_consumer) == {str(first.pid), str(second.pid)}  # both did part of the work
