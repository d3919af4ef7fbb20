"""The durable backend in this process: enqueue in the caller's transaction, validation, results, outcomes."""

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from durable import batching, claim
from durable.backend import DurableBackend
from durable.compat import InvalidTask, TaskResultDoesNotExist, TaskResultStatus, task_backends
from durable.leases import worker_id
from durable.models import Task, TaskAttempt
from tests import durable_tasks


def test_it_is_the_default_tasks_backend():
    assert isinstance(task_backends["default"], DurableBackend)


@pytest.mark.django_db
def test_it_writes_a_queued_row_and_runs_it():
    result = durable_tasks.add.enqueue(2, 3)

    assert result.status == TaskResultStatus.READY and result.args == [2, 3]
    row = Task.objects.get(pk=result.id)
    assert row.name == "tests.durable_tasks.add" and row.status == "queued"

    assert claim.run_due() == 1

    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == 5
    assert result.attempts == 1 and result.worker_ids == [worker_id()]
    assert result.enqueued_at <= result.started_at <= result.last_attempted_at <= result.finished_at
    assert result.errors == []
    [attempt] = TaskAttempt.objects.filter(task_id=row.pk)
    assert attempt.outcome == "successful" and attempt.number == 1


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_enqueue_leaves_no_task():
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        durable_tasks.add.enqueue(1, 1)
        1 / 0  # noqa: B018 - the request fails after enqueueing

    assert not Task.objects.exists()
    assert claim.run_due() == 0


@pytest.mark.django_db
def test_arguments_that_are_not_json_are_refused_and_nothing_is_written():
    with pytest.raises(InvalidTask, match="JSON-serialisable"):
        durable_tasks.add.enqueue(object(), 1)
    with pytest.raises(InvalidTask, match="JSON-serialisable"):
        durable_tasks.add.enqueue(float("nan"), 1)

    assert not Task.objects.exists()


@pytest.mark.django_db
def test_arguments_that_do_not_fit_the_signature_are_refused_at_enqueue_and_nothing_is_written():
    with pytest.raises(InvalidTask, match=r"tests\.durable_tasks\.add\(a, b\): missing a required argument: 'b'"):
        durable_tasks.add.enqueue(1)
    with pytest.raises(InvalidTask, match="too many positional arguments"):
        durable_tasks.add.enqueue(1, 2, 3)
    with pytest.raises(InvalidTask, match="unexpected keyword argument 'c'"):
        durable_tasks.add.enqueue(1, b=2, c=3)
    with pytest.raises(InvalidTask, match="missing a required argument: 'fail_times'"):
        durable_tasks.flaky.enqueue("path")  # the context is not the caller's to pass

    assert not Task.objects.exists()
    assert durable_tasks.add.enqueue(1, b=2).kwargs == {"b": 2}
    assert durable_tasks.flaky.enqueue("path", fail_times=0).kwargs == {"fail_times": 0}


def test_one_name_catches_the_refusal_on_every_django_version():
    import durable

    try:
        from django.tasks.exceptions import InvalidTask as standard  # Django 6
    except ImportError:
        from django_tasks.exceptions import InvalidTaskError as standard  # Django 5.2 and the backport

    assert durable.InvalidTask is standard


@pytest.mark.django_db
def test_an_unknown_queue_or_a_priority_out_of_range_is_refused():
    with pytest.raises(InvalidTask, match="Queue 'nope' is not valid"):
        durable_tasks.add.using(queue_name="nope").enqueue(1, 1)
    with pytest.raises(InvalidTask, match="priority must be a whole number between -100 and 100"):
        durable_tasks.add.using(priority=101).enqueue(1, 1)

    assert not Task.objects.exists()


@pytest.mark.django_db
def test_an_unknown_id_is_task_result_does_not_exist():
    with pytest.raises(TaskResultDoesNotExist):
        durable_tasks.add.get_result("12345")
    with pytest.raises(TaskResultDoesNotExist):
        durable_tasks.add.get_result("not-a-number")


@pytest.mark.django_db
def test_retries_then_success_with_the_attempt_number_in_the_context(tmp_path):
    marks = tmp_path / "marks"
    result = durable_tasks.flaky.enqueue(str(marks), 2)

    for _ in range(3):
        Task.objects.filter(pk=result.id).update(due_at=timezone.now())  # skip the back-off
        claim.run_due()

    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == 3
    assert marks.read_text().split("\n")[:3] == ["attempt 1", "attempt 2", "attempt 3"]
    assert [e.exception_class for e in result.errors] == [RuntimeError, RuntimeError]
    assert "failing on purpose, attempt 1" in result.errors[0].traceback
    assert list(TaskAttempt.objects.filter(task_id=result.id).values_list("outcome", flat=True)) == [
        "retry",
        "retry",
        "successful",
    ]


@pytest.mark.django_db
def test_it_fails_after_max_attempts_with_the_error_recorded(tmp_path):
    result = durable_tasks.flaky.enqueue(str(tmp_path / "marks"), 5)

    for _ in range(4):
        Task.objects.filter(pk=result.id).update(due_at=timezone.now())
        claim.run_due()

    result.refresh()
    assert result.status == TaskResultStatus.FAILED and len(result.errors) == 3
    row = Task.objects.get(pk=result.id)
    assert row.attempts == 3 and row.last_error == "RuntimeError: failing on purpose, attempt 3"
    assert (tmp_path / "marks").read_text().count("attempt") == 3


# Transactional, as a consumer runs: the monitor that enforces the limit writes on its own connection, and an open
# test transaction held SQLite's write lock against it (the limit of 1 s fired after the 20 s busy timeout, once).
@pytest.mark.django_db(transaction=True)
def test_a_time_limit_really_stops_the_work(tmp_path):
    marks = tmp_path / "marks"
    result = durable_tasks.too_long.enqueue(str(marks))

    claim.run_due()

    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    row = Task.objects.get(pk=result.id)
    assert row.last_error == "TimeLimitExceeded: time limit of 1 s exceeded"
    assert result.errors[0].exception_class_path == "durable.exceptions.TimeLimitExceeded"
    assert 1.0 <= (row.finished_at - row.last_attempted_at).total_seconds() < 3


@pytest.mark.django_db
def test_a_task_whose_code_is_gone_fails_at_once_without_retry():
    result = durable_tasks.add.enqueue(1, 2)
    Task.objects.filter(pk=result.id).update(name="tests.durable_tasks.renamed_away")

    claim.run_due()

    row = Task.objects.get(pk=result.id)
    assert row.status == "failed" and row.attempts == 1
    assert "task tests.durable_tasks.renamed_away no longer exists in the code" in row.last_error
    assert task_backends["default"].get_result(result.id).status == TaskResultStatus.FAILED


@pytest.mark.django_db
def test_a_stale_holders_late_finish_is_fenced(caplog):
    durable_tasks.add.enqueue(1, 2)
    [stale] = claim.LEASES.claim()
    Task.objects.filter(pk=stale.pk).update(lease_expires_at=timezone.now())  # its consumer hung past the lease
    assert [r.pk for r in claim.LEASES.sweep()] == [stale.pk]
    [fresh] = claim.LEASES.claim()
    assert fresh.lease_token != stale.lease_token

    assert claim.LEASES.finish(stale, status="successful", return_value=99) is False
    assert claim.LEASES.finish(fresh, status="successful", return_value=3) is True

    row = Task.objects.get(pk=stale.pk)
    assert row.status == "successful" and row.return_value == 3
    assert "lease" in caplog.text and "lost" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_concurrent_enqueues_with_one_unique_key_fold_into_one():
    ids, errors = [], []

    def enqueue():
        try:
            ids.append(durable_tasks.unique.enqueue("same").id)
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=enqueue) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == [] and len(set(ids)) == 1
    assert Task.objects.filter(unique_key="unique:same").count() == 1
    claim.run_due()
    assert durable_tasks.unique.enqueue("same").id != ids[0]  # once finished, the key is free again


@pytest.mark.django_db
def test_a_concurrency_group_runs_at_most_its_cap_at_once(settings):
    settings.DURABLE_GROUP_LIMITS = {"slow": 2}
    grouped = [durable_tasks.grouped.enqueue(i).id for i in range(4)]
    plain = durable_tasks.add.enqueue(1, 1).id

    first = claim.claim(10)
    second = claim.claim(10)

    assert sorted(str(r.pk) for r in first) == sorted([*grouped[:2], plain])
    assert second == []  # the group is full; its other rows wait
    assert Task.objects.filter(pk__in=grouped, status="queued").count() == 2
    claim.LEASES.release(first)


@pytest.mark.django_db(transaction=True)
def test_a_database_failure_while_recording_gives_the_rows_back_at_once(monkeypatch):
    from django.db import OperationalError

    from durable import sql

    ids = [durable_tasks.add.enqueue(i, i).id for i in range(3)]
    batching.ran("tests.durable_tasks.add", 0.0)  # a short task: claimed as a batch of 3
    held_before = claim.LEASES.held_tokens()
    real_update, real_update_many = sql.update, sql.update_many

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    # Fault injection: the outcome's write fails as it does when another writer holds SQLite past the timeout.
    monkeypatch.setattr(sql, "update", locked)
    monkeypatch.setattr(sql, "update_many", locked)  # a batch's successes are written together
    assert claim.run_due() == 0
    monkeypatch.setattr(sql, "update", real_update)
    monkeypatch.setattr(sql, "update_many", real_update_many)

    rows = Task.objects.filter(pk__in=ids)
    assert {(r.status, r.attempts, r.lease_token) for r in rows} == {("queued", 0, "")}  # no lease to wait for
    assert claim.LEASES.held_tokens() == held_before  # nothing left to renew
    assert claim.run_due() == 3
    assert set(Task.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"successful"}


@pytest.mark.django_db
def test_an_error_with_retry_after_sets_the_wait_instead_of_the_backoff():
    result = durable_tasks.asks_to_wait.enqueue()
    before = timezone.now()

    assert claim.run_due() == 1

    row = Task.objects.get(pk=result.id)
    assert row.status == "queued" and row.last_error == "_SlowDown: come back in 42 s"
    assert 41 <= (row.due_at - before).total_seconds() <= 43  # not backoff(1) = 1 s
    # A consumer is woken when the retry is due, not only by the sweeper (the queue may hold other wake-ups).
    due = [(t.eta - before.replace(tzinfo=None)).total_seconds() for t in HUEY.pending() if t.eta]
    assert any(41 <= d <= 43 for d in due), due
