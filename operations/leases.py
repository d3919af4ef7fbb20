"""Who holds a row: now ``durable.leases`` (the one lease mechanism); kept until the outbox and reports move onto it."""

from durable.leases import HOST, held_by_dead_processes, pid_alive, worker_id

__all__ = ["HOST", "held_by_dead_processes", "pid_alive", "worker_id"]
