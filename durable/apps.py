from django.apps import AppConfig


class DurableConfig(AppConfig):
    name = "durable"
    verbose_name = "Durable tasks"

    def ready(self):
        # What operations asks of durable tasks (page panel, /health/ probe, cleanup, /metrics), and periodic tasks.
        from durable import dashboard, health, metrics, retention  # noqa: F401
