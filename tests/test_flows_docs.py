"""docs/flows.md: its examples run as written."""

import re
from pathlib import Path

import pytest

from durable.compat import TaskResultStatus
from durable.models import Task

DOC = Path(__file__).resolve().parent.parent / "docs" / "flows.md"


def block(heading, index=0):
    """The first (or ``index``-th) ```python block under the ``## heading`` of docs/flows.md."""
    section = DOC.read_text().split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)[index]


@pytest.mark.django_db
def test_the_enqueue_many_example_runs():
    namespace = {}
    exec(block("Many tasks at once"), namespace)  # noqa: S102 - our own documentation

    assert len(namespace["results"]) == 10_000 and Task.objects.count() == 10_000
    assert namespace["first"].status == TaskResultStatus.READY
    assert Task.objects.get(pk=namespace["results"][9_999].id).args == [9_999]


@pytest.mark.django_db
def test_the_pause_commands_say_what_the_doc_says():
    import io
    import shlex

    from django.core.management import call_command

    commands = re.findall(r"python manage.py (.*?)\s+# \"(.*?)\"", DOC.read_text())
    assert [c for c, _ in commands] == ["tasks pause default", "tasks list", "tasks resume default"]
    for command, says in commands:
        out = io.StringIO()
        call_command(*shlex.split(command), stdout=out)
        expected = re.sub(r"\d+", r"\\d+", re.escape(says))  # any date and counts
        assert re.fullmatch(expected, out.getvalue().strip()), (command, out.getvalue())


@pytest.fixture
def snooze_module():
    """The Snooze example as an importable module (a consumer imports tasks by their dotted path)."""
    import sys
    import types

    module = types.ModuleType("tests.docs_flows_snooze")
    sys.modules[module.__name__] = module
    exec(block("Snooze"), module.__dict__)  # noqa: S102 - our own documentation
    yield module
    del sys.modules[module.__name__]


@pytest.mark.django_db
def test_the_snooze_and_cancel_examples_run(snooze_module, run_tasks):
    from django.utils import timezone

    from durable.models import TaskAttempt

    first = snooze_module.sync_partner.enqueue(5)
    assert run_tasks() == 1
    assert list(TaskAttempt.objects.filter(task_id=first.id).values_list("outcome", flat=True)) == ["snoozed"]
    assert Task.objects.get(pk=first.id).due_at > timezone.now()

    namespace = {"sync_partner": snooze_module.sync_partner, "durable": __import__("durable")}
    exec(block("Cancel"), namespace)  # noqa: S102 - our own documentation
    assert Task.objects.get(pk=namespace["result"].id).status == "cancelled"


@pytest.fixture
def limits_module():
    import sys
    import types

    module = types.ModuleType("tests.docs_flows_limits")
    sys.modules[module.__name__] = module
    exec(block("Per-key limits"), module.__dict__)  # noqa: S102 - our own documentation
    yield module
    del sys.modules[module.__name__]


@pytest.mark.django_db
def test_the_per_key_limits_example_runs_one_at_a_time_per_customer(limits_module):
    from durable import claim

    for customer in (1, 1, 2):
        limits_module.sync_customer.enqueue(customer, full=True)

    rows = claim.claim(10)
    claim.LEASES.release(rows)  # nothing left held by this process
    assert sorted(r.group for r in rows) == ["customer:1", "customer:2"]


@pytest.fixture
def flows_module():
    """The chain and batch examples as one importable module (consumers import tasks by dotted path)."""
    import sys
    import types

    module = types.ModuleType("tests.docs_flows_example")
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]


@pytest.mark.django_db
def test_the_chain_and_batch_examples_run(flows_module, run_tasks):
    import durable

    exec(block("Chains"), flows_module.__dict__)  # noqa: S102 - our own documentation
    exec(block("Batches"), flows_module.__dict__)  # noqa: S102
    run_tasks()

    flow = durable.get_flow(flows_module.flow.id)
    assert flow.status == TaskResultStatus.SUCCESSFUL and flow.return_value == "sent report-EUR.xlsx to ada@example.com"
    b = flows_module.b
    assert durable.get_batch(b.id).status == TaskResultStatus.SUCCESSFUL
    ready = Task.objects.get(name="tests.docs_flows_example.album_ready")
    assert ready.return_value == f"album 7 ready (batch {b.id})"
    assert not Task.objects.filter(name="tests.docs_flows_example.album_failed").exists()


@pytest.mark.django_db
def test_the_ordered_and_rate_key_example_keys_per_endpoint_and_rates_per_host():
    from durable.options import options_of

    namespace = {"__name__": "tests.docs_flows_ordered"}
    exec(block("Per-key limits", 1), namespace)  # noqa: S102 - our own documentation
    deliver = namespace["deliver"]

    opts = options_of(deliver)
    assert (opts.concurrency, opts.ordered, opts.rate) == (1, True, "10/s")
    assert opts.rate_scope("webhook:example.org/7") == "webhook:example.org/"
    deliver.enqueue(1, "webhook:example.org/7")
    assert Task.objects.get().group == "webhook:example.org/7"
