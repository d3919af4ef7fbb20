from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self):
        from webhooks import checks, dashboard, events  # noqa: F401 - connect the signal, register checks and panel
