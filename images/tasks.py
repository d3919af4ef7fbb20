"""The picture task: thin, on Django's standard Tasks API with durable options (``images.processing`` does the work)."""

from django.conf import settings

from durable import options
from durable.compat import task  # django.tasks on Django 6, the backport before
from images import processing


# group="cpu": at most DURABLE_GROUP_LIMITS["cpu"] (default 1) such tasks run at once across all consumers,
# so the other workers stay free for e-mail.
@options(max_attempts=3, time_limit=settings.IMAGES_TIME_LIMIT_SECONDS, group="cpu")
@task()
def make_sizes(picture_id):
    """Make and publish the sizes of picture ``picture_id`` (a picture already done is left alone)."""
    return processing.process(picture_id)
