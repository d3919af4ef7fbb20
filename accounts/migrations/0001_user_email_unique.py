"""One account per e-mail address, whatever its case: a unique index on lower(email) of auth's user table.

auth.User is Django's model, not ours, so the constraint cannot go in its Meta; this index is the database's
answer instead (partial: users without an address are not concerned). The same SQL runs on SQLite (3.9+) and
PostgreSQL. Existing duplicates would make CREATE UNIQUE INDEX fail with a bare IntegrityError: they are
looked for first and listed, so the operator can merge or change them and run migrate again.
"""

from django.core.management.base import CommandError
from django.db import migrations
from django.db.models import Count
from django.db.models.functions import Lower

INDEX = "accounts_user_email_ci_unique"


def refuse_duplicates(apps, schema_editor):
    User = apps.get_model("auth", "User")
    duplicates = (
        User.objects.using(schema_editor.connection.alias)
        .exclude(email="")
        .values(address=Lower("email"))
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .order_by("address")
    )
    if duplicates:
        lines = []
        for row in duplicates:
            users = User.objects.filter(email__iexact=row["address"]).order_by("id")
            lines.append(f"  {row['address']}: " + ", ".join(f"{u.username} (id {u.id})" for u in users))
        # CommandError: migrate prints the message, not a traceback.
        raise CommandError(
            "accounts.0001: these e-mail addresses belong to more than one account (case ignored):\n"
            + "\n".join(lines)
            + "\nGive each account its own address (or clear the address of the extra ones) in the admin, "
            "then run migrate again."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(refuse_duplicates, migrations.RunPython.noop),
        migrations.RunSQL(
            f"CREATE UNIQUE INDEX {INDEX} ON auth_user (LOWER(email)) WHERE email <> ''",
            f"DROP INDEX {INDEX}",
        ),
    ]
