from django.apps import AppConfig


class DurableConfig(AppConfig):
    """The lowest layer: it imports no app of the site. What operations shows of it (page panel, /health/
    probe, cleanup, /metrics) lives in durable/dashboard.py, health.py, retention.py and metrics.py, and
    operations registers those itself (``operations.apps``)."""

    name = "durable"
    verbose_name = "Durable tasks"

    def ready(self):
        # In every process, not only consumers: task rows on the lifeline, chains' and batches' hand-over.
        from durable import flows, tasks  # noqa: F401
