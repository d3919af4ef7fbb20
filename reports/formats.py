"""File writers: rows in, a file out, one row at a time (memory does not grow with the report)."""

import csv
import datetime

from django.utils import timezone


def _localizer():
    """A function turning aware datetimes into naive site-local ones (Excel has no time zones; CSV readers rarely
    parse them). The zone is looked up once per file, not once per cell: that lookup was most of the CSV time."""
    zone = timezone.get_current_timezone()

    def local(value):
        if isinstance(value, datetime.datetime) and value.tzinfo is not None:
            return value.astimezone(zone).replace(tzinfo=None)
        return value

    return local


class CsvWriter:
    """UTF-8 CSV; ``bom=True`` starts it with a byte-order mark so Excel reads it as UTF-8."""

    extension = "csv"
    content_type = "text/csv; charset=utf-8"

    def __init__(self, path, columns, bom=False):
        self._file = open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="")  # noqa: SIM115
        self._csv = csv.writer(self._file)
        self._csv.writerow(columns)
        self._local = _localizer()

    def write(self, row):
        # Inlined for the hot path: plain strings and numbers are most cells of a big report.
        self._csv.writerow(
            [
                ("'" + v if v[:1] in _FORMULA_FIRST else v)
                if type(v) is str
                else v
                if type(v) in _PLAIN
                else self._cell(v)
                for v in row
            ]
        )

    def _cell(self, value):
        if isinstance(value, str):  # a str subclass (SafeString, say)
            return neutralise(value)
        value = self._local(value)
        if isinstance(value, datetime.datetime):
            return value.isoformat(sep=" ", timespec="seconds")
        if value is None:
            return ""
        return value

    def close(self):
        self._file.close()

    def abort(self):
        self._file.close()


_PLAIN = {int, float, bool}  # written as they are; everything else goes through _cell
# A spreadsheet opening a CSV runs a cell starting with one of these as a formula ("=cmd|'/C calc'!A0").
_FORMULA_FIRST = frozenset("=+-@\t\r")


def neutralise(text):
    """``text``, prefixed with ``'`` if a spreadsheet would read it as a formula (OWASP's CSV injection advice)."""
    return "'" + text if text[:1] in _FORMULA_FIRST else text


class XlsxWriter:
    """XLSX through openpyxl's write-only mode: rows go to a temporary XML stream, not into memory."""

    extension = "xlsx"
    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    def __init__(self, path, columns):
        # Imported here: openpyxl and lxml cost ~20 MB in every process that loads them, and only
        # the worker building an XLSX needs them.
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        self._illegal = ILLEGAL_CHARACTERS_RE
        self._text_cell = WriteOnlyCell
        self._path = path
        self._book = Workbook(write_only=True)
        self._sheet = self._book.create_sheet("Report")
        self._sheet.append(list(columns))
        self._local = _localizer()

    def write(self, row):
        self._sheet.append([self._cell(v) for v in row])

    def _cell(self, value):
        if isinstance(value, str):
            # openpyxl refuses characters XML cannot carry (most C0 controls); drop them rather than fail the report.
            value = self._illegal.sub("", value)
            if value.startswith(("=", "#")):
                # openpyxl would store "=..." as a formula and "#N/A" as an error: force a plain string cell.
                cell = self._text_cell(self._sheet, value)
                cell.data_type = "s"
                return cell
            return value
        return self._local(value)

    def close(self):
        self._book.save(self._path)

    def abort(self):
        """Drop the half-written sheet and the temporary file openpyxl streams it to."""
        writer = self._sheet._writer
        if writer is not None:
            self._sheet.close()  # finish the XML stream properly, so nothing complains at garbage collection
            writer.cleanup()


def open_writer(fmt, path, columns):
    """A writer for ``fmt`` (a ``Report.Format`` value) at ``path``, its header row written."""
    if fmt == "csv":
        return CsvWriter(path, columns)
    if fmt == "csv-excel":
        return CsvWriter(path, columns, bom=True)
    if fmt == "xlsx":
        return XlsxWriter(path, columns)
    raise ValueError(f"unknown report format {fmt!r}")


CONTENT_TYPES = {"csv": CsvWriter.content_type, "csv-excel": CsvWriter.content_type, "xlsx": XlsxWriter.content_type}
