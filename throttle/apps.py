from django.apps import AppConfig


class ThrottleConfig(AppConfig):
    name = "throttle"

    def ready(self):
        from throttle import checks  # noqa: F401 - registers the system checks
