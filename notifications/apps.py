from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "E-mail outbox"

    def ready(self):
        # Each registers itself: system checks, metrics, and what operations asks of the outbox.
        from notifications import (  # noqa: F401
            checks,
            dashboard,
            health,
            metrics,
            retention,
            tasks,  # noqa: F401 - puts the outbox on the durable lifeline, in every process
        )
