# The two commands of the README: `make demo` and `make test`. Everything they need
# is installed here, so a fresh Debian/Ubuntu machine needs nothing by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TMP := .tmp
COLLECTIONS := $(TMP)/collections
REPORT_DIR ?= $(TMP)/demo-report

.PHONY: demo test venv units integration sanity lint clean

$(BIN)/ansible-playbook: requirements.txt tests/requirements.txt
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

units: venv
	$(BIN)/python -m pytest -q tests/unit

integration: venv
	$(BIN)/python -m pytest -q tests/integration

test: venv units sanity lint integration

clean:
	rm -rf $(TMP) tests/output
