"""A test-only app declaring periodic tasks; installed only in the consumers of ``tests/test_durable_periodic.py``."""
