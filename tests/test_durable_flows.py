"""Chains and batches (durable.flows), in the test's process: results, failures, transactions, bad input."""

import pytest
from django.db import transaction

import durable
from durable import batch, call, chain
from durable.compat import InvalidTask, TaskResultStatus
from durable.models import Flow, Task
from tests import durable_tasks


def lines(path):
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.django_db
def test_a_chain_passes_each_return_value_to_the_next_step(run_tasks):
    flow = chain(call(durable_tasks.add, 1, 2), call(durable_tasks.add, 10), call(durable_tasks.add, b=100)).enqueue()

    assert flow.status == TaskResultStatus.READY
    assert [r.status for r in flow.results] == [TaskResultStatus.READY] * 3
    assert list(Task.objects.order_by("id").values_list("status", flat=True)) == ["queued", "waiting", "waiting"]

    run_tasks()

    flow = durable.get_flow(flow.id)
    assert flow.status == TaskResultStatus.SUCCESSFUL and flow.return_value == 113
    assert [r.return_value for r in flow.results] == [3, 13, 113]
    assert [r.args for r in flow.results] == [[1, 2], [3, 10], [13]]


@pytest.mark.django_db
def test_a_step_that_fails_for_good_cancels_the_rest_and_fails_the_chain(run_tasks):
    flow = chain(call(durable_tasks.add, 1, 2), call(durable_tasks.boom), call(durable_tasks.add, 1)).enqueue()

    run_tasks()

    flow = durable.get_flow(flow.id)
    assert flow.status == TaskResultStatus.FAILED and flow.return_value is None
    assert list(Task.objects.order_by("id").values_list("status", flat=True)) == ["successful", "failed", "cancelled"]
    assert flow.counts == {"successful": 1, "failed": 1, "cancelled": 1}


@pytest.mark.django_db
def test_a_rolled_back_transaction_leaves_no_chain_and_no_batch():
    with pytest.raises(RuntimeError), transaction.atomic():
        chain(call(durable_tasks.add, 1, 2), call(durable_tasks.add, 3)).enqueue()
        with batch(on_finish=call(durable_tasks.noop)):
            durable_tasks.noop.enqueue()
        raise RuntimeError("the request failed")

    assert not Task.objects.exists() and not Flow.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "members, says",
    [
        (lambda: [call(durable_tasks.add, 1, 2), durable_tasks.add], "chain takes call"),
        (lambda: [call(durable_tasks.add, 1, 2), "tests.durable_tasks.add"], "chain takes call"),
        (lambda: [call(durable_tasks.add, 1, 2), call(durable_tasks.add, object())], "JSON"),
        (lambda: [call(durable_tasks.unique, "a"), call(durable_tasks.add, 2)], "cannot have a unique_key"),
        (lambda: [], "at least one"),
    ],
)
def test_a_bad_chain_is_refused_at_enqueue_with_nothing_written(members, says):
    with pytest.raises(InvalidTask, match=says):
        chain(*members()).enqueue()
    assert not Task.objects.exists() and not Flow.objects.exists()


@pytest.mark.django_db
def test_a_batch_calls_back_once_on_success_and_on_finish_with_its_id(run_tasks, tmp_path):
    path = str(tmp_path / "calls")
    with batch(
        on_success=call(durable_tasks.note, path, "success"),
        on_failure=call(durable_tasks.note, path, "failure"),
        on_finish=call(durable_tasks.note, path, "finish"),
    ) as b:
        for i in range(3):
            durable_tasks.add.enqueue(i, 1)
        chain(call(durable_tasks.add, 1, 1), call(durable_tasks.add, 2)).enqueue()  # a chain is one member
        durable.enqueue_many([call(durable_tasks.noop) for _ in range(2)])

    assert durable.get_batch(b.id).status == TaskResultStatus.READY
    run_tasks()

    assert sorted(lines(tmp_path / "calls")) == [f"finish {b.id}", f"success {b.id}"]
    result = durable.get_batch(b.id)
    assert result.status == TaskResultStatus.SUCCESSFUL and result.counts == {"successful": 7}
    assert len(result.results) == 7


@pytest.mark.django_db
def test_a_batch_with_a_member_failed_for_good_calls_on_failure(run_tasks, tmp_path):
    path = str(tmp_path / "calls")
    with batch(
        on_success=call(durable_tasks.note, path, "success"), on_failure=call(durable_tasks.note, path, "failure")
    ) as b:
        durable_tasks.add.enqueue(1, 2)
        durable_tasks.boom.enqueue()

    run_tasks()

    assert lines(tmp_path / "calls") == [f"failure {b.id}"]
    assert durable.get_batch(b.id).status == TaskResultStatus.FAILED


@pytest.mark.django_db
def test_an_empty_batch_calls_back_when_its_block_ends(run_tasks, tmp_path):
    with batch(on_success=call(durable_tasks.note, str(tmp_path / "calls"), "success")) as b:
        pass

    assert durable.get_batch(b.id).status == TaskResultStatus.SUCCESSFUL
    run_tasks()
    assert lines(tmp_path / "calls") == [f"success {b.id}"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "callbacks, says",
    [
        ({"on_success": durable_tasks.noop}, "on_success must be call"),
        ({"on_failure": "tests.durable_tasks.noop"}, "on_failure must be call"),
        ({"on_finish": lambda: None}, "on_finish must be call"),
        ({"on_finish": call(durable_tasks.note, object(), "x")}, "JSON"),
        ({"on_finish": call(durable_tasks.note, "p", "x", batch_id=1)}, "batch_id is added by the batch"),
    ],
)
def test_bad_callbacks_are_refused_with_nothing_written(callbacks, says):
    with pytest.raises(InvalidTask, match=says):
        with batch(**callbacks):
            durable_tasks.noop.enqueue()
    assert not Task.objects.exists() and not Flow.objects.exists()


@pytest.mark.django_db
def test_batches_do_not_nest():
    with pytest.raises(InvalidTask, match="do not nest"), batch():
        with batch():
            pass
    assert not Flow.objects.exists()


@pytest.mark.django_db
def test_a_queued_step_cancelled_fails_its_chain_at_once(run_tasks):
    flow = chain(call(durable_tasks.add, 1, 2), call(durable_tasks.add, 3)).enqueue()
    durable.cancel(flow.results[0].id)

    assert durable.get_flow(flow.id).status == TaskResultStatus.FAILED  # not at the next sweep
    assert list(Task.objects.order_by("id").values_list("status", flat=True)) == ["cancelled", "cancelled"]


@pytest.mark.django_db
def test_a_batch_whose_queued_members_are_all_cancelled_calls_back_once_at_once(run_tasks, tmp_path):
    from durable.bulk import cancel_matching

    with batch(on_failure=call(durable_tasks.note, str(tmp_path / "notes"), "failed")) as b:
        for i in range(3):
            durable_tasks.add.enqueue(i, i)
    cancel_matching(Task.objects.filter(flow_id=b.id))

    assert durable.get_batch(b.id).status == TaskResultStatus.FAILED
    callbacks = Task.objects.filter(flow=None, name="tests.durable_tasks.note")
    assert callbacks.count() == 1 and callbacks.get().kwargs == {"batch_id": str(b.id)}
    run_tasks()
    assert (tmp_path / "notes").read_text().split() == ["failed", str(b.id)]


@pytest.mark.django_db
def test_the_admin_and_the_operations_page_show_a_flow_with_its_members_and_progress(admin_client, run_tasks):
    flow = chain(call(durable_tasks.add, 1, 2), call(durable_tasks.add, 3)).enqueue()
    with batch() as b:
        durable_tasks.noop.enqueue()

    page = admin_client.get(f"/admin/durable/flow/{flow.id}/change/").content.decode()
    assert "0 / 2 tasks ended" in page and page.count("tests.durable_tasks.add") >= 2
    ops = admin_client.get("/operations/").content.decode()
    assert f'<tr id="flow-{flow.id}">' in ops and f'<tr id="flow-{b.id}">' in ops

    run_tasks()
    assert "2 / 2 tasks ended" in admin_client.get(f"/admin/durable/flow/{flow.id}/change/").content.decode()
    assert "1 / 1 tasks ended" in admin_client.get("/admin/durable/flow/").content.decode()


@pytest.mark.django_db
def test_the_daily_cleanup_deletes_flows_ended_past_the_retention(run_tasks, settings):
    from datetime import timedelta

    from django.utils import timezone

    from durable import retention

    old = chain(call(durable_tasks.add, 1, 2)).enqueue()
    running = chain(call(durable_tasks.add, 1, 2), call(durable_tasks.add, 3)).enqueue()
    Flow.objects.filter(pk=old.id).update(status="successful", finished_at=timezone.now() - timedelta(days=30))

    sources = retention.prunable(timezone.now())
    assert sources["finished chains and batches"].count() == 1
    sources["finished chains and batches"].delete()
    assert list(Flow.objects.values_list("pk", flat=True)) == [int(running.id)]


@pytest.mark.django_db
def test_a_batch_of_short_tasks_recorded_together_calls_back_once(run_tasks, tmp_path, monkeypatch):
    from durable import batching

    short = {f"tests.durable_tasks.{name}": 0.0 for name in ("add", "noop", "note")}
    monkeypatch.setattr(batching, "_took", short)  # seen to be short: claimed many at once, recorded together
    path = str(tmp_path / "calls")
    with batch(
        on_success=call(durable_tasks.note, path, "success"), on_finish=call(durable_tasks.note, path, "finish")
    ) as b:
        durable.enqueue_many([call(durable_tasks.add, i, 1) for i in range(30)])
        chain(call(durable_tasks.add, 1, 1), call(durable_tasks.add, 2)).enqueue()

    run_tasks()

    assert sorted(lines(tmp_path / "calls")) == [f"finish {b.id}", f"success {b.id}"]
    result = durable.get_batch(b.id)
    assert result.status == TaskResultStatus.SUCCESSFUL and result.counts == {"successful": 32}
    assert (
        Task.objects.filter(name__endswith="add").count()
        == Task.objects.filter(attempt_log__outcome="successful", name__endswith="add").count()
    )
