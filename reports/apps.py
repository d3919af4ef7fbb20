from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self):
        from reports import checks, metrics, registry  # noqa: F401 - checks and metrics register themselves

        registry.autodiscover()
