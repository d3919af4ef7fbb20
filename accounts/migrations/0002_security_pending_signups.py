"""One account per e-mail address once confirmed: sign-ups still waiting for their address do not hold it.

accounts.0001's index covered every account, so a second sign-up with the same address had to replace the
first (issue 20, finding 10: the newer sign-up swapped its password in under the owner's address). Now the
index covers accounts that are active or were ever logged in to; waiting sign-ups (inactive, never logged in)
coexist, each with its own link, and the first confirmed drops the others. Same SQL on SQLite and PostgreSQL.
"""

from django.db import migrations

INDEX = "accounts_user_email_ci_unique"
ALL = f"CREATE UNIQUE INDEX {INDEX} ON auth_user (LOWER(email)) WHERE email <> ''"
CONFIRMED = f"{ALL} AND (is_active OR last_login IS NOT NULL)"


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_user_email_unique")]

    operations = [
        migrations.RunSQL([f"DROP INDEX {INDEX}", CONFIRMED], [f"DROP INDEX {INDEX}", ALL]),
    ]
