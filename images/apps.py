from django.apps import AppConfig


class ImagesConfig(AppConfig):
    name = "images"

    def ready(self):
        from django.conf import settings
        from PIL import Image

        # Pillow's decompression-bomb guard, set on purpose: it warns past this many pixels and refuses past twice
        # as many. Our own check (images.decoding) refuses an image over IMAGES_MAX_PIXELS before it is decoded.
        Image.MAX_IMAGE_PIXELS = settings.IMAGES_MAX_PIXELS

        from images import checks, retention  # noqa: F401 - they register themselves
