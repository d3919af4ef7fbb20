"""``python -m benchmarks.profile_drain``: where a draining consumer spends its time (py-spy).

Queues N e-mails, starts a real consumer, samples it with py-spy while it drains, and prints
the frames holding the most samples (inclusive and own), from the collapsed stacks.
"""

import shutil
import signal
import subprocess
import sys
from collections import Counter

from benchmarks import rig
from benchmarks.sink import Sink


def summarize(raw_path, top=25):
    inclusive, own, total = Counter(), Counter(), 0
    for line in raw_path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].split("/")[-1] + ")" if " (" in f else f
            for f in stack.split(";")
        ]
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    lines = [f"{total} samples of busy threads", "", "inclusive:"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(top)]
    lines += ["", "own:"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines)


def main(n=10000, workers=4, queue="sqlite"):
    from django.core.mail import send_mail

    work = rig.setup("profile")
    sink = Sink().start()
    rig.use_queue(rig.sqlite_url(work / "huey.sqlite3") if queue == "sqlite" else rig.REDIS_URL)
    for i in range(n):
        send_mail(f"profile {i}", "Body", "from@example.com", ["to@example.com"])
    consumer = rig.start_consumer(work, sink.url, "profile", workers=workers)
    raw = work / "drain.raw"
    spy = shutil.which("py-spy", path=f"{rig.BASE_DIR / '.venv' / 'bin'}:/usr/local/bin:/usr/bin")
    proc = subprocess.Popen([spy, "record", "--pid", str(consumer.pid), "--format", "raw", "-r", "250", "-o", str(raw)])
    sink.wait_for(n, timeout=300)
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    consumer.stop()
    sink.stop()
    text = summarize(raw)
    (work / "drain-summary.txt").write_text(text)
    print(text)


if __name__ == "__main__":
    sys.exit(main(*(int(a) if a.isdigit() else a for a in sys.argv[1:])))
