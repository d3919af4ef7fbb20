from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self):
        # Checks and the cleanup sources register themselves.
        from reports import checks, dashboard, registry, retention  # noqa: F401

        registry.autodiscover()
