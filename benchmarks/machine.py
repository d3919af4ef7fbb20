"""What the figures were measured on."""

import os
import platform
import sqlite3
import subprocess
from importlib.metadata import version
from pathlib import Path

LOAD_AT_START = "Load average at the start (1, 5, 15 min)"  # the fact's name, as docs/benchmarks.md shows it


def describe():
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    mem_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line))
    try:
        redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    except (OSError, IndexError):
        redis = "absent"
    return {
        "CPU": f"{os.cpu_count()} x {cpu}",
        "RAM": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Django": version("Django"),
        "Huey": version("huey"),
        "SQLite": sqlite3.sqlite_version,
        "Redis": redis.removeprefix("v="),
        "aiosmtpd": version("aiosmtpd"),
        "Commit": _commit(),
        LOAD_AT_START: load(),
    }


def load():
    """The load average now, as ``uptime`` prints it: say it beside any figure quoted."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _commit():
    """The code measured: the short commit, ``+changes`` when the work tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head.stdout.strip() + (" +changes" if dirty.stdout.strip() else "")
