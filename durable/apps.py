from django.apps import AppConfig, apps


class DurableConfig(AppConfig):
    name = "durable"
    verbose_name = "Durable tasks"

    def ready(self):
        # What operations asks of durable tasks (page panel, /health/ probe, cleanup, /metrics), when it is
        # installed: the mechanism runs without it (the Django 6 check installs durable alone).
        if apps.is_installed("operations"):
            from durable import dashboard, health, metrics, retention  # noqa: F401
