"""Issue 21.1: a task or periodic declaration the consumer cannot find is loud (log, operations page, /health/)."""

import logging
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from huey import crontab

from durable import periodic
from durable.compat import task
from durable.models import Periodic, Task
from testing.plugin import wait_until
from tests import durable_tasks
from tests.reports_data import OPERATIONS, grant

EVERY_MINUTE = "tests.periodic_app.tasks.every_minute"
SCRATCH = "scratch.tasks.job"


@pytest.fixture
def staff(client):
    user = User.objects.create_user("ops", "ops@example.com", "pw", is_staff=True)
    grant(user, *OPERATIONS)
    client.force_login(user)
    return client


def warnings_on(client):
    """The operations page's warnings, and /health/'s (staff see them; the status does not change for them)."""
    page = client.get("/operations/")
    health = client.get("/health/").json()
    return page.context["warnings"], page.content.decode(), health["warnings"]


def job():
    return None


def test_a_periodic_task_declared_in_no_installed_app_is_logged_when_declared(caplog, monkeypatch):
    monkeypatch.setattr(job, "__module__", "scratch.tasks")  # as if written in an app missing from INSTALLED_APPS
    monkeypatch.setattr(periodic, "_declared", {})
    with caplog.at_level(logging.WARNING, logger="durable.periodic"):
        periodic.periodic(crontab())(task()(job))

    assert f"periodic {SCRATCH}: declared in scratch.tasks, which is in no app of INSTALLED_APPS" in caplog.text
    assert "docs/tasks.md" in caplog.text


@pytest.mark.django_db
def test_a_periodic_task_declared_here_that_no_consumer_declares_is_a_warning(staff, monkeypatch):
    declaration = periodic.Declaration(durable_tasks.noop, crontab(), "once")
    Periodic.objects.create(name="operations.tasks.daily_cleanup", last_slot=timezone.now(), seen_at=timezone.now())
    monkeypatch.setitem(periodic._declared, declaration.name, declaration)

    page_warnings, page, health = warnings_on(staff)

    (line,) = [w for w in page_warnings if "tests.durable_tasks.noop" in w]
    assert "declared by no running consumer" in line and "INSTALLED_APPS" in line
    assert 'id="ops-warnings"' in page and line in health


@pytest.mark.django_db
def test_no_warning_while_no_consumer_ticks_at_all(staff):
    Periodic.objects.create(name=EVERY_MINUTE, last_slot=timezone.now(), seen_at=timezone.now() - timedelta(hours=1))

    assert warnings_on(staff)[0] == []  # /health/'s consumer probe already fails for that


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_a_periodic_task_the_restarted_consumer_never_loaded_is_logged_and_warned(staff, start_consumer):
    first = start_consumer(DJANGO_SETTINGS_MODULE="tests.settings_periodic")  # the app is installed here...
    wait_until(lambda: Periodic.objects.filter(name=EVERY_MINUTE).exclude(seen_at=None).exists(), message="a tick")
    first.stop()

    second = start_consumer()  # ...and not here: the consumer never imports tests.periodic_app.tasks
    second.wait_for_log(f"periodic {EVERY_MINUTE}: not declared by this consumer")
    assert "periodic tasks declared here: operations.tasks.daily_cleanup, webhooks.tasks.kick" in second.log()
    wait_until(lambda: "webhooks" in second.log(), message="the start-up tick")
    stale = timezone.now() - timedelta(minutes=5)  # as after five minutes of ticks without it
    Periodic.objects.filter(name__startswith="tests.periodic_app.").update(seen_at=stale)

    page_warnings, page, health = warnings_on(staff)
    (line,) = [w for w in page_warnings if EVERY_MINUTE in w]
    assert "declared by no running consumer" in line and line in health
    assert f"periodic task {EVERY_MINUTE} is declared by no running consumer" in page


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_a_task_row_the_consumer_cannot_import_is_logged_and_warned(staff, start_consumer, settings):
    ghost = Task.objects.create(name=SCRATCH, due_at=timezone.now() - timedelta(seconds=1))
    consumer = start_consumer()
    durable_tasks.noop.enqueue()  # wakes the consumer, which takes every due row

    wait_until(lambda: Task.objects.get(pk=ghost.pk).status == "failed", message="the row to fail")
    consumer.wait_for_log(f"task {ghost.pk} {SCRATCH} failed")

    page_warnings, page, health = warnings_on(staff)
    (line,) = [w for w in page_warnings if SCRATCH in w]
    assert f"the consumer cannot import {SCRATCH}" in line and "INSTALLED_APPS" in line
    assert line in health and 'id="ops-warnings"' in page
    settings.METRICS_TOKEN = "t"
    metrics = staff.get("/metrics", headers={"Authorization": "Bearer t"}).content.decode()
    assert f"mysite_durable_warnings {float(len(page_warnings))}" in metrics
