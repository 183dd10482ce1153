"""What AWX / Automation Platform gets from this collection, checked without an AWX server.

- execution-environment.yml is a valid ansible-builder 3 definition: `ansible-builder create`
  writes the build context with the Python, system and collection requirements (building the
  image needs podman or docker, which the test machines do not have);
- the wrapper playbooks in awx/ and playbooks/awx_setup.yml pass `ansible-playbook --syntax-check`
  (the awx.awx modules resolved from the collection shipped in the `ansible` package on PyPI,
  installed offline by tests/install_collections.py) and ansible-lint's production profile;
- every wrapper imports a playbook the collection really has.
"""

import glob
import os
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, ".venv", "bin")
COLLECTIONS = os.path.join(ROOT, ".tmp", "collections")
AWX_FILES = sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "awx", "*.yml")))


def _run(cmd, **kwargs):
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("ANSIBLE_"))
    env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1",
               PATH=BIN + os.pathsep + env.get("PATH", "/usr/bin:/bin"))
    return subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=600, check=False, **kwargs)


@pytest.fixture(scope="module")
def awx_collection():
    """awx.awx (and ansible.windows) next to this collection, from the ansible wheel on PyPI."""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    try:
        import install_collections
    finally:
        sys.path.pop(0)
    if "awx/awx" not in install_collections.COLLECTIONS:
        install_collections.COLLECTIONS = tuple(install_collections.COLLECTIONS) + ("awx/awx",)
    assert install_collections.main(["install_collections.py", COLLECTIONS]) == 0
    manifest = os.path.join(COLLECTIONS, "ansible_collections", "awx", "awx", "MANIFEST.json")
    assert os.path.isfile(manifest), "awx.awx was not installed into %s" % COLLECTIONS
    return COLLECTIONS


def test_execution_environment_builds_a_context(tmp_path):
    context = tmp_path / "context"
    run = _run([os.path.join(BIN, "ansible-builder"), "create", "-f", "execution-environment.yml",
                "-c", str(context), "--output-filename", "Containerfile"])
    assert run.returncode == 0, run.stdout
    build = context / "_build"
    python = (build / "requirements.txt").read_text().split()
    for package in ("pywinrm", "pypsrp", "paramiko"):
        assert any(line.startswith(package) for line in python), python
    galaxy = yaml.safe_load((build / "requirements.yml").read_text())
    names = [c["name"] for c in galaxy["collections"]]
    assert {"memleak.remediation", "ansible.windows", "awx.awx"} <= set(names), names
    assert "openssh-clients" in (build / "bindep.txt").read_text()
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-core" in containerfile and "ansible-galaxy" in containerfile


def test_a_broken_execution_environment_is_rejected(tmp_path):
    bad = tmp_path / "ee.yml"
    bad.write_text("version: 3\nimages:\n  base_image:\n    name: quay.io/centos/centos:stream9\n"
                   "dependencies:\n  pyhton: [pywinrm]\n")
    run = _run([os.path.join(BIN, "ansible-builder"), "create", "-f", str(bad), "-c", str(tmp_path / "c")])
    assert run.returncode != 0 and "pyhton" in run.stdout


def test_wrappers_import_playbooks_the_collection_has():
    assert "awx/diagnose.yml" in AWX_FILES
    for path in AWX_FILES:
        with open(os.path.join(ROOT, path)) as handle:
            plays = yaml.safe_load(handle)
        assert len(plays) == 1, path
        target = plays[0]["ansible.builtin.import_playbook"]
        namespace, name, playbook = target.split(".")
        assert (namespace, name) == ("memleak", "remediation"), target
        assert os.path.isfile(os.path.join(ROOT, "playbooks", playbook + ".yml")), target
        assert os.path.basename(path) == playbook + ".yml", path


@pytest.mark.parametrize("playbook", AWX_FILES + ["playbooks/awx_setup.yml"])
def test_syntax_check(awx_collection, playbook):
    run = _run([os.path.join(BIN, "ansible-playbook"), "--syntax-check", playbook])
    assert run.returncode == 0, run.stdout


def test_setup_creates_templates_only_for_existing_wrappers_and_schedules():
    with open(os.path.join(ROOT, "playbooks", "awx_setup.yml")) as handle:
        play = yaml.safe_load(handle)[0]
    templates = play["vars"]["__awx_templates"]
    assert [t["job_type"] for t in templates if "audit" in t["playbook"]] == ["check"]
    schedules = dict((s["template"], s["rrule"]) for s in play["vars"]["__awx_schedules"])
    assert schedules["memleak diagnose"].endswith("RRULE:FREQ=HOURLY;INTERVAL=6")
    assert schedules["memleak audit (check mode)"].endswith("RRULE:FREQ=DAILY;INTERVAL=1")
    modules = [next(k for k in task if k.startswith(("awx.awx.", "ansible.builtin."))) for task in play["tasks"]]
    for module in ("awx.awx.project", "awx.awx.credential", "awx.awx.inventory_source", "awx.awx.job_template",
                   "awx.awx.schedule", "awx.awx.execution_environment"):
        assert module in modules, module
    variables = set(q["variable"] for q in play["vars"]["__awx_diagnose_survey"]["spec"])
    with open(os.path.join(ROOT, "roles", "diagnose", "meta", "argument_specs.yml")) as handle:
        specs = yaml.safe_load(handle)["argument_specs"]
    documented = set(specs["main"]["options"]) | set(specs["summary"]["options"])
    assert variables <= documented, variables - documented


def test_ansible_lint_production_profile(awx_collection):
    files = AWX_FILES + ["playbooks/awx_setup.yml", "execution-environment.yml", "collections/requirements.yml"]
    run = _run([os.path.join(BIN, "ansible-lint"), "--nocolor"] + files)
    assert run.returncode == 0, run.stdout
