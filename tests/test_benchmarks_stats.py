"""benchmarks/stats.py: the percentiles every benchmark figure is built from."""

import pytest

from benchmarks.stats import fmt, median, percentile, ratio


def test_it_takes_nearest_rank_percentiles():
    values = list(range(100, 0, -1))  # unsorted on purpose
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 100)) == (50, 95, 100)
    assert percentile([7], 95) == 7
    assert percentile([], 50) is None


def test_it_skips_missing_runs_in_medians_and_ratios():
    assert median([3, None, 1, 2]) == 2
    assert median([None]) is None
    assert ratio(5, 0) is None and ratio(6, 3) == 2


def test_it_prints_figures_readably():
    assert fmt(1378.4, "e-mails/s") == "1,378 e-mails/s"
    assert fmt(0.4501, "ms") == "0.450 ms"
    assert fmt(None) == "n/a"


def test_an_unknown_section_is_refused_with_the_names_to_choose_from():
    from benchmarks.__main__ import main

    with pytest.raises(SystemExit) as stopped:
        main(["--only", "goals,nope"])
    assert "unknown section(s) nope" in str(stopped.value) and "goals" in str(stopped.value)


def test_the_engine_pair_says_which_figures_kept_within_ten_percent():
    from benchmarks.pair import MEASURES, table

    old = {key: 100.0 for key, *_ in MEASURES}
    new = {**old, "drain_SQLite": 89.0, "request_added_p50": 111.0, "rss_idle_Redis": 50.0}
    text = table({"old": [old, old, old], "new": [new, new, {**new, "drain_SQLite": None}]}, "abc123")
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines()[2:]}
    assert rows["e-mail drain, 4 workers, SQLite"].endswith("| 0.89 | no |")  # throughput: more is better
    assert rows["request: added by queuing an e-mail, p50"].endswith("| 1.11 | no |")  # cost: less is better
    assert rows["consumer RSS idle, Redis"].endswith("| 0.50 | yes |")
    assert rows["e-mail drain, 4 workers, Redis"].endswith("| 1.00 | yes |") and "old (abc123)" in text


@pytest.mark.parametrize("argv", [["--help"], ["--quick"], ["goals"]])
def test_help_or_an_unknown_argument_stops_before_any_run(argv, capsys):
    from benchmarks.__main__ import main

    with pytest.raises(SystemExit):
        main(argv)
    out = capsys.readouterr()
    assert "usage: python -m benchmarks [-h] [--only NAME[,NAME]]" in out.out + out.err


def _run(commit, drain, drain_ratio, pickup):
    from benchmarks.machine import LOAD_AT_START
    from benchmarks.report import Table

    table = Table(
        {"CPU": "2 x Test CPU", "Commit": commit, LOAD_AT_START: "0.10"},
        False,
        {"runs": 3},
    )
    target = (">=", 1000, "e-mails/s")
    table.row(
        "3 drain",
        "outbox, 4 worker(s), SQLite",
        drain,
        "e-mails/s",
        "four plain connections",
        drain / drain_ratio,
        target,
    )
    table.row("3 drain", "  vs plain Huey, 4 worker(s), SQLite", drain / 500, "x")  # indented, as the drain writes it
    if pickup is not None:
        table.row("4 pickup", "idle pickup p95, Redis", pickup, "ms")
    table.extra([("rows", "format", "seconds", "MiB", "file", "x"), (100, "csv", 1.8, 66, 11.5, 1)])  # a section's own
    return table


def test_a_full_run_writes_the_run_it_replaces_beside_its_own(tmp_path):
    path = tmp_path / "benchmarks.md"
    _run("aaa111", 900.0, 0.5, None).write(path)
    assert "## Beside the previous run" not in path.read_text()  # nothing to compare with yet

    _run("bbb222", 2000.0, 1.0, 3.5).write(path)
    beside = path.read_text().partition("## Beside the previous run")[2].partition("\n## ")[0]
    assert "commit aaa111, on 2 x Test CPU; load average at its start 0.10. This run: commit bbb222" in beside
    rows = {line.split(" | ")[1]: line for line in beside.splitlines() if line.startswith("| ")}
    assert rows["outbox, 4 worker(s), SQLite"] == (
        "| 3 drain | outbox, 4 worker(s), SQLite | 2,000 e-mails/s, 1.00x | 900 e-mails/s, 0.50x | met / MISSED |"
    )
    assert rows["idle pickup p95, Redis"] == "| 4 pickup | idle pickup p95, Redis | 3.50 ms | (not measured) |  |"
    assert rows["  vs plain Huey, 4 worker(s), SQLite"].endswith("| 4.00 x | 1.80 x |  |")
    from benchmarks.previous import read

    assert set(read(path.read_text())["rows"]) == {  # the Results table's rows, not a section's own table below it
        ("3 drain", "outbox, 4 worker(s), SQLite"),
        ("3 drain", "vs plain Huey, 4 worker(s), SQLite"),
        ("4 pickup", "idle pickup p95, Redis"),
    }

    _run("ccc333", 1900.0, 0.95, 3.0).write(path)  # the next run compares with the last one only
    beside = path.read_text().partition("## Beside the previous run")[2]
    assert "commit bbb222" in beside and "aaa111" not in beside and "| 3.00 ms | 3.50 ms |" in beside
