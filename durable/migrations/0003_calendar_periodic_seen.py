from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("durable", "0002_tally_periodic"),
    ]

    operations = [
        migrations.AddField(
            model_name="periodic",
            name="seen_at",
            field=models.DateTimeField(blank=True, help_text="Last tick of a consumer that declares it.", null=True),
        ),
    ]
