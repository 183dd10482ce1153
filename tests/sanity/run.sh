#!/usr/bin/env bash
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# `make sanity`: ansible-test sanity on a copy of this checkout.
#
# ansible-test only runs inside .../ansible_collections/NAMESPACE/NAME, so the tracked and
# untracked-but-not-ignored files are copied to
#   .tmp/sanity/ansible_collections/memleak/remediation
# (the collections this one uses are installed beside it, in .tmp/sanity/ansible_collections).
#
# Nothing is downloaded at test time except Python packages through pip:
#  * --venv makes ansible-test build one virtual environment per sanity test, with the pinned
#    requirements it ships, installed by pip. ansible-test passes pip a stripped environment
#    (HOME and PATH stay), so pip's index settings come from pip.conf
#    (~/.config/pip/pip.conf or /etc/pip.conf), not from PIP_* variables.
#  * Those environments start without pip, and ansible-test would fetch a get-pip script to
#    fill them. tests/sanity/pip_bootstrap.py, which installs Python's bundled pip with
#    ensurepip, is put in ansible-test's cache under the name it looks for instead.
#
# Arguments are passed on to ansible-test sanity (e.g. `tests/sanity/run.sh --test pep8`).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${VENV:-.venv}
case $venv in /*) ;; *) venv=$root/$venv ;; esac
python=$venv/bin/python
python_version=${SANITY_PYTHON:-3.11}
dest=$root/.tmp/sanity/ansible_collections/memleak/remediation

if ! command -v rsync >/dev/null; then
    echo "sanity: rsync is required (apt-get install rsync; .ci/run installs it)" >&2
    exit 2
fi

# 1. The copy: exactly what git would put in a clone, plus new files that are not ignored
#    (.gitignore keeps .venv, .tmp and tests/output out).
rm -rf "$dest"
mkdir -p "$dest"
(cd "$root" && git ls-files -z --cached --others --exclude-standard) |
    rsync -a --from0 --files-from=- --ignore-missing-args "$root/" "$dest/"
# ansible-test lists a collection's files with git from the nearest .git upwards; without one of
# its own the copy would be seen as part of this checkout, where .tmp is ignored (no targets).
git -C "$dest" init -q

# The collections this one uses go into the same ansible_collections root (from PyPI, see
# tests/install_collections.py; kept between runs, only this collection's copy is renewed).
"$python" "$root/tests/install_collections.py" "$root/.tmp/sanity"

# 2. Our pip bootstrap, under the name ansible-test reads from its cache
#    (ansible_test/_util/target/setup/requirements.py: ~/.ansible/test/cache/get_pip_<version>.py).
#    The pip version it asks for may depend on the Python version: cover every supported one.
pip_versions=$("$python" -c '
import types
from ansible_test._internal.constants import SUPPORTED_PYTHON_VERSIONS
from ansible_test._internal.python_requirements import get_venv_packages
print(" ".join(sorted({get_venv_packages(types.SimpleNamespace(version=v))["pip"] for v in SUPPORTED_PYTHON_VERSIONS})))')
cache=$HOME/.ansible/test/cache
mkdir -p "$cache"
for pip_version in $pip_versions; do
    cp "$here/pip_bootstrap.py" "$cache/get_pip_${pip_version//./_}.py"
done

# 3. PowerShell modules: validate-modules reads a .ps1 module's argument spec by running it in
#    pwsh and aborts when pwsh is missing (it cannot be installed from the package sources this
#    project uses). Without pwsh each .ps1 module is skipped for that one test, in the copy only;
#    its documentation (.py or .yml beside it) is still validated, and pslint reports itself
#    skipped. With pwsh on PATH nothing is skipped.
core_version=$("$python" -c 'from ansible.release import __version__ as v; print(".".join(v.split(".")[:2]))')
ignore=$dest/tests/sanity/ignore-$core_version.txt
if ! command -v pwsh >/dev/null; then
    mkdir -p "$(dirname "$ignore")"
    if [ -s "$ignore" ] && [ -n "$(tail -c 1 "$ignore")" ]; then
        echo >>"$ignore" # the file lacks its last newline
    fi
    skipped=0
    while IFS= read -r -d '' ps1; do
        ps1=${ps1#./}
        if ! grep -qsF "$ps1 validate-modules!skip" "$ignore"; then
            echo "$ps1 validate-modules!skip  # pwsh not installed: validate-modules cannot read the .ps1 argument spec" >>"$ignore"
            skipped=$((skipped + 1))
        fi
    done < <(cd "$dest" && find ./plugins/modules -name '*.ps1' -print0 2>/dev/null | sort -z)
    if [ "$skipped" -gt 0 ]; then
        echo "sanity: pwsh not installed: validate-modules skips $skipped .ps1 module(s), see $ignore"
    fi
fi

# 4. The tests, all of them on the controller's Python.
cd "$dest"
status=0
"$venv/bin/ansible-test" sanity --venv --python "$python_version" --color no "$@" || status=$?

# 5. Code that runs on managed hosts (modules, module_utils) must work with Python 3.8 and
#    later: compile and import it with each older Python found (pyenv's too). ansible-test
#    looks these up as pythonX.Y on PATH, so each found one is linked into .tmp/sanity/bin.
if [ $# -eq 0 ]; then
    bin=$root/.tmp/sanity/bin
    mkdir -p "$bin"
    # pyenv keeps its versions side by side: look beside the one the venv was made from, too.
    versions_dir=$(dirname "$("$python" -c 'import sys; print(sys.base_prefix)')")
    for version in 3.8 3.9 3.10; do
        interpreter=
        for candidate in "$(command -v "python$version" || true)" \
            "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/"python$version" \
            "$versions_dir"/"$version".*/bin/"python$version"; do
            if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -c '' 2>/dev/null; then
                interpreter=$candidate
                break
            fi
        done
        if [ -z "$interpreter" ]; then
            echo "sanity: WARNING: Python $version not found: module code not compiled/imported with it"
            continue
        fi
        ln -sfn "$interpreter" "$bin/python$version"
        PATH=$bin:$PATH "$venv/bin/ansible-test" sanity --target-python "$version" \
            --test compile --test import --color no || status=$?
    done
fi

exit "$status"
