"""docs/tasks.md from "## Periodic tasks" on: its examples run as written (the first two: test_durable_docs.py)."""

import datetime
import re
import sys
import types
from datetime import UTC
from pathlib import Path

import pytest

from durable import periodic
from durable.models import Task

DOC = Path(__file__).resolve().parent.parent / "docs" / "tasks.md"


def blocks():
    text = DOC.read_text()
    return re.findall(r"```python\n(.*?)```", text[text.index("## Periodic tasks") :], re.S)


@pytest.fixture
def module():
    """The examples' task definitions as an importable module (a worker resolves tasks by their dotted path)."""
    mod = types.ModuleType("tests.docs_tasks_more")
    sys.modules[mod.__name__] = mod
    yield mod
    del sys.modules[mod.__name__]
    periodic._declared.pop(f"{mod.__name__}.nightly_digest", None)


def test_every_example_after_periodic_tasks_is_run_here():
    assert len(blocks()) == 3


@pytest.mark.django_db
def test_the_periodic_example_runs_once_a_night_and_catches_up_once(module, run_tasks):
    exec(blocks()[0], module.__dict__)  # noqa: S102 - our own documentation
    declaration = periodic.declared()["tests.docs_tasks_more.nightly_digest"]
    night = datetime.datetime(2026, 3, 1, 3, 0, 5, tzinfo=UTC)

    assert declaration.missed == "once" and declaration.tick(night - datetime.timedelta(hours=1)) is None
    assert declaration.tick(night) is not None and declaration.tick(night) is None
    assert declaration.tick(night + datetime.timedelta(days=3, hours=5)) is not None  # three nights missed: one run
    assert run_tasks() == 2
    assert list(Task.objects.values_list("return_value", flat=True)) == ["digest sent", "digest sent"]


@pytest.mark.consumer
@pytest.mark.django_db(transaction=True)
def test_the_idempotency_and_testing_examples_run(module, run_tasks, dead_task_consumer):
    exec(blocks()[1], module.__dict__)  # noqa: S102
    namespace = {"notify_partner": module.notify_partner}
    exec(blocks()[2], namespace)  # noqa: S102 - defines the documented test
    namespace["test_a_task_survives_its_consumer"](run_tasks, dead_task_consumer)

    again = module.notify_partner.enqueue(7)
    assert module.notify_partner.enqueue(7).id == again.id  # the unique key folds a duplicate
