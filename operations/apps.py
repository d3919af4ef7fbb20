import logging

from django.apps import AppConfig, apps
from django.conf import settings


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations"

    def ready(self):
        from operations import checks  # noqa: F401  (registers the system checks)

        self.register_durable_tasks()

        if settings.LOG_FORMAT == "json":
            logging.captureWarnings(True)  # a Python warning is one JSON line too, not raw text on stderr

    @staticmethod
    def register_durable_tasks():
        """Durable tasks are the layer below operations: operations registers what it shows of them."""
        from operations import registry

        if not apps.is_installed("durable"):
            return
        from durable import dashboard, flow_results, health, metrics, pause, retention

        registry.dashboard_panel("durable", order=15, template="durable/ops_panel.html")(dashboard.durable)
        registry.dashboard_panel("durable_queues", order=16, template="durable/ops_queues.html")(pause.panel)
        registry.dashboard_panel("durable_flows", order=17, template="durable/ops_flows.html")(flow_results.panel)
        registry.health_probe("tasks")(health.tasks)
        registry.metrics_source(metrics.tasks)
        registry.cleanup_source("durable")(retention.prunable)
