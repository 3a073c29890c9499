# Two commands: `make demo` runs the demo village, `make test` runs the whole suite.
# Both set everything up first: system packages, a virtual environment, the Python packages.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 8000
# The phone app's QR decoder (for browsers without BarcodeDetector), from the npm registry at
# setup, checked against its known digest, and shipped in the package's static files: the app
# never fetches anything from outside at run time.
JSQR_VERSION := 1.4.0
JSQR_SHA256  := bc40c8a15196236b2314db0856f72ca0b49980cd5413b8c852a7349f5fee0859
JSQR         := field/static/m/jsQR.js
# Each package's English catalogue (translations/en/LC_MESSAGES/messages.po), compiled to the
# .mo file Flask-Babel reads; the .mo files are not kept in git, and one is made again whenever
# its .po is newer.
CATALOGS := $(patsubst %.po,%.mo,$(wildcard */translations/*/LC_MESSAGES/messages.po))

.PHONY: setup system-packages catalogs demo test bench bench-office clean

setup: system-packages $(STAMP) $(JSQR) catalogs

catalogs: $(CATALOGS)

%/LC_MESSAGES/messages.mo: %/LC_MESSAGES/messages.po | $(STAMP)
	$(BIN)/pybabel -q compile -i $< -o $@

system-packages:
	@bash scripts/system-packages.sh

$(STAMP): setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "Could not create a virtual environment: install python3-venv (apt-get install python3-venv)"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

$(JSQR):
	@command -v npm >/dev/null 2>&1 || { echo "The phone app's QR decoder comes from the npm registry: install npm (apt-get install npm)"; exit 1; }
	@tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent jsqr@$(JSQR_VERSION) >/dev/null \
	  && tar xzf jsqr-$(JSQR_VERSION).tgz package/dist/jsQR.js package/LICENSE \
	  && echo "$(JSQR_SHA256)  package/dist/jsQR.js" | sha256sum -c --quiet \
	  && cd - >/dev/null && cp $$tmp/package/dist/jsQR.js $(JSQR) && cp $$tmp/package/LICENSE $(JSQR:.js=.LICENSE) \
	  && rm -rf $$tmp

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
	rm -rf $(VENV) instance/*.db tests/artifacts $(CATALOGS)
