"""The outbox row takes the lease fields of ``durable.models.Leased``: claim_token becomes lease_token (data kept)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0006_priority"),
    ]

    operations = [
        migrations.RenameField(model_name="message", old_name="claim_token", new_name="lease_token"),
        migrations.AlterField(
            model_name="message",
            name="lease_token",
            field=models.CharField(
                blank=True,
                help_text="Fencing token: new at every claim; the holder's writes carry it.",
                max_length=32,
            ),
        ),
        migrations.AlterField(
            model_name="message",
            name="claimed_by",
            field=models.CharField(blank=True, help_text="host:pid of the last holder.", max_length=128),
        ),
        migrations.AddField(
            model_name="message",
            name="claimed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
