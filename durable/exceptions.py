"""Why an attempt ended without the task's own error: recorded as the attempt's exception class."""


class TimeLimitExceeded(BaseException):  # noqa: N818 - the name says what happened
    """Raised inside a task's thread when its time limit passes (a BaseException: ``except Exception`` lets it go)."""


class ConsumerLost(Exception):  # noqa: N818
    """The consumer running the attempt died (kill -9, out of memory, os._exit) or hung past its lease."""


class TaskNotFound(Exception):  # noqa: N818
    """The row names a task that no longer exists in the code (renamed or removed)."""
