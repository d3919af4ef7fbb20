"""``manage.py tasks pause QUEUE`` / ``resume QUEUE`` / ``list``: hold a queue's tasks, on every consumer."""

from django.core.management.base import BaseCommand, CommandError

from durable import pause


class Command(BaseCommand):
    help = "Pause or resume a durable task queue (its tasks are enqueued but not claimed while paused), or list them."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{pause,resume,list}")
        sub.add_parser("pause", help="Claim no task of QUEUE on any consumer; running ones finish.").add_argument(
            "queue"
        )
        sub.add_parser("resume", help="Let the consumers claim QUEUE's tasks again.").add_argument("queue")
        sub.add_parser("list", help="Every queue: paused or running, and its queued and running tasks.")

    def handle(self, *args, action, queue=None, **options):
        if action == "list":
            return self.list()
        try:
            changed = getattr(pause, action)(queue, by="manage.py tasks")
        except pause.UnknownQueue as exc:
            raise CommandError(str(exc)) from None
        if action == "pause":
            self.stdout.write(f"Queue {queue} paused." if changed else f"Queue {queue} was already paused.")
        else:
            self.stdout.write(f"Queue {queue} resumed." if changed else f"Queue {queue} was not paused.")

    def list(self):
        for q in pause.overview():
            state = f"paused since {q['paused'].paused_at:%Y-%m-%d %H:%M:%S} UTC" if q["paused"] else "running"
            self.stdout.write(f"{q['name']}: {state}, {q['queued']} queued, {q['running']} running")
