from django.core.management.base import BaseCommand, CommandError

from notifications import suppression
from notifications.models import Suppression


class Command(BaseCommand):
    help = "List suppressed addresses, or lift the suppression of some (they will be tried again)."

    def add_arguments(self, parser):
        parser.add_argument("--lift", nargs="+", metavar="ADDRESS", help="Lift the suppression of these addresses.")

    def handle(self, *args, lift=None, **options):
        if not lift:
            entries = Suppression.objects.filter(lifted_at=None)
            for s in entries:
                self.stdout.write(f"{s.address}\t{s.failed_at:%Y-%m-%d %H:%M}\t{s.reason}")
            self.stdout.write(self.style.SUCCESS(f"Done! {len(entries)} suppressed addresses."))
            return
        problems = []
        for address in lift:
            try:
                suppression.lift(address)
            except suppression.NotSuppressed as exc:
                problems.append(str(exc))
            else:
                self.stdout.write(f"Lifted {address.strip().lower()}")
        if problems:
            raise CommandError("; ".join(problems))
        self.stdout.write(self.style.SUCCESS(f"Done! Lifted {len(lift)} suppressions."))
