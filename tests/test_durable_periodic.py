"""Periodic tasks (``durable.periodic``): once per slot across consumers and restarts; missed slots once or skipped."""

import datetime
import re
import time
from datetime import UTC, timedelta

import pytest
from django.utils import timezone
from huey import crontab

from durable import periodic
from durable.models import Periodic, Task
from testing.plugin import wait_until
from tests import durable_tasks
from tests.periodic_app import PERIODIC_CHECK_SECONDS
from tests.reports_data import OPERATIONS, grant

ONCE = "tests.periodic_app.tasks.every_minute"
HOURLY, HOURLY_SKIP = "tests.periodic_app.tasks.hourly", "tests.periodic_app.tasks.hourly_skipping"
T0 = datetime.datetime(2026, 3, 1, 3, 0, 20, tzinfo=UTC)


def at(minutes, seconds=20):
    return T0.replace(second=0) + timedelta(minutes=minutes, seconds=seconds)


@pytest.fixture
def hourly():
    return periodic.Declaration(durable_tasks.noop, crontab(minute="0"), missed="once")


def runs():
    return Task.objects.filter(name="tests.durable_tasks.noop").count()


@pytest.mark.django_db
def test_a_new_task_starts_from_its_latest_slot_without_running(hourly):
    assert hourly.tick(at(30)) is None
    assert Periodic.objects.get(name="tests.durable_tasks.noop").last_slot == at(0, 0)
    assert runs() == 0


@pytest.mark.django_db
def test_each_slot_is_taken_once_however_many_ticks(hourly):
    hourly.tick(at(-30))
    results = [hourly.tick(at(60, s)) for s in (1, 2, 30)] + [hourly.tick(at(61))]

    assert [r is not None for r in results] == [True, False, False, False]
    assert runs() == 1
    row = Periodic.objects.get(name="tests.durable_tasks.noop")
    assert row.last_slot == at(60, 0) and row.last_task_id == int(results[0].id)


@pytest.mark.django_db
def test_slots_missed_while_down_are_caught_up_once(hourly):
    hourly.tick(at(-30))

    assert hourly.tick(at(5 * 60 + 12)) is not None  # down through the 01:00 .. 05:00 slots
    assert hourly.tick(at(5 * 60 + 13)) is None

    assert runs() == 1
    assert Periodic.objects.get(name="tests.durable_tasks.noop").last_slot == at(5 * 60, 0)


@pytest.mark.django_db
def test_with_skip_a_missed_slot_is_not_run_but_the_next_one_is():
    skipping = periodic.Declaration(durable_tasks.noop, crontab(minute="0"), missed="skip")
    skipping.tick(at(-30))

    assert skipping.tick(at(5 * 60 + 12)) is None
    assert Periodic.objects.get(name="tests.durable_tasks.noop").last_slot == at(5 * 60, 0)
    assert skipping.tick(at(6 * 60, 3)) is not None
    assert runs() == 1


def test_bad_declarations_are_refused_at_once():
    with pytest.raises(ValueError, match="missed must be one of"):
        periodic.periodic(crontab(), missed="twice")
    with pytest.raises(TypeError, match="above @task"):
        periodic.periodic(crontab())(lambda: None)


def test_the_next_slot_follows_the_schedule():
    assert periodic.next_slot(crontab(minute="0", hour="3"), at(1)) == at(24 * 60, 0)
    assert periodic.latest_slot(crontab(minute="0", hour="3"), at(1), since=at(0, 0)) is None


# --- real consumers ---------------------------------------------------------------------------


def marks(settings, kind):
    path = settings.MEDIA_ROOT + "/periodic-marks"
    try:
        with open(path) as f:
            return [line.split() for line in f if line.startswith(kind + " ")]
    except FileNotFoundError:
        return []


def start_two(start_consumer, **env):
    return [start_consumer(DJANGO_SETTINGS_MODULE="tests.settings_periodic", HUEY_WORKERS=2, **env) for _ in range(2)]


TICK = "durable.tasks.durable.tick"


def ticks_done(consumers, each):
    """Wait until each consumer's scheduler asked for ``each`` ticks and every tick asked for has run (any worker
    of any consumer runs one: they share the queue)."""

    def done():
        logs = [c.log() for c in consumers]
        asked = [log.count(f"Enqueueing periodic task {TICK}") for log in logs]
        ran = sum(len(re.findall(rf"{re.escape(TICK)}: \S+ executed in", log)) for log in logs)
        return min(asked) >= each and ran >= sum(asked)

    wait_until(done, timeout=PERIODIC_CHECK_SECONDS + 30, message=f"{each} tick(s) of each consumer to have run")


@pytest.mark.consumer
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_consumers_run_a_periodic_task_once_per_minute(queue_url, start_consumer, settings):
    consumers = start_two(start_consumer)
    # The slot the first consumer to see the task started from, as it logged it: the row's last_slot, read here
    # instead, may already be the next minute's when the task is first seen just before a minute begins.
    seen = rf"periodic {re.escape(ONCE)}: first seen; slots from (\S+) on"
    found = wait_until(lambda: re.search(seen, "".join(c.log() for c in consumers)), message="the task first seen")
    first = datetime.datetime.fromisoformat(found[1])

    # The next minute begins within 60 s; the first check after it takes the slot; 30 s for a busy machine.
    next_minute = 60 + PERIODIC_CHECK_SECONDS + 30
    wait_until(lambda: marks(settings, "once"), timeout=next_minute, message="a run at the next minute")
    # Both consumers' ticks of that minute: each ticks at start, then at each of its scheduler's periodic checks
    # (every PERIODIC_CHECK_SECONDS in tests.settings_periodic; Huey's default is once a minute).
    ticks_done(consumers, each=2)
    # The mark is written while the run goes on: its outcome commits just after.
    ran = Task.objects.filter(name=ONCE, status="successful")
    wait_until(ran.exists, message="the run's outcome")

    slot = Periodic.objects.get(name=ONCE).last_slot
    assert slot > first
    assert len(marks(settings, "once")) == Task.objects.filter(name=ONCE).count() == (slot - first).seconds // 60 == 1
    assert Task.objects.filter(name=ONCE, status="successful").count() == 1
    for consumer in consumers:  # each consumer's scheduler asked for ticks (any worker of either may run one)
        assert consumer.log().count("Enqueueing periodic task durable.tasks.durable.tick") >= 1
    logs = "".join(c.log() for c in consumers)
    assert logs.count("Executing durable.tasks.durable.tick") >= 3  # and at least one more at start-up each
    assert logs.count(f"periodic {ONCE}: slot") == 1


@pytest.mark.consumer
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_restart_after_a_missed_slot_catches_up_once_or_skips(start_consumer, settings):
    # The hourly tasks' minute, half an hour from now: their latest slot is past its grace, the next one far away.
    now = timezone.now()
    minute = (now.minute + 30) % 60
    env = dict(DJANGO_SETTINGS_MODULE="tests.settings_periodic", PERIODIC_HOURLY_MINUTE=minute)
    first = start_consumer(**env)
    # Its start-up hook declares the periodic tasks; on a busy machine that can come after "consumer started".
    wait_until(lambda: Periodic.objects.filter(name=HOURLY).exists(), message="the consumer to see the periodic task")
    first.stop()
    assert not Task.objects.exists()  # seen, not run
    top = periodic.minute_of(now).replace(minute=minute)
    top -= timedelta(hours=1) if top > now else timedelta(0)  # the latest slot, about 30 minutes ago
    Periodic.objects.filter(name__in=[HOURLY, HOURLY_SKIP]).update(last_slot=top - timedelta(hours=1))  # down an hour

    consumers = start_two(start_consumer, PERIODIC_HOURLY_MINUTE=minute)
    wait_until(lambda: Task.objects.filter(name=HOURLY, status="successful").exists(), message="the catch-up run")
    ticks_done(consumers, each=1)
    consumers.append(start_consumer(**env))  # and one more restart
    ticks_done(consumers, each=1)  # its start-up tick too

    assert Task.objects.filter(name=HOURLY).count() == len(marks(settings, "hourly")) == 1
    assert not Task.objects.filter(name=HOURLY_SKIP).exists() and not marks(settings, "hourly-skip")
    assert set(Periodic.objects.filter(name__in=[HOURLY, HOURLY_SKIP]).values_list("last_slot", flat=True)) == {top}
    logs = "".join(c.log() for c in consumers)
    assert logs.count(f"periodic {HOURLY}: slot") == 1 and "caught up" in logs
    assert logs.count(f"periodic {HOURLY_SKIP}: slot") == 1 and "skipped" in logs


@pytest.mark.django_db
def test_the_operations_page_lists_declared_periodic_tasks(client, monkeypatch, hourly):
    from django.contrib.auth.models import User

    monkeypatch.setitem(periodic._declared, hourly.name, hourly)
    hourly.tick(at(-30))
    client.force_login(grant(User.objects.create_user("ops", "ops@example.com", "pw", is_staff=True), *OPERATIONS))

    page = client.get("/operations/")

    (row,) = [p for p in page.context["durable"]["periodic"] if p["name"] == hourly.name]
    assert row["name"] == "tests.durable_tasks.noop" and row["missed"] == "once" and row["last"] == at(-60, 0)
    assert row["next"].minute == 0 and row["next"] > timezone.now()
    assert 'id="durable-periodic"' in page.content.decode()


@pytest.mark.django_db
def test_the_lease_sweeper_runs_on_one_consumer_per_minute():
    from durable.tasks import sweep

    while timezone.now().second > 55:  # both calls in one minute
        time.sleep(1)
    expired = dict(status="running", lease_token="t", claimed_by="elsewhere:1", lease_expires_at=timezone.now())
    first = Task.objects.create(name="tests.durable_tasks.noop", attempts=1, **expired)
    sweep.call_local()  # this consumer's tick takes the minute and sweeps
    second = Task.objects.create(name="tests.durable_tasks.noop", attempts=1, **{**expired, "lease_token": "u"})
    sweep.call_local()  # another consumer's tick in the same minute: swept already

    assert Task.objects.get(pk=first.pk).status == "queued"
    assert Task.objects.get(pk=second.pk).status == "running"
    assert Periodic.objects.get(name="durable.sweep").last_slot == periodic.minute_of(timezone.now())
