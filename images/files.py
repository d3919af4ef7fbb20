"""Where pictures live on disk: one private folder per upload, under MEDIA_ROOT/private/images/, with no URL.

``<pk>/original`` is the upload as received; ``<pk>/<size>.<ext>`` the published sizes, served only by
``images.views.derived``. Files are 0640 and folders 0750 (the site's user and its group, no one else).
"""

import contextlib
import logging
import os
import shutil
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)
FILE_MODE = 0o640
DIR_MODE = 0o750


def root():
    """The private images folder (read at each use: tests move MEDIA_ROOT)."""
    return Path(settings.MEDIA_ROOT) / "private" / "images"


def folder(pk):
    """The folder of picture ``pk``."""
    return root() / str(pk)


def original(pk):
    return folder(pk) / "original"


def derived(pk, size, ext):
    return folder(pk) / f"{size}.{ext}"


@contextlib.contextmanager
def private_file(path):
    """Write ``path`` (mode 0640) through a temporary name, moved into place only once complete."""
    path = Path(path)
    path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.chmod(tmp, FILE_MODE)  # whatever the umask
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def store_original(pk, upload):
    """Copy an uploaded file (Django's ``UploadedFile``) to the picture's private folder, chunk by chunk."""
    with private_file(original(pk)) as f:
        for chunk in upload.chunks():
            f.write(chunk)


def remove(pk):
    """Delete picture ``pk``'s folder (original and sizes); True if there was one."""
    path = folder(pk)
    if not path.exists():
        return False
    shutil.rmtree(path)
    return True
