# homelab_kit: `make lab` opens the workbench on the demo lab; `make test` runs the whole suite.
# Both install what they need first (a .venv, pip packages, Debian packages).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHE := .cache
DEMO := data/demo
RUNTIME_DEBS := restic rsync sqlite3
TEST_DEBS := openssh-server openssh-client chromium nix-bin acl systemd postgresql-15

.PHONY: lab test setup setup-test debs debs-test venv venv-test demo lint format bench clean

ALLOW_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

lab: setup demo
	HOMELAB_LAB=$(CURDIR)/$(DEMO)/lab.toml $(BIN)/jupyter lab --notebook-dir=notebooks $(ALLOW_ROOT)

test: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q -ra

setup: debs venv
setup-test: debs-test venv-test $(CACHE)/restic-trixie/restic

debs:
	@scripts/ensure-debs.sh $(RUNTIME_DEBS)

debs-test:
	@scripts/ensure-debs.sh $(RUNTIME_DEBS) $(TEST_DEBS)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

venv: $(BIN)/python
	$(BIN)/pip install -q -e .

venv-test: $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'

$(CACHE)/restic-trixie/restic:
	scripts/fetch-restic-trixie.sh $(CACHE)

demo: venv
	@[ -f $(DEMO)/lab.toml ] || $(BIN)/homelab-kit demo --dir $(DEMO)

lint:
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format:
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

bench: setup-test
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(CACHE) $(DEMO)
