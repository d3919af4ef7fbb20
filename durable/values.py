"""A new row's column values as ``save(force_insert=True)`` sends them, with less work per row.

``get_db_prep_save`` is a call or two per field, and a row written on a hot path (a task enqueued, an e-mail
queued) has some twenty columns. What it would return unchanged on every database goes as it is: a text
column's ``str`` (a choice too), None in a text, time or foreign-key column. The rest is prepared by its field
as ``save()`` does: times, JSON, bytes, a lazy string, numbers (PostgreSQL's backend wraps them in their
column's type), and any field that fills itself in (``auto_now``).
"""

from django.db.models import CharField, DateTimeField, ForeignKey, TextField


class InsertValues:
    """The values of ``fields`` (a model's columns, in the statement's order) for one row."""

    def __init__(self, fields):
        self.fields = list(fields)
        self._as_is = [_as_is(f) for f in self.fields]

    def of(self, row, conn):
        values = [getattr(row, f.attname) for f in self.fields]
        return [
            v if as_is(v) else f.get_db_prep_save(f.pre_save(row, True), conn)
            for f, as_is, v in zip(self.fields, self._as_is, values, strict=True)
        ]


def _as_is(field):
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return _never
    kind = type(field)
    if kind in (CharField, TextField):
        return _text
    if kind in (DateTimeField, ForeignKey):
        return _none
    return _never


def _text(value):
    return value is None or isinstance(value, str)


def _none(value):
    return value is None


def _never(value):
    return False
