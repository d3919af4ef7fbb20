"""Reading an uploaded picture and making its published sizes: Pillow only, no models.

Two steps, so the request stays fast and the consumer does the heavy part: ``inspect`` (in the request)
reads the header only (format, dimensions) and hashes the bytes; ``render`` (in the task) decodes with
bounded memory and writes each size with the orientation applied and no metadata at all.

Pillow is imported by the functions that use it, at the first picture: a consumer or web worker that
handles none does not carry it (~3 MB resident).
"""

import hashlib
import io
import logging
import math
from dataclasses import dataclass

from django.conf import settings

from images import files

logger = logging.getLogger(__name__)

# What we decode, told by content (never by the file's name): SVG, HEIC, TIFF, BMP, PDF ... are refused.
FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
# Output format -> (Pillow's name, file extension, content type).
OUTPUTS = {"webp": ("WEBP", "webp", "image/webp"), "jpeg": ("JPEG", "jpg", "image/jpeg")}

NOT_AN_IMAGE = "This file is not a picture we can read. Upload a JPEG, PNG, WebP or GIF image."
DAMAGED = "This picture is damaged or incomplete (perhaps it did not upload completely). Try the upload again."
# What a broken file raises inside Pillow while its header or pixels are read.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError)


class ImageRefused(Exception):
    """An upload we will not publish; ``str(exc)`` is the message for the user, ``code`` says which kind."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


# Bytes a pixel takes at the peak of ``render`` (decoded, converted, resampled), by Pillow's mode after open,
# measured with Pillow 13 on 9-MP PNGs (maxrss over the baseline). Transparency doubles it (Pillow resamples a
# premultiplied copy); 16-bit grey is widened to 32 bits before it is scaled down to 8.
WORKING_BYTES = {"1": 7, "L": 2, "P": 7, "RGB": 6, "RGBA": 10, "LA": 14, "I;16": 10, "I;16B": 10, "I": 10}
WORKING_BYTES_OTHER = 14  # any other mode (CMYK, YCbCr, PA ...): the most we measured


@dataclass(frozen=True)
class Limits:
    """The largest picture we decode: pixel count, longest side, and bytes its decoding takes (memory)."""

    max_pixels: int
    max_side: int
    max_bytes: int | None = None  # None: pixels and side only


@dataclass(frozen=True)
class Inspection:
    """What the request learns from an upload's header, and the hash of its bytes."""

    format: str
    width: int
    height: int
    sha256: str


def inspect(fileobj, limits):
    """Check an upload in the request without decoding a pixel: one of our formats, within ``limits``.

    Raises ``ImageRefused``. The file's position is left at its start.
    """
    from PIL import Image, UnidentifiedImageError

    digest = hashlib.sha256()
    fileobj.seek(0)
    for chunk in iter(lambda: fileobj.read(1 << 16), b""):
        digest.update(chunk)
    fileobj.seek(0)
    try:
        with _open(fileobj) as im:
            check_size(im, limits)
            found = Inspection(im.format, im.width, im.height, digest.hexdigest())
            im.verify()  # the file's structure and checksums (PNG's CRCs): still no decoding
        return found
    except UnidentifiedImageError:
        raise ImageRefused(NOT_AN_IMAGE, "format") from None
    except Image.DecompressionBombError:
        raise ImageRefused(_too_large(None, limits), "pixels") from None
    except DECODE_ERRORS:
        raise ImageRefused(DAMAGED, "damaged") from None
    finally:
        fileobj.seek(0)


def _open(source):
    """``Image.open`` for our formats only, with Pillow's decompression-bomb guard set on purpose.

    Pillow then warns past IMAGES_MAX_PIXELS and refuses past twice as many; ``check_size`` refuses an
    image over the limit before it is decoded.
    """
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = settings.IMAGES_MAX_PIXELS
    return Image.open(source, formats=FORMATS)


def working_bytes(im):
    """The memory decoding an opened image takes at its peak: pixels × bytes per pixel of its mode."""
    return im.width * im.height * WORKING_BYTES.get(im.mode, WORKING_BYTES_OTHER)


def check_size(im, limits):
    """Refuse an opened (not yet decoded) image over ``limits``."""
    width, height = im.size
    if width * height > limits.max_pixels or max(width, height) > limits.max_side:
        raise ImageRefused(_too_large(im.size, limits), "pixels")
    if limits.max_bytes is not None and working_bytes(im) > limits.max_bytes:
        raise ImageRefused(
            f"This picture is too large to process ({width} × {height} pixels, {im.mode}: about"
            f" {working_bytes(im) / 2**20:.0f} MB decoded; the limit is {limits.max_bytes / 2**20:.0f} MB)."
            " A smaller picture, or one without transparency, fits.",
            "pixels",
        )


def _too_large(size, limits):
    what = f" ({size[0]} × {size[1]} pixels)" if size else ""
    return (
        f"This picture is too large{what}. The limit is {limits.max_pixels / 1e6:g} megapixels "
        f"and {limits.max_side} pixels on the longest side."
    )


def render(source, pk, sizes, output, limits):
    """Decode ``source`` and write picture ``pk``'s sizes (``files.derived``, at ``IMAGES_QUALITY``); return
    ``{size: [w, h]}``.

    Memory stays bounded: the header is checked against ``limits`` before decoding, and a JPEG is decoded
    at 1/2, 1/4 or 1/8 scale when that still covers the largest size (a 12-MP photo then takes about 9 MB
    instead of 36). An animated image gives its first frame. Raises ``ImageRefused`` for a bad file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    kind, ext, _ = OUTPUTS[output]
    largest = max(sizes)
    try:
        with _open(source) as im:
            check_size(im, limits)
            if getattr(im, "is_animated", False):  # (n_frames would walk every frame: not asked)
                logger.info("picture %s is animated: its first frame is published", pk)
            scale = largest / max(im.size)
            if im.format == "JPEG" and scale < 1:
                im.draft(None, (math.ceil(im.width * scale), math.ceil(im.height * scale)))
            im.load()  # a truncated or corrupt file fails here
            icc = im.info.get("icc_profile")
            work = _decodable(im)
            work.thumbnail((largest, largest), Image.Resampling.LANCZOS, reducing_gap=3.0)
            work = ImageOps.exif_transpose(work)  # the camera's orientation, applied to the pixels
    except ImageRefused:
        raise
    except UnidentifiedImageError:
        raise ImageRefused(NOT_AN_IMAGE, "format") from None
    except Image.DecompressionBombError:
        raise ImageRefused(_too_large(None, limits), "pixels") from None
    except DECODE_ERRORS as exc:
        logger.info("picture %s cannot be decoded: %s: %s", pk, type(exc).__name__, exc)
        raise ImageRefused(DAMAGED, "damaged") from None
    work = _publishable(_to_srgb(work, icc), kind)
    work.info = {}  # no EXIF (location!), XMP, comments or profile goes out: only pixels
    made = {}
    for size in sorted(sizes, reverse=True):
        work.thumbnail((size, size), Image.Resampling.LANCZOS)
        with files.private_file(files.derived(pk, size, ext)) as f:
            work.save(f, kind, quality=settings.IMAGES_QUALITY, exif=b"", optimize=kind == "JPEG")
        made[size] = list(work.size)
    return made


def _decodable(im):
    """A mode that resamples well: 16-bit grey scaled to 8 bits, palettes and 1-bit expanded."""
    if im.mode.startswith("I"):
        # 16-bit grey (PNG): a plain convert would clip everything above 255 to white.
        return im.convert("I").point(lambda v: v / 256).convert("L")
    if im.mode in ("P", "PA", "1", "LA", "La") or "transparency" in im.info:
        return im.convert("RGBA" if im.has_transparency_data else "RGB")
    return im


def _to_srgb(im, icc):
    """Colours in sRGB (a phone's Display P3, a print shop's CMYK), as browsers assume when no profile is sent."""
    if icc:
        from PIL import ImageCms

        try:
            mode = "RGBA" if im.mode == "RGBA" else "RGB"
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(im, source, ImageCms.createProfile("sRGB"), outputMode=mode)
        except (ImageCms.PyCMSError, OSError, ValueError) as exc:
            logger.info("colour profile not applied (%s); converting plainly", exc)
    return im if im.mode in ("RGB", "RGBA") else im.convert("RGBA" if "A" in im.getbands() else "RGB")


def _publishable(im, kind):
    """JPEG has no alpha: transparent parts become white."""
    from PIL import Image

    if kind == "JPEG" and im.mode == "RGBA":
        flat = Image.new("RGB", im.size, "white")
        flat.paste(im, mask=im.getchannel("A"))
        return flat
    return im
