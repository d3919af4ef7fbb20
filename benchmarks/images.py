"""Profile pictures (issue 11 part A): thumbnails per second, the consumer's peak memory, e-mail pickup meanwhile.

``python -m benchmarks.images [--pictures 20]`` prints a Markdown section; ``run(quick)`` returns it for
``make bench``. Every figure comes from real consumers (``manage.py run_huey``) on SQLite, pictures made by
the durable task exactly as an upload makes them (``images.intake.accept``), e-mail to an SMTP sink.

1. Thumbnails/s for a 12-MP JPEG (4000x3000, camera noise, EXIF orientation): each picture is 3 sizes
   (64, 256, 1024 px WebP). 1 worker; 4 workers with the default cpu group (1 at a time); 4 workers with
   DURABLE_GROUP_LIMITS=cpu=4. Steady rate = (pictures - 1) x 3 / (last ready - first ready); "from enqueue"
   counts the wait for an idle consumer's first poll too.
2. Peak consumer RSS (VmHWM, Django included) of a fresh 1-worker consumer making one picture: the 12-MP
   JPEG, and the largest PNG we accept (IMAGES_MAX_PIXELS, 50 MP), which cannot be decoded at reduced scale.
3. E-mail pickup (send_mail -> arrival at the sink) p50/p95 while 20 pictures are processed, against the
   same consumer idle, with the default cpu group limit (1) and with cpu=4 (what the limit prevents).
"""

import argparse
import io
import os
import sys
import time

from benchmarks import rig
from benchmarks.stats import fmt, percentile

NAME = "images"
SIZES = 3  # 64, 256, 1024


def photo_12mp(seed=0):
    """A 4000x3000 JPEG that costs what a phone photo costs: gradients plus sensor noise, quality 90, EXIF."""
    from PIL import ExifTags, Image

    base = Image.linear_gradient("L").resize((4000, 3000))
    noise = [Image.effect_noise((4000, 3000), 24 + seed % 3 + i) for i in range(3)]
    bands = [Image.blend(base, n, 0.35) for n in noise]
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    out = io.BytesIO()
    Image.merge("RGB", bands).save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def png_at_limit():
    """The largest PNG an upload may be (IMAGES_MAX_PIXELS), smooth enough to be a few MB."""
    from django.conf import settings
    from PIL import Image

    width = int((settings.IMAGES_MAX_PIXELS * 4 / 3) ** 0.5)
    height = settings.IMAGES_MAX_PIXELS // width
    out = io.BytesIO()
    Image.radial_gradient("L").resize((width, height)).convert("RGB").save(out, "PNG", compress_level=1)
    return out.getvalue(), (width, height)


def enqueue(content, n, prefix):
    """``n`` users each upload ``content`` (one commit, so the clock starts when every task is queued)."""
    from django.contrib.auth.models import User
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import transaction

    from images import decoding, intake, processing

    users = [User.objects.create_user(f"{prefix}{i}", f"{prefix}{i}@example.com") for i in range(n)]
    inspection = decoding.inspect(io.BytesIO(content), processing.limits())
    with transaction.atomic():
        ids = [intake.accept(u, SimpleUploadedFile("p.jpg", content), inspection).pk for u in users]
    return ids, time.time()


def wait_ready(ids, timeout=600):
    from images.models import Picture

    def done():
        rows = list(Picture.objects.filter(pk__in=ids).values_list("status", "finished_at"))
        return len(rows) == len(ids) and all(s != "processing" for s, _ in rows) and rows

    rows = rig.wait_for(done, timeout=timeout, interval=0.02)
    if not rows:
        raise SystemExit(f"pictures not ready within {timeout} s")
    bad = [s for s, _ in rows if s != "ready"]
    if bad:
        raise SystemExit(f"pictures failed: {bad}")
    return sorted(f.timestamp() for _, f in rows)


def consumer(work, sink, label, workers, cpu):
    c = rig.start_consumer(work, sink.url, label, workers=workers, DURABLE_GROUP_LIMITS=f"cpu={cpu}")
    time.sleep(1.5)  # start-up work done
    return c


def throughput(work, sink, content, n, workers, cpu, label):
    c = consumer(work, sink, label, workers, cpu)
    try:
        ids, began = enqueue(content, n, label)
        finished = wait_ready(ids)
        return {
            "rate": (n - 1) * SIZES / (finished[-1] - finished[0]),  # steady state: start-up not counted
            "wall": n * SIZES / (finished[-1] - began),
            "peak_rss": rig.rss_mb(c.pid, "VmHWM"),
        }
    finally:
        c.stop()


def peak_rss(work, sink, content, label):
    c = consumer(work, sink, label, 1, 1)
    try:
        idle = rig.rss_mb(c.pid)
        ids, began = enqueue(content, 1, label)
        finished = wait_ready(ids)
        return {"idle": idle, "peak": rig.rss_mb(c.pid, "VmHWM"), "seconds": finished[-1] - began}
    finally:
        c.stop()


def pickup(work, sink, content, n, cpu, label, mails=25, interval=0.2):
    """send_mail every ``interval`` s while ``n`` pictures process (none when ``n`` is 0): arrival latencies."""
    from django.core.mail import send_mail

    rig.clear_outbox()
    sink.reset()
    c = consumer(work, sink, label, 4, cpu)
    try:
        ids = enqueue(content, n, label)[0] if n else []
        sent = {}
        for i in range(mails):
            subject = f"{label} {i}"
            sent[subject] = time.time()
            send_mail(subject, "Body", "from@example.com", ["to@example.com"])
            time.sleep(interval)
        sink.wait_for(mails, timeout=300)
        from images.models import Picture

        busy = Picture.objects.filter(pk__in=ids, status="processing").count() if ids else 0
        latencies = [sink.arrival(s) - t for s, t in sent.items() if sink.arrival(s)]
        if ids:
            wait_ready(ids)
        return {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "left": busy, "n": len(latencies)}
    finally:
        c.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", type=int, default=20)
    args = parser.parse_args()
    n = args.pictures
    work = rig.VAR / NAME
    os.environ["MEDIA_ROOT"] = str(work / "media")
    os.environ["RATE_LIMITS_ENABLED"] = "false"
    work = rig.setup(NAME)
    rig.use_queue(rig.sqlite_url(work / "huey.sqlite3"))
    from benchmarks.sink import Sink

    sink = Sink().start()
    try:
        photo = photo_12mp()
        big_png, big_size = png_at_limit()
        rows = []
        for workers, cpu in ((1, 1), (4, 1), (4, 4)):
            r = throughput(work, sink, photo, n, workers, cpu, f"t{workers}{cpu}_")
            rows.append(
                (
                    f"thumbnails/s, 12-MP JPEG, {workers} worker(s), cpu group limit {cpu}",
                    f"{fmt(r['rate'], '/s')} steady ({fmt(r['wall'], '/s')} from enqueue; "
                    f"peak RSS {fmt(r['peak_rss'], 'MB')})",
                )
            )
        for label, content, what in (
            ("r1_", photo, f"12-MP JPEG ({len(photo) / 2**20:.1f} MB)"),
            ("r2_", big_png, f"{big_size[0]}x{big_size[1]} PNG at the pixel limit ({len(big_png) / 2**20:.1f} MB)"),
        ):
            r = peak_rss(work, sink, content, label)
            rows.append(
                (
                    f"consumer peak RSS, one {what}",
                    f"{fmt(r['peak'], 'MB')} (idle {fmt(r['idle'], 'MB')}, {r['seconds']:.2f} s)",
                )
            )
        for n_pictures, cpu, what in (
            (0, 1, "idle consumer"),
            (n, 1, f"{n} pictures, cpu=1"),
            (n, 4, f"{n} pictures, cpu=4"),
        ):
            r = pickup(work, sink, photo, n_pictures, cpu, f"m{n_pictures}{cpu}_")
            rows.append(
                (
                    f"e-mail pickup p50 / p95, 4 workers, {what}",
                    f"{fmt(r['p50'] * 1000, 'ms')} / {fmt(r['p95'] * 1000, 'ms')} "
                    f"({r['n']} e-mails; {r['left']} pictures still processing at the last)",
                )
            )
    finally:
        sink.stop()
    print("| measure | value |\n|---|---|")
    for measure, value in rows:
        print(f"| {measure} | {value} |")
    print(f"\nPython {sys.version.split()[0]}, {os.cpu_count()} CPUs, SQLite, thread workers; Pillow draft decoding.")


def run(quick=False):
    """The images section of ``make bench``: this module in a process of its own; returns its Markdown."""
    pictures = "6" if quick else "20"
    return rig.section_in_process(
        "Images (profile pictures, issue 11)", ["-m", "benchmarks.images", "--pictures", pictures]
    )


if __name__ == "__main__":
    main()
