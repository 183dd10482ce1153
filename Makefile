# The two commands of the README: `make demo` and `make test`. Everything they need
# is installed here, so a fresh Debian/Ubuntu machine needs nothing by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TMP := .tmp
COLLECTIONS := $(TMP)/collections
REPORT_DIR ?= $(TMP)/demo-report

.PHONY: demo test venv units integration eval sanity lint docs system-packages collection-link collections clean

$(BIN)/ansible-playbook: requirements.txt tests/requirements.txt
	bash .ci/system-packages.sh python3-venv
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r tests/requirements.txt
	touch $@

venv: $(BIN)/ansible-playbook

# The demo's own virtualenv: requirements.txt only (what a controller needs), no test tools.
DEMO_VENV ?= $(TMP)/demo-venv
DEMO_BIN := $(DEMO_VENV)/bin
DEMO_INSTALL := $(TMP)/demo-install
# The demo keeps its history under .tmp/, never in this machine's /var/lib/memleak.
DEMO_HISTORY ?= $(TMP)/demo-history/history.jsonl

$(DEMO_BIN)/ansible-playbook: requirements.txt
	@bash .ci/system-packages.sh python3-venv
	@rm -rf $(DEMO_VENV) && $(PYTHON) -m venv --without-pip $(DEMO_VENV)
	@# The controller's own pip installs into the venv (pip >= 22.3: --python), which saves seeding the
	@# venv with a pip of its own; without such a pip, the venv gets one (ensurepip).
	@$(PYTHON) -m pip --python $(DEMO_BIN)/python install -qq --no-compile --disable-pip-version-check \
	  -r requirements.txt 2>/dev/null || { $(DEMO_BIN)/python -m ensurepip -q && \
	  $(DEMO_BIN)/python -m pip install -qq --no-compile --disable-pip-version-check -r requirements.txt; }
	@touch $@

# Build and install the collection as a user would (the tarball stays in .tmp/demo-install/), then
# diagnose this machine: one line per host and where the report is; the whole Ansible output is
# in .tmp/demo.log (printed when the run fails).
demo: $(DEMO_BIN)/ansible-playbook
	@rm -rf $(DEMO_INSTALL) && mkdir -p $(DEMO_INSTALL) $(REPORT_DIR)
	@export ANSIBLE_COLLECTIONS_PATH=$(abspath $(DEMO_INSTALL)/collections) ANSIBLE_LOCALHOST_WARNING=false \
	  ANSIBLE_INVENTORY_UNPARSED_WARNING=false; \
	$(DEMO_BIN)/ansible-galaxy collection build --force --output-path $(DEMO_INSTALL) . >$(TMP)/demo.log 2>&1 && \
	$(DEMO_BIN)/ansible-galaxy collection install --force -p $(DEMO_INSTALL)/collections \
	  $(DEMO_INSTALL)/memleak-remediation-*.tar.gz >>$(TMP)/demo.log 2>&1 && \
	$(DEMO_BIN)/ansible-playbook memleak.remediation.diagnose -e memleak_hosts=localhost \
	  -e memleak_report_dir=$(abspath $(REPORT_DIR)) -e memleak_history_path=$(abspath $(DEMO_HISTORY)) \
	  >>$(TMP)/demo.log 2>&1 || { cat $(TMP)/demo.log; exit 1; }
	@$(DEMO_BIN)/python -c 'import json, sys; print("\n".join(h["line"] for h in json.load(open(sys.argv[1]))["hosts"]))' \
	  $(REPORT_DIR)/summary.json
	@echo "Report: $(abspath $(REPORT_DIR))/index.html"

units: venv system-packages
	$(BIN)/python -m pytest -q tests/unit

integration: venv system-packages collections
	$(BIN)/python -m pytest -q tests/integration

# The analyze playbook over every real capture of tests/fixtures/captures/{corpus,sets}, scored against
# tests/fixtures/captures/expected.yml: prints `N/M correct` and a confusion table, fails below 95 %.
eval: venv collections
	$(BIN)/python tests/eval/run_eval.py

# ansible-test sanity on a copy at .tmp/sanity/ansible_collections/memleak/remediation, one
# virtualenv per test, nothing fetched but pip packages (tests/sanity/run.sh says how).
sanity: venv system-packages
	bash tests/sanity/run.sh

# ansible-lint, `profile: production`, offline (.ansible-lint). Offline it does not install this
# collection, so it finds memleak.remediation through the same link as the tests.
lint: venv collections
	PATH=$(abspath $(BIN)):$$PATH ANSIBLE_COLLECTIONS_PATH=$(abspath $(COLLECTIONS)) ansible-lint --nocolor

# Debian packages the tests need (.ci/system-packages.sh lists them): installed when run as root.
system-packages:
	bash .ci/system-packages.sh

collection-link:
	mkdir -p $(COLLECTIONS)/ansible_collections/memleak
	ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/memleak/remediation

# This collection next to the collections it uses (tests/install_collections.py: from PyPI).
collections: venv collection-link
	$(BIN)/python tests/install_collections.py $(COLLECTIONS)

# The module/filter/lookup/role reference from their DOCUMENTATION (antsibull-docs + Sphinx) in
# $(TMP)/docs-build; fails on schema errors and broken references (tests/docs/build.sh says how).
docs: venv collections
	PATH=$(abspath $(BIN)):$$PATH ANSIBLE_COLLECTIONS_PATH=$(abspath $(COLLECTIONS)) \
	  bash tests/docs/build.sh $(COLLECTIONS)/ansible_collections/memleak/remediation $(TMP)/docs-build

test: system-packages venv units sanity lint integration eval docs

# Performance against the baselines users know (benchmarks/README.md): prints the tables and
# writes benchmarks/results.md. Minutes, not part of `make test`.
.PHONY: bench
bench: venv
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(TMP) tests/output
