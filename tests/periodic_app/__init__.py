"""A test-only app declaring periodic tasks; installed only in the consumers of ``tests/test_durable_periodic.py``."""

# How often its consumers' schedulers ask for the periodic tasks due (``tests.settings_periodic``), in seconds.
PERIODIC_CHECK_SECONDS = 5  # divides 60, as Huey's checks assume
