# Two commands: `make demo` runs the demo village, `make test` runs the whole suite.
# Both set everything up first: system packages, a virtual environment, the Python packages.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 8000

.PHONY: setup system-packages demo test bench bench-office clean

setup: system-packages $(STAMP)

system-packages:
	@bash scripts/system-packages.sh

$(STAMP): setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "Could not create a virtual environment: install python3-venv (apt-get install python3-venv)"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: setup
	$(BIN)/zongzhi db upgrade
	$(BIN)/zongzhi demo --port $(PORT)

test: setup
	$(BIN)/python -m pytest -n 2 -q

bench: setup
	$(BIN)/python bench/ledger.py --small

bench-office: setup
	$(BIN)/python bench/office.py

clean:
	rm -rf $(VENV) instance/*.db tests/artifacts
