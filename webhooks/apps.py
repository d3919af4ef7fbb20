from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self):
        from webhooks import checks, dashboard, events, retention  # noqa: F401 - the signal, checks, panel, cleanup
