from django.apps import AppConfig


class ImagesConfig(AppConfig):
    name = "images"

    def ready(self):
        from images import checks, retention  # noqa: F401 - they register themselves
