# Two commands do all the set-up (see README): `make smoke` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: setup smoke test test-slow

$(INSTALLED): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt > $(VENV)/pip.log 2>&1 || { grep -v 'is ignored' $(VENV)/pip.log; exit 1; }
	$(BIN)/pip install -q --no-deps -e . >> $(VENV)/pip.log 2>&1 || { grep -v 'is ignored' $(VENV)/pip.log; exit 1; }
	$(BIN)/pip check
	touch $(INSTALLED)

setup: $(INSTALLED)

smoke: $(INSTALLED)
	$(BIN)/python orchestrate.py --grid smoke

test: $(INSTALLED)
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-slow: $(INSTALLED)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m slow
