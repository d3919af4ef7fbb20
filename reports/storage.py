"""Where report files live: a private directory with no URL of its own."""

from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage


class PrivateReportStorage(FileSystemStorage):
    """``REPORTS_ROOT`` on disk, read at each use (tests move it); files are served only by the download view."""

    def __init__(self):
        super().__init__()

    @property
    def base_location(self):
        return settings.REPORTS_ROOT

    @property
    def location(self):
        return str(Path(settings.REPORTS_ROOT).resolve())

    def url(self, name):
        raise ValueError("report files have no public URL; link to reports:download instead")

    def deconstruct(self):
        return ("reports.storage.PrivateReportStorage", (), {})


private_storage = PrivateReportStorage()


def temp_dir():
    """Files being written live here until they are complete and moved into place."""
    path = Path(settings.REPORTS_ROOT) / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path
