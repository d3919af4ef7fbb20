"""Every command in README.md and docs/*.md runs in the suite, or is listed here with the reason it cannot.

``docs/operations.md``'s shell blocks are run line by line, in order, as written (``/srv/mysite`` moved under
the test's own directory, ``<stamp>`` the backup just taken): install, upgrade, back up, restore, and the move
from SQLite to PostgreSQL. Commands written inline in the prose are run here too, or name the test that runs
them. ``COMMANDS`` says, for each command the docs contain, what the suite does with it; a command added to
the docs without a line here fails ``test_every_command_in_the_docs_is_run_or_listed_with_its_reason``.
"""

import json
import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from django.db import connection

BASE = Path(__file__).resolve().parent.parent
DOCS = [BASE / "README.md", *sorted((BASE / "docs").glob("*.md"))]
BLOCK = re.compile(r"^( *)```(?:sh|bash)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)
FENCE = re.compile(r"^( *)```.*?^\1```", re.MULTILINE | re.DOTALL)  # any fenced block
INLINE_COMMAND = re.compile(
    r"^(make\b|\.ci/run|(\.venv/bin/)?python3? (manage\.py|-m|-c) |manage\.py \S|deploy/backup-sqlite|sqlite3 |curl |pg_dump"
    r"|systemctl |sudo )"
)
RUN = "run here, as written"
SYSTEMD = "not run: systemd on a real host (the units' own commands run in tests/test_deploy.py)"
BENCH = "not run: minutes of measurement that need a quiet machine; their scripts' logic has its own tests"
SUITE = "not run: it runs the test suite itself (and `make test` apt-get): a test cannot run the suite it is in"

SUITE_PART = (
    "not run: it runs part of this suite from inside it (tests/test_docs_testing.py runs a nested pytest in a copy"
    " of the project, the same way)"
)
PAUSE_TESTS = "tests/test_durable_pause.py (manage.py tasks pause/resume/list through call_command)"


def run_as(command, why):
    return f"run here as `{command}`: {why}"


def covered(test):
    return f"run by {test}"


# Every command the docs contain -> what the suite does with it.
COMMANDS = {
    # docs/operations.md, install
    "apt-get install -y python3 python3-venv nginx sqlite3 git": "not run: installs system packages (root, network)",
    "adduser --system --group --home /srv/mysite mysite": "not run: creates a system user on a real host (root)",
    "install -d -m 0750 -o mysite -g mysite /srv/mysite/var /srv/mysite/backups": run_as(
        "install -d -m 0750 /srv/mysite/var /srv/mysite/backups", "no mysite user in a test"
    ),
    "git clone <your repository> /srv/mysite/app && chown -R mysite:mysite /srv/mysite/app": (
        "not run: no repository to clone from; the test copies this checkout's tracked files to /srv/mysite/app"
    ),
    "cd /srv/mysite/app": RUN,
    "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt": (
        "not run: a network install; the copy uses the suite's virtualenv, installed from the same requirements.txt"
    ),
    "cp .env.example .env && chmod 600 .env": RUN,
    ".venv/bin/python manage.py check --deploy": RUN,
    ".venv/bin/python manage.py migrate": RUN,
    ".venv/bin/python manage.py collectstatic --noinput": RUN,
    ".venv/bin/python manage.py createsuperuser": run_as(
        ".venv/bin/python manage.py createsuperuser --noinput --username admin --email admin@example.com",
        "its prompts need a terminal; DJANGO_SUPERUSER_PASSWORD gives the password",
    ),
    "cp deploy/mysite-web.service deploy/mysite-consumer.service deploy/mysite-backup.service "
    "deploy/mysite-backup.timer /etc/systemd/system/": SYSTEMD,
    "systemctl daemon-reload": SYSTEMD,
    "systemctl enable --now mysite-consumer mysite-web mysite-backup.timer": SYSTEMD,
    "cp deploy/nginx.conf /etc/nginx/sites-available/mysite": (
        "not run: nginx on a real host; tests/test_deploy.py::test_the_nginx_sample_in_front_of_gunicorn_serves_https"
        " serves the site through the sample"
    ),
    "ln -s /etc/nginx/sites-available/mysite /etc/nginx/sites-enabled/ && nginx -t && systemctl reload nginx": (
        "not run: nginx on a real host (see the line above)"
    ),
    # docs/operations.md, upgrade
    "deploy/backup-sqlite /srv/mysite/var /srv/mysite/backups": RUN,
    "git pull": "not run: no remote to pull from; the suite tests the checked-out code itself",
    ".venv/bin/pip install -r requirements.txt": "not run: a network install (the suite's virtualenv has them)",
    "sudo systemctl stop mysite-consumer": SYSTEMD,
    "sudo systemctl start mysite-consumer": SYSTEMD,
    "sudo systemctl reload mysite-web": SYSTEMD,
    # docs/operations.md, back up and restore
    "deploy/backup-sqlite /srv/mysite/var /srv/mysite/backups 14": RUN,
    "sqlite3 /srv/mysite/var/db.sqlite3 \".backup '/srv/mysite/backups/db.sqlite3'\"": RUN,
    "sqlite3 /srv/mysite/var/db.sqlite3 \"VACUUM INTO '/srv/mysite/backups/db-compact.sqlite3'\"": RUN,
    "sudo systemctl stop mysite-web mysite-consumer": SYSTEMD,
    "cd /srv/mysite/var": RUN,
    "rm -f db.sqlite3-wal db.sqlite3-shm huey.sqlite3-wal huey.sqlite3-shm": RUN,
    "cp /srv/mysite/backups/<stamp>/db.sqlite3 /srv/mysite/backups/<stamp>/huey.sqlite3 .": RUN,
    "chown mysite:mysite *.sqlite3": "not run: no mysite user in a test (the files are the test's own)",
    "sudo systemctl start mysite-consumer mysite-web": SYSTEMD,
    # docs/operations.md, SQLite to PostgreSQL
    ".venv/bin/python manage.py dumpdata --natural-foreign --exclude contenttypes --exclude auth.permission "
    "> /srv/mysite/backups/data.json": RUN,
    ".venv/bin/python manage.py loaddata /srv/mysite/backups/data.json": RUN,
    "pg_dump -Fc": run_as("pg_dump -Fc <the moved database>", "the database the move just filled"),
    # written inline
    "manage.py check": run_as(".venv/bin/python manage.py check", "from /srv/mysite/app"),
    "manage.py cleanup": run_as(".venv/bin/python manage.py cleanup", "from /srv/mysite/app"),
    "manage.py cleanup [--dry-run]": run_as(".venv/bin/python manage.py cleanup --dry-run", "from /srv/mysite/app"),
    "python manage.py cleanup [--dry-run]": run_as(
        ".venv/bin/python manage.py cleanup --dry-run", "the virtualenv's python"
    ),
    "python manage.py suppression": run_as(".venv/bin/python manage.py suppression", "the virtualenv's python"),
    "python manage.py suppression --lift ADDRESS": run_as(
        ".venv/bin/python manage.py suppression --lift ada@example.com", "an address"
    ),
    "manage.py suppression [--lift ADDRESS]": run_as(
        ".venv/bin/python manage.py suppression --lift bob@example.com", "an address"
    ),
    "manage.py axes_reset_username <name>": run_as(".venv/bin/python manage.py axes_reset_username admin", "a name"),
    ".venv/bin/python manage.py createsuperuser --noinput": RUN,
    "manage.py run_huey": covered(
        "tests/test_durable_consumer.py::test_kill_9_while_tasks_run_loses_none_and_they_run_again_at_restart"
        " (every start_consumer runs it)"
    ),
    "curl -s -H 'Host: mysite.example.com' http://127.0.0.1:8000/health/": covered(
        "tests/test_deploy.py::test_gunicorn_as_the_unit_starts_it_serves_the_site_with_production_settings"
        " (the same request to gunicorn as its unit starts it)"
    ),
    "make run": covered("tests/test_makefile.py::test_make_run_takes_a_port_and_ctrl_c_stops_it_cleanly"),
    "make run PORT=8001": covered("tests/test_makefile.py::test_make_run_takes_a_port_and_ctrl_c_stops_it_cleanly"),
    "make setup": covered(
        "tests/test_makefile.py::test_a_fresh_clone_runs_manage_py_commands_as_the_readme_writes_them"
    ),
    "make test": SUITE,
    "make test-pg-redis": SUITE,
    "make test-django6": SUITE,
    ".ci/run": SUITE,
    "make bench": BENCH,
    "make bench-quick": BENCH,
    "make bench-metrics": BENCH,
    "make bench-scaling": BENCH,
    "python -m benchmarks.pair <old checkout> 5": BENCH,
    "make .venv/.dev": "not run: the virtualenv with the test and bench tools, which `make test` builds before this suite",
    "make faults": BENCH,
    "make faults-quick": BENCH,
    "make profile-drain": BENCH,
    "python -m benchmarks": BENCH,
    "python -m benchmarks --only goals": BENCH,
    "python -m benchmarks.images": BENCH,
    "python -m benchmarks.metrics_scrape": BENCH,
    "python -m benchmarks.webhooks": BENCH,
    "python -m benchmarks.scaling": BENCH,
    "python -m benchmarks.faults 12": BENCH,
    "make test TEST_WORKERS=2": SUITE,
    "make test-fast": SUITE,
    "make screenshots": "not run: it runs the browser tests of this suite again (they run in it), saving docs/*.png",
    ".venv/bin/pytest -n 4": SUITE,
    '.venv/bin/pytest -m "not consumer and not browser and not slow and not process"': SUITE,
    ".venv/bin/pytest tests/test_signup.py": SUITE_PART,
    ".venv/bin/pytest tests/test_signup.py::test_a_wrong_confirmation_link_is_a_400": SUITE_PART,
    ".venv/bin/pytest -k refused -x": SUITE_PART,
    ".venv/bin/pip install -r requirements-dev.txt": "not run: a network install (the suite's virtualenv has them)",
    # docs/flows.md: pausing queues (the command itself, through call_command)
    "manage.py tasks pause QUEUE": covered(PAUSE_TESTS),
    "python manage.py tasks pause default": covered(PAUSE_TESTS),
    "python manage.py tasks resume default": covered(PAUSE_TESTS),
    "python manage.py tasks list": covered(PAUSE_TESTS),
    "systemctl --failed": SYSTEMD,
    "systemctl list-timers mysite-backup": SYSTEMD,
    "systemctl reload mysite-web": SYSTEMD,
}


def block_lines(text):
    """The commands of each shell block: ``[[command, ...], ...]``, comments and continuations resolved."""
    blocks = []
    for indent, body in BLOCK.findall(text):
        body = "\n".join(line[len(indent) :] for line in body.splitlines()).replace("\\\n", " ")
        lines = [re.sub(r"\s+#\s.*$", "", line).strip() for line in body.splitlines()]
        blocks.append([" ".join(line.split()) for line in lines if line and not line.startswith("#")])
    return blocks


def inline_commands(text):
    prose = FENCE.sub("", text)
    spans = (" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose))
    return {span for span in spans if INLINE_COMMAND.match(span)}


def documented():
    """``{command: [doc, ...]}`` for every command in README.md and docs/*.md."""
    found = {}
    for doc in DOCS:
        text = doc.read_text()
        for command in [c for block in block_lines(text) for c in block] + sorted(inline_commands(text)):
            found.setdefault(command, []).append(doc.name)
    return found


def test_every_command_in_the_docs_is_run_or_listed_with_its_reason():
    found = documented()

    missing = sorted(set(found) - set(COMMANDS))
    assert not missing, f"commands in the docs that no test runs and no reason excuses: {missing}"
    stale = sorted(set(COMMANDS) - set(found) - {".venv/bin/python manage.py createsuperuser --noinput"})
    assert not stale, f"listed here but no longer in the docs: {stale}"
    for why in COMMANDS.values():
        for path, name in re.findall(r"(tests/\w+\.py)::(\w+)", why):
            assert f"def {name}(" in (BASE / path).read_text(), f"{path}::{name} does not exist"


# --- running them ------------------------------------------------------------------------------------------


class Host:
    """A copy of this checkout at ``<tmp>/srv/mysite/app`` that runs the docs' lines as a shell would."""

    def __init__(self, tmp_path):
        self.srv = tmp_path / "srv" / "mysite"
        self.app = self.srv / "app"
        self.cwd = self.srv
        self.stamp = None
        self.ran = []
        files = subprocess.run(["git", "ls-files", "-z"], cwd=BASE, capture_output=True, check=True).stdout
        for name in files.decode().split("\0"):
            if name and (BASE / name).is_file():
                (self.app / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(BASE / name, self.app / name)
        (self.app / ".venv").symlink_to((BASE / ".venv").resolve())

    def env(self):
        """A clean shell: settings come from the copy's .env, as on the server."""
        keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
        return {**keep, "DJANGO_SUPERUSER_PASSWORD": "a-Long-pass-42"}

    def sh(self, command):
        """Run one line as bash would (``/srv/mysite`` is the test's), failing the test if it fails."""
        line = command.replace("/srv/mysite", str(self.srv))
        if self.stamp:
            line = line.replace("<stamp>", self.stamp)
        if line.startswith("cd "):
            self.cwd = Path(line[3:])
            return ""
        done = subprocess.run(
            ["bash", "-c", line], cwd=self.cwd, env=self.env(), capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        self.ran.append(command)
        return done.stdout + done.stderr

    def follow(self, block, after=None):
        """Run a block of the docs in order: each line as ``COMMANDS`` says (run, run as, or not run)."""
        for command in block:
            verdict = COMMANDS[command]
            if verdict == RUN:
                out = self.sh(command)
            elif verdict.startswith("run here as `"):
                out = self.sh(verdict.split("`")[1])
            else:
                continue
            if after and command in after:
                after[command](out)

    def set_env(self, **values):
        """Edit the copy's .env, as the docs' "edit .env" step says."""
        path = self.app / ".env"
        lines = [line for line in path.read_text().splitlines() if line.split("=", 1)[0] not in values]
        path.write_text("\n".join([*lines, *(f"{k}={v}" for k, v in values.items())]) + "\n")

    def db(self, sql):
        with sqlite3.connect(self.srv / "var" / "db.sqlite3") as db:
            return db.execute(sql).fetchall()


def operations_blocks():
    return block_lines((BASE / "docs" / "operations.md").read_text())


def install(host):
    """docs/operations.md's install block, with its "edit .env" step (a generated SECRET_KEY, the paths)."""
    install_block = operations_blocks()[0]

    def edit_env(_):
        text = (host.app / ".env").read_text().replace("/srv/mysite", str(host.srv))
        (host.app / ".env").write_text(text)
        key = host.sh('python3 -c "import secrets; print(secrets.token_urlsafe(50))"').strip()
        host.set_env(SECRET_KEY=key, EMAIL_URL="dummymail://")

    checks = {
        "cp .env.example .env && chmod 600 .env": edit_env,
        ".venv/bin/python manage.py check --deploy": lambda out: _assert("no issues" in out, out),
        ".venv/bin/python manage.py createsuperuser": lambda out: _assert("Superuser created" in out, out),
    }
    host.follow(install_block, after=checks)
    assert oct((host.app / ".env").stat().st_mode & 0o777) == "0o600"


def _assert(condition, out):
    assert condition, out


pytestmark = pytest.mark.slow


def test_install_upgrade_back_up_and_restore_as_docs_operations_md_writes_them(tmp_path):
    host = Host(tmp_path)
    install, upgrade, backup, restore = operations_blocks()[:4]
    globals()["install"](host)
    assert host.db("SELECT username FROM auth_user") == [("admin",)]
    for address in ("ada@example.com", "bob@example.com"):  # for `suppression --lift ADDRESS`
        host.db(
            "INSERT INTO notifications_suppression (address, reason, failed_at) "
            f"VALUES ('{address}', '550 no such user', '2026-01-01 00:00:00')"
        )
    for command in sorted(c for c in COMMANDS if c.startswith(("manage.py", "python manage.py"))):
        host.cwd = host.app
        host.follow([command])  # the inline ones: check, cleanup, suppression, axes_reset_username

    host.follow(upgrade)
    (host.stamp,) = [p.name for p in (host.srv / "backups").iterdir() if p.is_dir()]
    host.follow(backup)
    assert (host.srv / "backups" / "db.sqlite3").stat().st_size > 0
    assert (host.srv / "backups" / "db-compact.sqlite3").stat().st_size > 0

    host.db("DELETE FROM auth_user")  # a mistake after the backup
    host.follow(restore)
    assert host.db("SELECT username FROM auth_user") == [("admin",)]
    assert "deploy/backup-sqlite /srv/mysite/var /srv/mysite/backups 14" in host.ran


@pytest.fixture
def postgres_target():
    """An empty PostgreSQL database beside the test database (``<test db>_move``), emptied afterwards.

    Emptied (its schema dropped and made again), not dropped: DROP DATABASE waits for a checkpoint of the whole
    server, which took 53 s while a second suite wrote beside this one. It is made once per test database name.
    """
    if connection.vendor != "postgresql":
        pytest.skip("the move to PostgreSQL runs in the PostgreSQL run of the suite (make test-pg-redis)")
    import psycopg

    conf = connection.settings_dict
    name = f"{conf['NAME']}_move"
    server = dict(host=conf["HOST"] or "127.0.0.1", port=conf["PORT"] or 5432, user=conf["USER"])
    with psycopg.connect(dbname="postgres", password=conf["PASSWORD"], autocommit=True, **server) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')

    def empty():
        with psycopg.connect(dbname=name, password=conf["PASSWORD"], autocommit=True, **server) as target:
            target.execute("DROP SCHEMA public CASCADE")
            target.execute("CREATE SCHEMA public")

    empty()
    password = f":{conf['PASSWORD']}" if conf["PASSWORD"] else ""
    yield f"postgres://{server['user']}{password}@{server['host']}:{server['port']}/{name}", name
    empty()


def test_moving_from_sqlite_to_postgresql_as_docs_operations_md_writes_it(tmp_path, postgres_target):
    url, name = postgres_target
    host = Host(tmp_path)
    install(host)
    (move,) = [b for b in operations_blocks() if any("dumpdata" in c for c in b)]

    def dumped(_):
        data = json.loads((host.srv / "backups" / "data.json").read_text())  # whole, valid JSON
        assert any(row["model"] == "auth.user" and row["fields"]["username"] == "admin" for row in data)
        host.set_env(DATABASE_URL=url)  # "now set DATABASE_URL in .env to the PostgreSQL database"

    host.follow(move, after={move[1]: dumped})

    shell = ".venv/bin/python manage.py shell -c 'from django.contrib.auth.models import User; print(list(User.objects.values_list(\"username\", flat=True)))'"
    assert "['admin']" in host.sh(shell)
    dump = tmp_path / "pg.dump"
    host.sh(f"pg_dump -Fc {url} > {dump}")
    assert dump.read_bytes().startswith(b"PGDMP")
