"""Make the checkout importable as ``ansible_collections.memleak.remediation``.

The repository root is the collection root, so tests import it through a symlink
placed under ``.tmp/collections`` (git-ignored); ansible-playbook runs in the
integration tests use the same path as ANSIBLE_COLLECTIONS_PATH.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".tmp", "collections")
_LINK = os.path.join(COLLECTIONS, "ansible_collections", "memleak", "remediation")

if not os.path.islink(_LINK):
    os.makedirs(os.path.dirname(_LINK), exist_ok=True)
    try:
        os.symlink(ROOT, _LINK)
    except FileExistsError:
        pass
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
