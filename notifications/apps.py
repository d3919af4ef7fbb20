from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "E-mail outbox"

    def ready(self):
        from notifications import checks, metrics  # noqa: F401 - register the system checks and metrics
