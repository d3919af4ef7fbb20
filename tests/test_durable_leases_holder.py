"""``durable.leases``: the sweep as of a time."""

from datetime import timedelta

import pytest
from django.utils import timezone

from durable.leases import Leases
from durable.models import Task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def leases():
    return Leases(Task, Task.STATES, seconds=60, max_attempts=3)


def test_the_sweep_takes_only_leases_expired_by_the_time_given(leases):
    Task.objects.create(name="tests.durable_tasks.noop")
    leases.claim()

    assert leases.sweep() == []
    assert leases.sweep(timezone.now() + timedelta(seconds=30)) == []
    assert len(leases.sweep(timezone.now() + timedelta(seconds=61))) == 1
    assert Task.objects.get().status == "queued"
