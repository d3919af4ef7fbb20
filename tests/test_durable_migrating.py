"""durable.celery and durable.django_q: Celery's and Django Q's names on durable rows; bad input refused clearly."""

import sys
from datetime import datetime, timedelta

import pytest

from durable.celery import shared_task
from durable.compat import InvalidTask, TaskResultStatus
from durable.django_q import Schedule, async_task, schedule
from durable.models import Task, TaskAttempt
from durable.options import options_of
from testing.plugin import wait_until
from tests import durable_tasks


def canary():
    return "not a task"


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_a_shared_task_runs_on_a_real_consumer_and_retries_as_max_retries_says(queue_url, start_consumer, tmp_path):
    path = tmp_path / "marks"
    result = durable_tasks.celery_flaky.delay(str(path))
    added = durable_tasks.celery_add.apply_async(args=[2], kwargs={"b": 3}, queue="default", priority=7)
    start_consumer()

    wait_until(lambda: Task.objects.filter(pk__in=[result.id, added.id], status="successful").count() == 2)
    assert durable_tasks.celery_flaky.get_result(result.id).return_value == "second time lucky"
    assert durable_tasks.celery_add.get_result(added.id).return_value == 5
    row = Task.objects.get(pk=result.id)
    assert row.max_attempts == 2 and row.attempts == 2
    assert list(TaskAttempt.objects.filter(task=row).values_list("outcome", flat=True)) == ["retry", "successful"]


@shared_task(max_retries=4, default_retry_delay=7, soft_time_limit=30, time_limit=60, ignore_result=True)
def translated():
    pass


def test_shared_task_translates_celerys_options():
    opts = options_of(translated)
    assert opts.max_attempts == 5 and opts.backoff(1) == 7 and opts.time_limit == 30
    assert options_of(durable_tasks.celery_add).max_attempts is None  # bare: the defaults


@pytest.mark.parametrize(
    "option, says",
    [
        ({"bind": True}, "takes_context"),
        ({"name": "x.y"}, "dotted path"),
        ({"autoretry_for": (ValueError,)}, "retries every exception"),
        ({"rate_limit": "10/s"}, "group"),
        ({"expires": 60}, "not a supported option"),
        ({"max_retries": None}, "no unlimited retries"),
        ({"max_retries": -1}, ">= 0"),
    ],
)
def test_shared_task_refuses_what_it_cannot_honour_when_defined(option, says):
    with pytest.raises(TypeError, match=says):
        shared_task(**option)


@pytest.mark.django_db
def test_apply_async_refuses_countdown_with_eta_and_a_naive_eta():
    with pytest.raises(InvalidTask, match="countdown or eta"):
        durable_tasks.celery_add.apply_async(args=[1, 2], countdown=5, eta=datetime(2030, 1, 1))
    with pytest.raises(InvalidTask, match="aware"):
        durable_tasks.celery_add.apply_async(args=[1, 2], eta=datetime(2030, 1, 1))
    with pytest.raises(TypeError):
        durable_tasks.celery_add.apply_async(args=[1, 2], expires=timedelta(minutes=1))
    assert not Task.objects.exists()


@pytest.mark.django_db
def test_async_task_runs_a_declared_task_by_dotted_path(run_tasks):
    task_id = async_task("tests.durable_tasks.add", 2, b=40)

    assert run_tasks() == 1
    assert durable_tasks.add.get_result(task_id).status == TaskResultStatus.SUCCESSFUL
    assert durable_tasks.add.get_result(task_id).return_value == 42


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    ["os.system", "tests.test_durable_migrating.canary", "tests.durable_tasks", "nowhere.at.all", "", 42],
)
def test_async_task_refuses_anything_but_a_declared_task(path):
    with pytest.raises(InvalidTask, match="not a (declared )?task"):
        async_task(path, "echo hi")
    assert not Task.objects.exists()


@pytest.mark.django_db
def test_async_task_never_imports_the_module_a_path_names(tmp_path, monkeypatch):
    (tmp_path / "canary_module.py").write_text("IMPORTED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    with pytest.raises(InvalidTask, match="not a declared task"):
        async_task("canary_module.anything")

    assert "canary_module" not in sys.modules


@pytest.mark.django_db
def test_async_task_refuses_django_qs_own_options():
    with pytest.raises(InvalidTask, match="hook=.*Django Q's option"):
        async_task("tests.durable_tasks.add", 1, 2, hook="x.y")
    assert not Task.objects.exists()


@pytest.mark.parametrize(
    "kwargs, says",
    [
        ({"cron": "0 3 * *"}, "five fields"),
        ({"cron": "61 3 * * *"}, "not a valid input"),
        ({"cron": None}, "five fields"),
        ({"schedule_type": "D"}, "only Schedule.CRON"),
    ],
)
def test_schedule_refuses_a_bad_cron_string(kwargs, says):
    with pytest.raises(InvalidTask, match=says):
        schedule("tests.durable_tasks.noop", **{"schedule_type": Schedule.CRON, **kwargs})


def test_schedule_refuses_arguments():
    with pytest.raises(InvalidTask, match="takes no arguments"):
        schedule("tests.durable_tasks.add", 1, 2, schedule_type=Schedule.CRON, cron="0 3 * * *")
