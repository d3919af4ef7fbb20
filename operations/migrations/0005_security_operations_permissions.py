from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("operations", "0004_calendar_drop_periodicrun")]

    operations = [
        migrations.AlterModelOptions(
            name="healthstate",
            options={
                "permissions": [
                    ("view_operations", "Can see the operations page, /metrics and every probe of /health/"),
                    ("send_test_email", "Can send a test e-mail from the operations page"),
                ]
            },
        ),
    ]
