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

# Build and install the collection as a user would, then diagnose this machine.
demo: venv
	rm -rf $(TMP)/demo-install && mkdir -p $(TMP)/demo-install $(REPORT_DIR)
	$(BIN)/ansible-galaxy collection build --force --output-path $(TMP)/demo-install . >/dev/null
	$(BIN)/ansible-galaxy collection install --force -p $(TMP)/demo-install/collections $(TMP)/demo-install/memleak-remediation-*.tar.gz >/dev/null
	ANSIBLE_COLLECTIONS_PATH=$(abspath $(TMP)/demo-install/collections) ANSIBLE_LOCALHOST_WARNING=false \
	ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
	  $(BIN)/ansible-playbook memleak.remediation.diagnose -e memleak_hosts=localhost \
	  -e memleak_report_dir=$(abspath $(REPORT_DIR))

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
