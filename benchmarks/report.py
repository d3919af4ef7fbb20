"""The results table: printed, and written as Markdown with the machine it was measured on."""

import time

from benchmarks import previous
from benchmarks.stats import fmt, ratio

OPS = {"<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}


class Table:
    def __init__(self, machine, quick, params):
        self.machine, self.quick, self.params = machine, quick, params
        self.rows, self.notes, self.extras = [], [], []

    def row(self, section, measure, value, unit, baseline=None, base_value=None, target=None, ratio_kind="x"):
        r = ratio(value, base_value)
        verdict = ""
        if target and value is not None:
            op, bound, bound_unit = target
            verdict = f"{'met' if OPS[op](value, bound) else 'MISSED'} ({op} {fmt(bound, bound_unit)})"
        self.rows.append(
            (
                section,
                measure,
                fmt(value, unit),
                f"{baseline}: {fmt(base_value, unit)}" if baseline else "",
                f"{r:.2f}{ratio_kind}" if r is not None else "",
                verdict,
            )
        )

    def note(self, text):
        self.notes.append(text)

    def extra(self, markdown_or_rows):
        """Another section's own output: Markdown text, or rows of cells."""
        self.extras.append(markdown_or_rows)

    def _grid(self):
        head = ("section", "measure", "value", "baseline (same run)", "ratio", "target")
        return [head, *sorted(self.rows, key=lambda r: r[0][0])]

    def text(self):
        grid = self._grid()
        widths = [max(len(str(r[i])) for r in grid) for i in range(len(grid[0]))]
        lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in grid]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(
            lines + [""] + self.notes + [str(e) if isinstance(e, str) else self._md(e) for e in self.extras]
        )

    @staticmethod
    def _md(rows):
        rows = [tuple(map(str, r)) for r in rows]
        out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        return "\n".join(out + ["| " + " | ".join(r) + " |" for r in rows[1:]])

    def write(self, path):
        """Write ``path`` (docs/benchmarks.md), with the run it replaces beside this one (``benchmarks.previous``)."""
        path.parent.mkdir(exist_ok=True)
        before = previous.read(path.read_text()) if path.exists() else None
        beside = previous.beside(before, self._grid()[1:], self.machine)
        machine = "\n".join(f"- **{k}**: {v}" for k, v in self.machine.items())
        mode = (
            "QUICK mode (BENCH_QUICK=1): one run each, small batches; not figures to quote."
            if self.quick
            else (f"Each figure is the median of {self.params['runs']} runs.")
        )
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        body = [
            "# Benchmarks",
            "",
            f"Measured by `make bench` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. {mode}",
            f"Parameters: {params}. Every baseline was measured in the same run.",
            "One section alone: `python -m benchmarks --only goals` (or `--only tasks,flows`; the sections are",
            "`benchmarks.__main__.SECTIONS`); it prints its rows and leaves this file as it is.",
            "",
            "## Machine",
            machine,
            "",
            "## Results",
            self._md(self._grid()),
            "",
            *[f"- {n}" for n in self.notes],
            "",
            *[e if isinstance(e, str) else self._md(e) for e in self.extras],
            "",
            *([beside, ""] if beside else []),
            "## How each figure is taken",
            "- **Request cost**: Django's test `Client` through the full middleware stack, one process; the outbox",
            "  view commits an outbox row and enqueues a wake-up (SQLite queue); the inline view talks SMTP to a relay",
            "  that answers DATA after 200 ms.",
            "- **Enqueue cost**: median per call. `plain Huey INSERT + enqueue` is one autocommitted row INSERT plus a",
            "  stock `SqliteHuey`/`RedisHuey` task enqueue carrying the e-mail.",
            "- **Drain**: N e-mails queued with the consumer stopped, then a real `manage.py run_huey` (or, for plain",
            "  Huey, `huey_consumer` with stock storage, default polling, one task and one SMTP connection per e-mail);",
            "  throughput is (N-1) / (last arrival - first arrival) at an aiosmtpd sink in its own process, so start-up",
            "  is not counted. A plain loop is `send_mail()` over one open SMTP connection, no queue; the drain's target",
            "  is 0.9x four such loops in parallel threads, each with its own connection (the issue's ceiling).",
            "- **Idle pickup**: `send_mail()` after 1.5-3 s idle to arrival at the sink; idle CPU from /proc/<pid>/stat.",
            "- **Consumer RSS idle** (section 11): VmRSS of a consumer with 4 workers, idle after start-up. The goal's",
            "  baseline is `huey_consumer` with no Django project; beside it, `manage.py run_huey` of a minimal Django",
            "  project on plain Huey (auth, contenttypes, djhuey), whose `huey.storage` imports redis and psycopg.",
            "- **RSS while draining 100,000 no-ops** (section 11): sampled every 0.25 s; the trend is the",
            "  least-squares line through the samples from 10 % done to the end (RSS saws by a few MB meanwhile).",
            "- **Footprint**: live pages (page_count - freelist_count) after a WAL checkpoint; the cleanup is",
            "  `operations.cleanup.run` a month later. SQLite keeps freed pages for reuse; the file does not shrink.",
            "",
        ]
        path.write_text("\n".join(body))
