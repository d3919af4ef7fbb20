"""The file writers: what Excel and CSV readers get back."""

import csv
from datetime import UTC, date, datetime

from openpyxl import load_workbook

from reports.formats import open_writer

ROWS = [
    (1, "Grüße “quoted”, with comma", datetime(2026, 3, 1, 12, 30, tzinfo=UTC), date(2026, 3, 1), None),
    (2, "line\nbreak and a \x07bell", None, date(2026, 3, 2), 3.5),
]
COLUMNS = ("n", "text", "at", "day", "value")


def write(tmp_path, fmt):
    path = tmp_path / f"out.{fmt}"
    writer = open_writer(fmt, path, COLUMNS)
    for row in ROWS:
        writer.write(row)
    writer.close()
    return path


def test_csv_is_plain_utf8_and_round_trips(tmp_path, settings):
    settings.TIME_ZONE = "Europe/Paris"
    raw = write(tmp_path, "csv").read_bytes()

    assert not raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8").splitlines(keepends=True)))
    assert rows[0] == list(COLUMNS)
    assert rows[1] == ["1", "Grüße “quoted”, with comma", "2026-03-01 13:30:00", "2026-03-01", ""]
    assert rows[2][1] == "line\nbreak and a \x07bell"


def test_csv_for_excel_starts_with_a_bom(tmp_path):
    raw = write(tmp_path, "csv-excel").read_bytes()

    assert raw.startswith(b"\xef\xbb\xbfn,text,at")


def test_xlsx_opens_with_typed_cells(tmp_path):
    book = load_workbook(write(tmp_path, "xlsx"))

    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0] == COLUMNS
    assert rows[1][:3] == (1, "Grüße “quoted”, with comma", datetime(2026, 3, 1, 12, 30))
    assert rows[2][1] == "line\nbreak and a bell"  # a control character XML cannot carry is dropped
    assert rows[2][4] == 3.5


def test_an_aborted_xlsx_leaves_no_temporary_file(tmp_path):
    import glob
    import tempfile

    before = set(glob.glob(f"{tempfile.gettempdir()}/openpyxl.*"))
    writer = open_writer("xlsx", tmp_path / "out.xlsx", COLUMNS)
    writer.write(ROWS[0])
    writer.abort()

    assert set(glob.glob(f"{tempfile.gettempdir()}/openpyxl.*")) <= before
    assert not (tmp_path / "out.xlsx").exists()


HOSTILE = ("=cmd|'/Ccalc.exe'!A0@example.com", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "=1", "#N/A")


def test_csv_neutralises_cells_a_spreadsheet_would_run(tmp_path):
    path = tmp_path / "out.csv"
    writer = open_writer("csv", path, ["text", "n"])
    for text in HOSTILE:
        writer.write((text, -5))
    writer.write(("plain - text", 0))
    writer.close()

    with path.open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    assert [r[0] for r in rows] == ["'" + t for t in HOSTILE[:-1]] + ["#N/A", "plain - text"]
    assert {r[1] for r in rows} == {"-5", "0"}  # numbers are numbers, even negative ones


def test_xlsx_writes_formula_like_text_as_plain_strings(tmp_path):
    path = tmp_path / "out.xlsx"
    writer = open_writer("xlsx", path, ["text", "n"])
    for text in HOSTILE:
        writer.write((text, -5))
    writer.close()

    cells = [c for row in load_workbook(path).active.iter_rows(min_row=2) for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert [c.value for c in cells if c.column == 1] == list(HOSTILE)
    assert {c.data_type for c in cells if c.column == 1} == {"s"}
