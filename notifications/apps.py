from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "E-mail outbox"

    def ready(self):
        from notifications import checks  # noqa: F401 - registers the system checks
