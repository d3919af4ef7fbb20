"""Header folding for the messages the consumer renders: compat32's, as Django's messages carry it, made cheap.

A header's folding depends only on its name, its value and the policy's line end, length and transfer-encoding
type. Most lines need none (printable ASCII that fits); the rest are kept, the last few hundred, since a drain's
messages share most of their headers (From, MIME-Version, Content-Type, Content-Transfer-Encoding).
"""

from email.policy import Compat32
from functools import lru_cache


class _FoldsKept(Compat32):
    """The compat32 policy Django's messages carry: a line that needs no folding is written as it is, the last few
    hundred others folded are kept."""

    def fold_binary(self, name, value):
        if not isinstance(value, str):
            return super().fold_binary(name, value)
        if self.max_line_length and unfolded(name, value, self.max_line_length):
            return f"{name}: {value}{self.linesep}".encode("ascii")  # what folding gives such a line
        return _folded(name, value, self.linesep, self.max_line_length, self.cte_type)


def unfolded(name, value, max_line_length):
    """True when compat32 leaves ``name: value`` as it is: printable ASCII that fits on one line (kept simple: a
    value empty or with a space at either end goes to the library). Most headers with a value unique to the
    message (Message-ID, a short subject) are such lines; ``tests/test_one_part.py`` checks it over random ones."""
    return (
        len(name) + 2 + len(value) <= max_line_length
        and value.isascii()
        and value.isprintable()
        and name.isascii()
        and value[:1] not in ("", " ")
        and value[-1] != " "
    )


@lru_cache(maxsize=256)
def _folded(name, value, linesep, max_line_length, cte_type):
    return Compat32(linesep=linesep, max_line_length=max_line_length, cte_type=cte_type).fold_binary(name, value)


FOLDS_KEPT = _FoldsKept()
FOLDS_CRLF = FOLDS_KEPT.clone(linesep="\r\n")  # what the generator folds with (flatten's linesep)
