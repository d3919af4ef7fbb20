from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self):
        from reports import checks, registry  # noqa: F401 - checks register themselves

        registry.autodiscover()
