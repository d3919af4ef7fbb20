"""System checks of the durable backend (asked through the standard tasks check)."""

from durable.compat import task_backends


def ids(settings):
    return [m.id for m in task_backends["default"].check()]


def test_it_is_clean_at_the_defaults(settings):
    assert ids(settings) == []


def test_a_lease_too_short_to_renew_is_e001(settings):
    settings.DURABLE_LEASE_SECONDS = 2
    assert ids(settings) == ["durable.E001"]


def test_no_batch_or_no_attempts_is_e002(settings):
    settings.DURABLE_BATCH_SIZE = 0
    assert ids(settings) == ["durable.E002"]


def test_a_group_without_room_is_e003(settings):
    settings.DURABLE_GROUP_LIMITS = {"images": 0}
    assert ids(settings) == ["durable.E003"]


def test_no_worker_kept_free_for_e_mail_is_w001(settings):
    settings.DURABLE_RESERVED_WORKERS = 0
    assert ids(settings) == ["durable.W001"]


def test_a_one_worker_consumer_is_w001(settings):
    settings.HUEY = {**settings.HUEY, "consumer": {**settings.HUEY["consumer"], "workers": 1}}
    assert ids(settings) == ["durable.W001"]


def test_process_workers_are_w002(settings):
    settings.HUEY = {**settings.HUEY, "consumer": {**settings.HUEY["consumer"], "worker_type": "process"}}
    assert ids(settings) == ["durable.W002"]
