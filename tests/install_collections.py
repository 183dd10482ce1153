# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install the collections this one uses, offline from Galaxy, into a collections directory.

    python tests/install_collections.py .tmp/collections

The test machines reach PyPI but not Galaxy. The community package ``ansible`` on
PyPI ships every collection it includes already installed (with MANIFEST.json and
FILES.json) under ``ansible_collections/``. This downloads that one wheel without
its dependencies (``pip download --no-deps``, about 55 MB, cached in
``.tmp/wheels``) and extracts only the collections named in COLLECTIONS: nothing
is installed into the Python environment. ansible-lint and the integration tests
then resolve ``ansible.windows.*`` through ANSIBLE_COLLECTIONS_PATH.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile

# ansible 12.x is the community package built for ansible-core 2.19.
ANSIBLE_PACKAGE = "ansible>=12,<13"
COLLECTIONS = ("ansible/windows", "awx/awx")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WHEELS = os.path.join(ROOT, ".tmp", "wheels")


def _wheel():
    os.makedirs(WHEELS, exist_ok=True)
    found = sorted(n for n in os.listdir(WHEELS) if n.startswith("ansible-") and n.endswith(".whl"))
    if not found:
        subprocess.check_call([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                               "--only-binary=:all:", "-d", WHEELS, ANSIBLE_PACKAGE])
        found = sorted(n for n in os.listdir(WHEELS) if n.startswith("ansible-") and n.endswith(".whl"))
    if not found:
        sys.exit("install_collections: pip saved no ansible wheel in %s" % WHEELS)
    return os.path.join(WHEELS, found[-1])


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: install_collections.py COLLECTIONS_DIR")
    dest = os.path.abspath(argv[1])
    wanted = [c for c in COLLECTIONS
              if not os.path.isfile(os.path.join(dest, "ansible_collections", c, "MANIFEST.json"))]
    if not wanted:
        return 0
    with zipfile.ZipFile(_wheel()) as wheel:
        for name in wanted:
            prefix = "ansible_collections/%s/" % name
            members = [m for m in wheel.namelist() if m.startswith(prefix)]
            if not members:
                sys.exit("install_collections: %s is not in the ansible wheel" % name.replace("/", "."))
            target = os.path.join(dest, "ansible_collections", name)
            shutil.rmtree(target, ignore_errors=True)
            for member in members:
                wheel.extract(member, dest)
            with open(os.path.join(target, "MANIFEST.json")) as handle:
                version = json.load(handle)["collection_info"]["version"]
            print("installed %s %s in %s" % (name.replace("/", "."), version, dest))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
