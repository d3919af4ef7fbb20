from django.apps import AppConfig


class ReportAppConfig(AppConfig):
    name = "tests.report_app"
    label = "test_report_app"

    def ready(self):
        from reports import registry
        from tests.report_app.types import Paced

        registry.register(Paced)
