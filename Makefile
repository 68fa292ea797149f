# The two commands: `make run` (set up and start everything) and `make test` (the whole suite).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
REDIS_PORT ?= 6379
DNP_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export DNP_TEST_POSTGRES_URL

.PHONY: run test install redis lint test-sqlite test-postgres bench clean

$(BIN)/.installed: pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 saknas: installera python3.11 (t.ex. apt-get install python3.11-venv)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

install: $(BIN)/.installed

# Start a local Redis if none answers; explain how to get one if the binary is missing.
redis:
	@if $(BIN)/python -c "import redis,sys; redis.Redis(port=$(REDIS_PORT), socket_connect_timeout=1).ping()" 2>/dev/null; then \
		echo "Redis svarar på port $(REDIS_PORT)."; \
	elif command -v redis-server >/dev/null; then \
		mkdir -p instance; \
		redis-server --daemonize yes --bind 127.0.0.1 --port $(REDIS_PORT) --save "" --appendonly no --dir instance --logfile redis.log; \
		sleep 0.5; echo "Startade redis-server på port $(REDIS_PORT)."; \
	else \
		echo "Redis saknas. Installera det: 'sudo apt-get install redis-server' (Debian/Ubuntu) eller 'brew install redis' (macOS)."; \
		exit 1; \
	fi

run: install redis
	DNP_ENV=development $(BIN)/flask --app app dnp migrate
	DNP_ENV=development $(BIN)/flask --app app dnp demo-data --if-empty
	PATH="$(CURDIR)/$(BIN):$$PATH" DNP_ENV=development PORT=$(PORT) $(BIN)/honcho start -f Procfile

lint: install
	$(BIN)/ruff check .

test-sqlite: install
	DNP_TEST_DATABASE=sqlite $(BIN)/pytest -q -n 2 -p no:cacheprovider -m "not e2e"

test-postgres: install
	DNP_TEST_DATABASE=postgres $(BIN)/pytest -q -n 2 -p no:cacheprovider -m "not browser"

test: lint test-sqlite test-postgres

bench: install
	$(BIN)/python bench/import_large.py
	$(BIN)/python bench/ss12000_pull.py

clean:
	rm -rf $(VENV) instance
