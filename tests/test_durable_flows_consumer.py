"""Chains and batches on real consumers: kill -9 mid-chain and mid-batch, two consumers racing for a batch's end."""

import pytest

import durable
from durable import batch, call, chain
from durable.compat import TaskResultStatus
from durable.models import Task
from testing.plugin import wait_until
from tests import durable_tasks

pytestmark = [pytest.mark.consumer, pytest.mark.django_db(transaction=True)]


def lines(path):
    return path.read_text().splitlines() if path.exists() else []


def count(path, text):
    return sum(1 for line in lines(path) if line.startswith(text))


def test_kill_9_mid_chain_loses_no_step_and_repeats_only_the_one_cut_off(queue_url, start_consumer, tmp_path):
    path = str(tmp_path / "marks")
    flow = chain(*(call(durable_tasks.step, *([None] if i == 1 else []), path, 1, str(i)) for i in (1, 2, 3))).enqueue()
    consumer = start_consumer(DURABLE_LEASE_SECONDS=300)
    wait_until(lambda: count(tmp_path / "marks", "start 2"), message="step 2 to start")

    consumer.kill()
    start_consumer()
    wait_until(lambda: durable.get_flow(flow.id).status == TaskResultStatus.SUCCESSFUL, timeout=60, message="chain")

    marks = tmp_path / "marks"
    assert [count(marks, f"end {i}") for i in (1, 2, 3)] == [1, 1, 1]  # each step's work done once
    assert [count(marks, f"start {i}") for i in (1, 2, 3)] == [1, 2, 1]  # step 2 cut off, run again
    assert durable.get_flow(flow.id).return_value == "123"


def test_kill_9_mid_batch_calls_back_once(queue_url, start_consumer, tmp_path):
    path = str(tmp_path / "marks")
    with batch(
        on_success=call(durable_tasks.note, path, "success"), on_finish=call(durable_tasks.note, path, "finish")
    ) as b:
        for i in range(6):
            durable_tasks.step.enqueue(None, path, 0.5, f"m{i}")
    consumer = start_consumer(HUEY_WORKERS=3, DURABLE_LEASE_SECONDS=300)
    wait_until(lambda: count(tmp_path / "marks", "end") >= 2, message="some members to end")

    consumer.kill()
    start_consumer(HUEY_WORKERS=3)
    wait_until(lambda: count(tmp_path / "marks", "finish") == 1, timeout=60, message="the on_finish callback")
    wait_until(lambda: not Task.objects.exclude(status="successful").exists(), message="every task to succeed")

    assert sorted(line for line in lines(tmp_path / "marks") if not line.startswith(("start", "end"))) == [
        f"finish {b.id}",
        f"success {b.id}",
    ]
    assert all(count(tmp_path / "marks", f"end m{i} ") >= 1 for i in range(6))
    assert durable.get_batch(b.id).status == TaskResultStatus.SUCCESSFUL


def test_two_consumers_ending_a_batchs_last_members_at_once_call_back_once(queue_url, start_consumer, tmp_path):
    path = str(tmp_path / "marks")
    ids = []
    for _ in range(5):
        with batch(on_finish=call(durable_tasks.note, path, "finish")) as b:
            durable.enqueue_many([call(durable_tasks.noop) for _ in range(20)])
        ids.append(b.id)
    start_consumer(HUEY_WORKERS=4)
    start_consumer(HUEY_WORKERS=4)

    wait_until(lambda: all(durable.get_batch(i).status == TaskResultStatus.SUCCESSFUL for i in ids), timeout=60)
    wait_until(lambda: count(tmp_path / "marks", "finish") >= 5, message="the callbacks")
    wait_until(lambda: not Task.objects.exclude(status="successful").exists(), message="every task to end")

    assert sorted(lines(tmp_path / "marks")) == sorted(f"finish {i}" for i in ids)
