#!/usr/bin/env bash
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# `make docs`: the reference of the modules, filters, lookup and roles, generated from their
# DOCUMENTATION and meta/argument_specs.yml with antsibull-docs, then built to HTML with Sphinx.
#
#  1. `antsibull-docs lint-collection-docs --plugin-docs` checks every DOCUMENTATION/EXAMPLES/RETURN
#     and argument spec against the schema, and every reference in them (P(), O(), RV(), M(), L(),
#     seealso) against this collection and the collections installed beside it.
#  2. `antsibull-docs sphinx-init` + `collection --fail-on-error` write the RST into
#     .tmp/docs-build/rst; sphinx-build (nitpicky) turns it into .tmp/docs-build/build/html.
#  3. Every Sphinx warning fails the build, except the labels that only the Ansible docsite
#     defines (ansible.builtin plugins, common_return_values, ...): they resolve through
#     intersphinx against docs.ansible.com, which this build does not fetch (it runs offline).
#
# Needs the venv (antsibull-docs, sphinx, sphinx-ansible-theme, ansible-pygments) on PATH and
# ANSIBLE_COLLECTIONS_PATH pointing at the collections root holding memleak.remediation.
set -euo pipefail

collection_dir=${1:?usage: build.sh COLLECTION_DIR DEST_DIR}
dest=${2:?usage: build.sh COLLECTION_DIR DEST_DIR}

antsibull-docs lint-collection-docs --plugin-docs "$collection_dir"

rm -rf "$dest"
mkdir -p "$dest"
antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir "$dest" memleak.remediation >/dev/null
# Offline: no intersphinx inventories (the external labels are filtered below instead).
echo 'intersphinx_mapping = {}' >>"$dest/conf.py"

mkdir -p "$dest/rst"
chmod og-w "$dest/rst"
antsibull-docs --config-file "$dest/antsibull-docs.cfg" collection --cleanup everything \
    --fail-on-error --use-current --dest-dir "$dest/rst" memleak.remediation

warnings="$dest/sphinx-warnings.log"
if ! sphinx-build -M html "$dest/rst" "$dest/build" -c "$dest" -q -n -w "$warnings" 2>"$dest/sphinx-stderr.log"; then
    cat "$dest/sphinx-stderr.log" >&2
    exit 1
fi

# Labels defined by the Ansible docsite, not by this collection (action_plugins: the note antsibull-docs
# adds to a module that has an action plugin).
external="undefined label: '(ansible_collections\.ansible\.builtin\.[a-z_]+_(module|lookup|filter|test)"
external+="|common_return_values|ansible_configuration_settings|action_plugins)'"
if grep -v -E "$external" "$warnings" | grep -q .; then
    echo "Sphinx warnings (broken references or markup) in the generated reference:" >&2
    grep -v -E "$external" "$warnings" >&2
    exit 1
fi
echo "Reference built: $dest/build/html/collections/memleak/remediation/index.html"
