"""Generated pictures for the images tests: phone photos, and every kind of bad upload."""

import io

from PIL import ExifTags, Image

RED, BLUE = (220, 20, 20), (20, 20, 220)


def _bytes(im, fmt, **kwargs):
    out = io.BytesIO()
    im.save(out, fmt, **kwargs)
    return out.getvalue()


def phone_photo(width=800, height=600, orientation=6, gps=True, fmt="JPEG"):
    """A landscape sensor image, left half red and right half blue, that the camera says to turn (6: 90° clockwise),
    with a location, a camera model and a comment in its metadata."""
    im = Image.new("RGB", (width, height), BLUE)
    im.paste(RED, (0, 0, width // 2, height))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Phone 15 Secret"
    if gps:
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (52.0, 31.0, 12.0),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (13.0, 24.0, 36.0),
        }
    extra = {"comment": b"taken at home"} if fmt == "JPEG" else {}
    return _bytes(im, fmt, exif=exif, quality=90, **extra) if fmt == "JPEG" else _bytes(im, fmt, exif=exif)


def png(width=300, height=200, mode="RGB", color=(10, 120, 10)):
    return _bytes(Image.new(mode, (width, height), color), "PNG")


def sixteen_bit_png(width=120, height=80, value=40000):
    return _bytes(Image.new("I;16", (width, height), value), "PNG")


def cmyk_jpeg(width=200, height=150):
    return _bytes(Image.new("CMYK", (width, height), (0, 255, 255, 0)), "JPEG")  # red in CMYK


def animated(fmt="GIF", frames=((255, 0, 0), (0, 0, 255), (0, 255, 0))):
    images = [Image.new("RGB", (120, 90), c) for c in frames]
    return _bytes(images[0], fmt, save_all=True, append_images=images[1:], duration=100, loop=0)


def transparent_png(width=100, height=100):
    return _bytes(Image.new("RGBA", (width, height), (0, 0, 0, 0)), "PNG")


def truncated(data, keep=0.5):
    return data[: int(len(data) * keep)]


def bomb_png(width=8000, height=8000):
    """64 megapixels in a few kilobytes: over the default 50-MP limit."""
    return _bytes(Image.new("1", (width, height)), "PNG")


def bmp(width=50, height=50):
    return _bytes(Image.new("RGB", (width, height), RED), "BMP")


def tiff(width=50, height=50):
    return _bytes(Image.new("RGB", (width, height), RED), "TIFF")


HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 500  # the start of an iPhone photo
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'
TEXT = b"this is a text file named like a photo\n" * 20
HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>"


def upload(client, data, name="photo.jpg", content_type="image/jpeg"):
    """POST ``data`` as the picture form does (multipart, with the CSRF token the page gives)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post("/images/upload/", {"picture": SimpleUploadedFile(name, data, content_type=content_type)})


def signed_in(client, username="ada"):
    from django.contrib.auth.models import User

    user = User.objects.create_user(username, f"{username}@example.com", "a-Long-pass-42")
    client.force_login(user)
    return user


def noisy_png(width=300, height=300):
    """A PNG that does not compress to nothing, so half of it is a real truncation."""
    return _bytes(Image.effect_noise((width, height), 64).convert("RGB"), "PNG")


def slow_png(width=6000, height=4000):
    """24 megapixels in a few hundred kilobytes: a PNG decodes at full size, so it keeps a consumer busy a second."""
    return _bytes(Image.radial_gradient("L").resize((width, height)).convert("RGB"), "PNG")


def hand_png(width, height, depth=16, alpha=True):
    """A ``width`` × ``height`` PNG of zeros written by hand (Pillow cannot write 16-bit RGBA).

    7000 × 7000 16-bit RGBA is about 0.6 MB on disk and 392 MB of samples: the amplifier of issue 20, finding 12.
    """
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\0" * (1 + width * (4 if alpha else 3) * depth // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, depth, 6 if alpha else 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
