from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self):
        # Checks, metrics and the cleanup sources register themselves.
        from reports import checks, dashboard, metrics, registry, retention  # noqa: F401

        registry.autodiscover()
