"""``durable.leases`` for a holder that renews as it goes (reports): renew one row fenced, sweep as of a time."""

from datetime import timedelta

import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from durable.leases import Leases
from durable.models import Task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def leases():
    return Leases(Task, Task.STATES, seconds=60, max_attempts=3)


@pytest.fixture
def other_connection():
    """A second connection to the test database, as a holder whose own connection is busy reading opens one."""
    default = connections[DEFAULT_DB_ALIAS]
    connections["holder-side"] = type(default)(dict(default.settings_dict), "holder-side")
    yield "holder-side"
    connections["holder-side"].close()
    del connections["holder-side"]


def test_it_renews_one_held_row_with_its_values_over_another_connection(leases, other_connection):
    Task.objects.create(name="tests.durable_tasks.noop")
    [row] = leases.claim()
    Task.objects.filter(pk=row.pk).update(lease_expires_at=timezone.now())

    assert leases.renew_held(row, using=other_connection, last_error="half-way") is True

    stored = Task.objects.get(pk=row.pk)
    assert stored.last_error == "half-way" and stored.lease_expires_at > timezone.now() + timedelta(seconds=50)


def test_a_renewal_after_the_row_was_taken_back_changes_nothing(leases):
    Task.objects.create(name="tests.durable_tasks.noop")
    [stale] = leases.claim()
    assert [r.pk for r in leases.sweep(timezone.now() + timedelta(seconds=61))] == [stale.pk]
    [fresh] = leases.claim()

    assert leases.renew_held(stale, last_error="stale") is False
    assert leases.renew_held(fresh, last_error="fresh") is True
    assert Task.objects.get(pk=fresh.pk).last_error == "fresh"


def test_the_sweep_takes_only_leases_expired_by_the_time_given(leases):
    Task.objects.create(name="tests.durable_tasks.noop")
    leases.claim()

    assert leases.sweep() == []
    assert leases.sweep(timezone.now() + timedelta(seconds=30)) == []
    assert len(leases.sweep(timezone.now() + timedelta(seconds=61))) == 1
    assert Task.objects.get().status == "queued"
