"""Who holds a row: the consumer process (host and pid) named on a leased outbox row or report.

The outbox and reports both claim rows for one consumer process; after a kill -9,
the next consumer on the same host finds the rows whose holder is gone.
"""

import os
import socket

HOST = socket.gethostname()


def worker_id():
    """This process as a holder: ``host:pid``."""
    return f"{HOST}:{os.getpid()}"


def pid_alive(pid):
    """True while a process with ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def held_by_dead_processes(queryset):
    """Primary keys in ``queryset`` whose holder ran on this host and has exited."""
    dead = []
    for pk, holder in queryset.filter(claimed_by__startswith=f"{HOST}:").values_list("pk", "claimed_by"):
        pid = int(holder.rsplit(":", 1)[1])
        if pid != os.getpid() and not pid_alive(pid):
            dead.append(pk)
    return dead
