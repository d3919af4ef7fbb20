from django.core.management.base import BaseCommand

from operations import cleanup


class Command(BaseCommand):
    help = "Delete sent/failed e-mails and expired sessions past their retention (the daily cleanup, by hand)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")

    def handle(self, *args, dry_run=False, **options):
        counts = cleanup.run(dry_run=dry_run)
        verb = "Would prune" if dry_run else "Pruned"
        for label, n in counts.items():
            self.stdout.write(f"{verb} {n} {label}")
        self.stdout.write(self.style.SUCCESS(f"Done! {verb} {sum(counts.values())} rows."))
