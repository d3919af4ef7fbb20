"""docs/migrating.md: the Celery and Django Q examples run as written, with only the import lines changed."""

import re
import sys
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.test import RequestFactory
from django.utils import timezone

from durable import periodic
from durable.compat import TaskResultStatus
from durable.models import Task
from notifications.models import Message

DOC = Path(__file__).resolve().parent.parent / "docs" / "migrating.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


@pytest.fixture
def modules():
    """``load(name, block)``: a doc block as the importable module ``name`` (packages made as needed)."""
    made = []

    def load(name, block, **namespace):
        package = name.rpartition(".")[0]
        if package and package not in sys.modules:
            sys.modules[package] = types.ModuleType(package)
            sys.modules[package].__path__ = []
            made.append(package)
        module = types.ModuleType(name)
        module.__dict__.update(namespace)
        sys.modules[name] = module
        made.append(name)
        exec(BLOCKS[block], module.__dict__)  # noqa: S102 - our own documentation
        return module

    yield load
    for name in made:
        sys.modules.pop(name, None)
        periodic._declared.pop(f"{name}.clear_cache", None)


def signup(views, **data):
    request = RequestFactory().post("/signup/", data)
    with transaction.atomic():  # as a request is, with ATOMIC_REQUESTS
        return views.signup(request)


@pytest.mark.django_db
def test_the_celery_welcome_email_is_sent_from_the_signup_view(modules, run_tasks):
    tasks = modules("members.tasks", 0)
    views = modules("members.views", 1)

    response = signup(views, username="ada", email="ada@example.com")

    assert response.status_code == 302 and response["Location"] == "/welcome/"
    row = Task.objects.get(name="members.tasks.send_welcome_email")
    assert run_tasks() == 1
    result = tasks.send_welcome_email.get_result(str(row.pk))
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == "ada@example.com"
    assert Message.objects.filter(recipients=["ada@example.com"], subject="Welcome!").count() == 1


@pytest.mark.django_db
def test_a_signup_that_rolls_back_leaves_no_user_and_no_task(modules):
    modules("members.tasks", 0)
    views = modules("members.views", 1)

    with pytest.raises(RuntimeError), transaction.atomic():
        views.signup(RequestFactory().post("/signup/", {"username": "bob", "email": "bob@example.com"}))
        raise RuntimeError("the view failed after the enqueue")

    assert not Task.objects.filter(name="members.tasks.send_welcome_email").exists()


@pytest.mark.django_db
def test_apply_async_takes_celerys_countdown_eta_queue_and_priority(modules, settings):
    tasks = modules("members.tasks", 0)
    before = timezone.now()

    later = tasks.send_welcome_email.apply_async(args=[1], countdown=60, priority=5)
    at = tasks.send_welcome_email.apply_async(kwargs={"user_id": 2}, eta=before + timedelta(hours=1))

    row = Task.objects.get(pk=later.id)
    assert row.args == [1] and row.priority == 5 and row.due_at >= before + timedelta(seconds=59)
    assert Task.objects.get(pk=at.id).kwargs == {"user_id": 2}
    assert Task.objects.get(pk=at.id).due_at == before + timedelta(hours=1)
    assert tasks.send_welcome_email.get_result(later.id).status == TaskResultStatus.READY


@pytest.mark.django_db
def test_the_django_q_welcome_email_runs_by_dotted_path(modules, run_tasks):
    modules("members.tasks", 2)
    namespace = {"user": get_user_model().objects.create(username="cy", email="cy@example.com")}

    exec(BLOCKS[3], namespace)  # noqa: S102 - our own documentation

    assert run_tasks() == 1
    row = Task.objects.get(pk=namespace["task_id"])
    assert row.status == "successful" and row.return_value == "cy@example.com"
    assert Message.objects.filter(recipients=["cy@example.com"]).count() == 1


@pytest.mark.django_db
def test_the_django_q_nightly_cache_cleanup_runs_once_at_three(modules, run_tasks):
    modules("cache_tools.tasks", 4)
    cache.set("page:/", "cached page", 86400)
    night = datetime(2026, 12, 5, 2, 59, tzinfo=UTC)

    def cleanups(at):
        return [r for r in periodic.tick(at) if r.task.module_path == "cache_tools.tasks.clear_cache"]

    assert cleanups(night) == []  # first seen: slots from now on
    assert len(cleanups(night + timedelta(minutes=1))) == 1  # 03:00
    assert cleanups(night + timedelta(minutes=1, seconds=30)) == []  # once per slot

    run_tasks()  # the site's own periodic tasks due at 03:00 (the webhook kick) run too
    assert cache.get("page:/") is None
    assert Task.objects.get(name="cache_tools.tasks.clear_cache").return_value == "cache cleared"
