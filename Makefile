# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run setup postfix test test-fast test-pg-redis screenshots lint format browser nginx bench bench-quick bench-scaling faults faults-quick profile-drain clean test-django6

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

# `make run` and `make setup` are for development: DEBUG is on unless the environment says otherwise.
DEV := DEBUG=$${DEBUG:-true}

# A fresh clone gets development settings: a .env (never committed, see .gitignore) with DEBUG on and a
# generated SECRET_KEY, so every `manage.py` command works as the README writes it. An existing .env is kept.
# Production does not use it (deploy/ sets the environment): there a missing SECRET_KEY still stops the site.
# It holds the secret key: written 0600 (the umask is set before the file exists).
.env:
	@umask 077; printf '# Written by `make setup` for development; production sets its own environment (.env.example).\nDEBUG=true\nSECRET_KEY=%s\n' \
	  "$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > $@
	@echo "wrote .env for development: DEBUG=true and a generated SECRET_KEY"

## setup: virtualenv, requirements, a development .env when none exists, migrations
setup: $(VENV)/.runtime .env
	$(DEV) $(BIN)/python manage.py migrate --noinput

## run: the site on http://127.0.0.1:$(PORT)/ (8000 unless `make run PORT=8001`) and the Huey consumer,
## together, each restarted when a .py file changes (runserver's autoreloader; mysite/reload.py for the consumer,
## which stops it gracefully first). Ctrl-C reaches both (one process group): the consumer finishes its tasks and
## the shell waits for it; when runserver stops by itself the reloader gets SIGTERM and stops the consumer
## gracefully. (`trap 'kill 0'` signalled make itself: a segfault.) Production (deploy/) never reloads.
PORT ?= 8000
run: setup
	@export $(DEV); \
	$(BIN)/python -m mysite.reload & huey=$$!; \
	trap 'kill -TERM $$huey 2>/dev/null; wait $$huey' EXIT; \
	trap 'wait $$huey; exit 0' INT; \
	trap 'exit 0' TERM; \
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

## browser: Debian's Chromium for the browser tests (installed when missing and we are root)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is not installed: browser tests will be skipped (apt-get install chromium)"; fi; }

## nginx: Debian's nginx and openssl for the deploy/nginx.conf test (installed when missing and we are root)
nginx:
	@command -v nginx >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light openssl >/dev/null; \
	  else echo "nginx is not installed: the nginx sample test will be skipped (apt-get install nginx-light)"; fi; }

## test: the whole suite on SQLite (database and queue), plus the Redis queue tests, in TEST_WORKERS parallel
## processes (pytest-xdist; each has its own test database, Redis queue name, ports and temporary folders)
TEST_WORKERS ?= 4
PARALLEL := -n $(TEST_WORKERS) --dist worksteal
test: $(VENV)/.dev browser nginx
	$(BIN)/pytest $(PARALLEL)

## test-pg-redis: the whole suite again on PostgreSQL + Redis queue
test-pg-redis: $(VENV)/.dev browser nginx
	DATABASE_URL=$${PG_URL:-postgres://postgres@127.0.0.1:5432/test} \
	HUEY_URL=$${REDIS_URL:-redis://127.0.0.1:6379/14} \
	$(BIN)/pytest $(PARALLEL)

## test-fast: the edit-test loop, well under a minute: no consumer or other process (manage.py, openssl), no Chromium, nothing slow,
## on SQLite whatever DATABASE_URL/HUEY_URL say (Redis queue tests still run when Redis answers)
test-fast: $(VENV)/.dev
	env -u DATABASE_URL -u HUEY_URL $(BIN)/pytest -n 2 -q -m "not consumer and not browser and not slow and not process"

## screenshots: the browser tests, saving their screenshots as docs/*.png (any other run keeps them in each test's
## temporary folder, so the suite leaves the tree clean); commit the pictures you meant to change
screenshots: $(VENV)/.dev browser
	SCREENSHOTS=docs $(BIN)/pytest -n 2 -m browser

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench: the benchmarks (about 35 minutes); prints the table and writes docs/benchmarks.md, with the run it
## replaces beside it. bench-quick: every section once on small batches; prints only.
bench: $(VENV)/.dev
	$(BIN)/python -m benchmarks

bench-quick: $(VENV)/.dev
	BENCH_QUICK=1 $(BIN)/python -m benchmarks

## bench-scaling: past one machine on PostgreSQL + Redis (under 8 minutes): throughput at 1, 2 and 4 consumer
## processes on two host names, a host killed for good, the claim query at 1,000,000 rows (docs/scaling.md)
bench-scaling: $(VENV)/.dev
	$(BIN)/python -m benchmarks.scaling

## postfix: Debian's postfix for faults scenario 12 (a real relay that says "slow down"), installed when missing and
## we are root; debconf's "No configuration" keeps the system's own instance unconfigured and stopped
postfix:
	@command -v postfix >/dev/null 2>&1 || [ -x /usr/sbin/postfix ] || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null; \
	  else echo "postfix is not installed: faults scenario 12 will fail (apt-get install postfix)"; fi; }

## faults: the fault suite (about 10 minutes); writes docs/reliability.md, fails when a scenario fails
faults: $(VENV)/.dev postfix
	$(BIN)/python -m benchmarks.faults

## faults-quick: the same scenarios, smaller (a couple of minutes; CI runs it)
faults-quick: $(VENV)/.dev postfix
	FAULTS_QUICK=1 $(BIN)/python -m benchmarks.faults

## profile-drain: where a draining consumer spends its time (py-spy)
profile-drain: $(VENV)/.dev
	$(BIN)/python -m benchmarks.profile_drain

## bench-metrics: the cost of one /metrics scrape with 100,000 rows, then the scrapes of a draining queue (issue 13)
bench-metrics: $(VENV)/.dev
	$(BIN)/python -m benchmarks.metrics_scrape
	$(BIN)/python -m benchmarks.metrics_scrape --drain

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache

# --- Durable tasks on Django 6 (issue 10) ------------------------------------------
DJANGO6_PYTHON ?= /root/.pyenv/versions/3.13.0/bin/python
DJANGO6_VENV   := var/django6-venv

$(DJANGO6_VENV)/.ready: requirements.txt requirements-dev.txt
	$(DJANGO6_PYTHON) -m venv $(DJANGO6_VENV)
	$(DJANGO6_VENV)/bin/pip install -q Django==6.1.3 \
	  $$(grep -h -v -E '^(#|-r|Django==|django-tasks==|django-tasks-db==)' requirements.txt requirements-dev.txt | sed 's/ *#.*//')
	touch $@

## test-django6: on Django 6 (Python 3.13, no django-tasks backport): the durable backend's own tests on minimal
## settings, then the project's e-mail (rendering, the outbox backend, delivery, TLS), admin and Tasks API tests
DJANGO6_TESTS := tests/test_composed.py tests/test_one_part.py tests/test_backend.py tests/test_delivery.py \
  tests/test_transport.py tests/test_admin.py tests/test_durable_admin.py tests/test_tasks_api.py
test-django6: $(DJANGO6_VENV)/.ready
	$(DJANGO6_VENV)/bin/python -c "import importlib.util as u, sys; sys.exit(u.find_spec('django_tasks') is not None)"
	$(DJANGO6_VENV)/bin/pytest -p no:cacheprovider --noconftest --ds=tests.settings_django6 tests/test_durable_backend.py -q
	$(DJANGO6_VENV)/bin/pytest -p no:cacheprovider -n 2 -q -W ignore::DeprecationWarning $(DJANGO6_TESTS)
