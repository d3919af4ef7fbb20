"""The previous full run beside this one: read from the docs/benchmarks.md a run is about to replace.

A figure quoted alone says little on a machine that changes between sessions; beside the last run's, with
both runs' same-run ratios, it says what moved. The file keeps one previous run, not a history (git has that).
"""

import re

from benchmarks.machine import LOAD_AT_START

HEADING = "## Beside the previous run"


def read(text):
    """The run ``text`` (a docs/benchmarks.md) records: its date, machine facts and rows by (section, measure)."""
    when = re.search(r"Measured by `make bench` on ([^.]+)\.", text)
    machine = text.partition("## Machine")[2].partition("\n## ")[0]
    facts = dict(re.findall(r"^- \*\*(.+?)\*\*: (.*)$", machine, re.MULTILINE))
    rows = {}
    for line in _table_after("## Results", text):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0] not in ("section", "---"):
            section, measure, value, _baseline, ratio, target = cells
            rows[(section, measure)] = (value, ratio, target)
    return {"when": when.group(1) if when else "an unknown date", "facts": facts, "rows": rows}


def beside(previous, rows, facts):
    """Markdown: each row of this run (``rows``: section, measure, value, baseline, ratio, target) beside the
    same measure of ``previous`` (``read``'s result), or None when there is no previous run to compare."""
    if not previous or not previous["rows"]:
        return None
    old_facts = previous["facts"]
    lines = [
        HEADING,
        "",
        f"The previous full run: {previous['when']}, commit {old_facts.get('Commit', '?')}, on "
        f"{old_facts.get('CPU', '?')}; load average at its start {old_facts.get(LOAD_AT_START, '?')}. This run: commit "
        f"{facts.get('Commit', '?')}, on {facts.get('CPU', '?')}.",
        "Figures move with the machine; the ratios to each run's own baselines are what compare.",
        "",
        "| section | measure | this run | previous run | target: this run / previous |",
        "|---|---|---|---|---|",
    ]
    for section, measure, value, _baseline, ratio, target in rows:
        old = previous["rows"].get((section, measure.strip()))  # read() strips the cells
        old_cell = _cell(old[0], old[1]) if old else "(not measured)"
        verdicts = f"{_verdict(target)} / {_verdict(old[2]) if old else '-'}" if target or (old and old[2]) else ""
        lines.append(f"| {section} | {measure} | {_cell(value, ratio)} | {old_cell} | {verdicts} |")
    return "\n".join(lines)


def _table_after(heading, text):
    """The lines of the table right under ``heading`` (not the sections' own tables further down)."""
    lines = text.partition(heading)[2].lstrip("\n").splitlines()
    return lines[: next((i for i, line in enumerate(lines) if not line.startswith("|")), len(lines))]


def _cell(value, ratio):
    return f"{value}, {ratio}" if ratio else value


def _verdict(target):
    return target.split(" ")[0] if target else "-"
