"""The upload size limit, enforced while the request is read, never after it was read whole."""

from django.core.files.uploadhandler import FileUploadHandler, SkipFile

# Room for the multipart envelope (boundaries, headers, the CSRF field) around the file itself.
ENVELOPE_BYTES = 64 * 1024


def declared_too_big(request, limit):
    """True when the request's Content-Length alone is over ``limit``: refuse it before reading any of the body."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > limit + ENVELOPE_BYTES
    except ValueError:
        return True


class LimitedUploadHandler(FileUploadHandler):
    """First of the upload handlers: counts a file's bytes as they arrive and drops the file past ``limit``.

    Dropping (``SkipFile``) rather than resetting the connection lets the browser see our answer; the rest of
    the body is at most the envelope (``declared_too_big`` refused anything larger before it was read).
    """

    def __init__(self, limit, request=None):
        super().__init__(request)
        self.limit = limit
        self.exceeded = False

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            self.exceeded = True
            raise SkipFile
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler (memory or temporary file) hands over the file
