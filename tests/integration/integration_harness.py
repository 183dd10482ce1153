"""A real OpenSSH server on loopback and helpers to run Ansible against it.

The server is started from its own directory (host key, sshd_config, client key,
authorized keys, log) and never touches /etc/ssh or a system sshd. It accepts
key authentication only, for root and for an unprivileged account, so the
collection is exercised the way an administrator runs it: over SSH, with the
``ssh`` and the ``paramiko`` connection plugins, with and without root.
"""

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
COLLECTIONS = os.path.join(ROOT, ".tmp", "collections")

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
SSH = "/usr/bin/ssh"
# The interpreter on the managed host (the system one, present for every account).
TARGET_PYTHON = "/usr/bin/python3"
# Unprivileged account used as a managed-host login; created once, left in place.
TEST_USER = "memleak-test"
TEST_USER_GECOS = "memleak.remediation integration tests"
# sshd's privilege-separation directory (compiled-in path on Debian/Ubuntu).
PRIVSEP_DIR = "/run/sshd"

# Verdict ids a Linux diagnosis may carry (docs/architecture.md, Verdict ids).
LINUX_VERDICTS = ("healthy", "page_cache", "balloon_inflation", "unaccounted_kernel",
                  "slab_growth", "process_leak", "shmem_tmpfs", "hugepages_reserved")

MIB = 1024 * 1024

# Where the modules keep the host's history and ledger when no path is given: root's, and the
# unprivileged account's (XDG state directory). No test may write there: every run records the paths
# the modules used (callback_plugins/memleak_state_paths.py) and conftest.py checks them after each test.
DEFAULT_STATE_PREFIXES = ("/var/lib/memleak/", "/.local/state/memleak/")
CALLBACK_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "callback_plugins")
STATE_PATHS_LOG = "state-paths.jsonl"


def state_paths(workdir):
    """[{host, module, path}] the runs of one test recorded."""
    path = os.path.join(workdir, STATE_PATHS_LOG)
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


PLAYBOOK_TIMEOUT = 300


def require_root():
    if os.geteuid() != 0:
        pytest.fail("the integration tests start sshd, log in as root, create the account %r and mount "
                    "tmpfs: run them as root (make test does)" % TEST_USER, pytrace=False)


def require_sshd():
    missing = [p for p in (SSHD, SSH_KEYGEN, SSH) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail("OpenSSH is not installed (%s missing): run `apt-get install -y openssh-server "
                    "openssh-client` (make test installs it)" % ", ".join(missing), pytrace=False)


def require_ansible():
    if not os.access(os.path.join(VENV_BIN, "ansible-playbook"), os.X_OK):
        pytest.fail("%s/ansible-playbook is missing: run `make venv` first" % VENV_BIN, pytrace=False)


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


def _run(cmd, **kwargs):
    proc = subprocess.run(cmd, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, **kwargs)
    if proc.returncode != 0:
        pytest.fail("%s failed (rc=%d):\n%s" % (" ".join(cmd), proc.returncode, proc.stdout), pytrace=False)
    return proc.stdout


def ensure_test_user():
    """The unprivileged login: created with a home and a shell when missing.

    Its password field is '*' (no password, not locked): with ``UsePAM no`` sshd
    refuses even key logins to accounts locked with '!'.
    """
    try:
        entry = pwd.getpwnam(TEST_USER)
    except KeyError:
        _run(["useradd", "--system", "--create-home", "--shell", "/bin/sh",
              "--comment", TEST_USER_GECOS, "--password", "*", TEST_USER])
        entry = pwd.getpwnam(TEST_USER)
    else:
        if entry.pw_gecos == TEST_USER_GECOS:
            # Ours from an earlier run: make sure it was not locked in between.
            _run(["usermod", "--password", "*", TEST_USER])
    if not os.path.isdir(entry.pw_dir):
        pytest.fail("account %s exists but its home %s is missing" % (TEST_USER, entry.pw_dir), pytrace=False)
    return entry


def process_stats():
    """{pid: (comm, the fields of /proc/PID/stat after the comm)} of every process; fields[1] is the ppid."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                stat = handle.read()
        except OSError:
            continue  # exited meanwhile
        table[int(entry)] = (stat[stat.find("(") + 1:stat.rfind(")")], stat[stat.rfind(")") + 2:].split())
    return table


class Sshd(object):
    """One sshd process listening on 127.0.0.1:<port> (or other loopback addresses), configured from ``workdir``.

    ``addresses``: the loopback addresses it listens on (same port on each), 127.0.0.1 by default;
    sshd accepts at most 16 (its MAX_LISTEN_SOCKS). The benchmarks give each of many test hosts an
    address of its own (127.0.0.2, 127.0.0.3, ...), so that SSH sees distinct hosts.
    """

    def __init__(self, addresses=("127.0.0.1",)):
        self.workdir = tempfile.mkdtemp(prefix="memleak-sshd-")
        os.chmod(self.workdir, 0o755)  # the unprivileged user's key file is read with its uid
        self.addresses = list(addresses)
        self.port = free_port()
        self.config = os.path.join(self.workdir, "sshd_config")
        self.host_key = os.path.join(self.workdir, "ssh_host_ed25519_key")
        self.client_key = os.path.join(self.workdir, "client_ed25519")
        self.known_hosts = os.path.join(self.workdir, "known_hosts")
        self.control_dir = os.path.join(self.workdir, "cp")
        self.log = os.path.join(self.workdir, "sshd.log")
        self.keys_dir = os.path.join(self.workdir, "authorized_keys")
        self.proc = None

    def start(self, users):
        os.makedirs(self.control_dir, mode=0o700)
        os.makedirs(self.keys_dir, mode=0o755)
        if not os.path.isdir(PRIVSEP_DIR):
            os.makedirs(PRIVSEP_DIR, mode=0o755)
        _run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "memleak-test-host", "-f", self.host_key])
        _run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "memleak-test-client", "-f", self.client_key])
        with open(self.client_key + ".pub") as handle:
            public = handle.read()
        for user in users:
            path = os.path.join(self.keys_dir, user)
            with open(path, "w") as handle:
                handle.write(public)
            os.chmod(path, 0o644)
        sftp = "/usr/lib/openssh/sftp-server"
        lines = [
            "Port %d" % self.port,
        ] + ["ListenAddress %s" % address for address in self.addresses] + [
            "HostKey %s" % self.host_key,
            "PidFile %s" % os.path.join(self.workdir, "sshd.pid"),
            # One file per user under the server's own directory: no ~/.ssh is touched.
            "AuthorizedKeysFile %s/%%u" % self.keys_dir,
            "AllowUsers %s" % " ".join(users),
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "UsePAM no",
            # The work directory sits in /tmp (mode 1777), which StrictModes rejects.
            "StrictModes no",
            "MaxStartups 64",
            "MaxSessions 64",
            "LogLevel VERBOSE",
        ]
        if os.path.exists(sftp):
            lines.append("Subsystem sftp %s" % sftp)
        with open(self.config, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        _run([SSHD, "-t", "-f", self.config])
        self.proc = subprocess.Popen([SSHD, "-D", "-f", self.config, "-E", self.log],
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("sshd exited with rc=%s at start:\n%s" % (self.proc.returncode, self.read_log()),
                            pytrace=False)
            try:
                with socket.create_connection((self.addresses[-1], self.port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"SSH-2.0-"):
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        pytest.fail("sshd did not answer on %s:%d within 15 s:\n%s" % (self.addresses[-1], self.port, self.read_log()),
                    pytrace=False)

    def state_dir(self, name, user):
        """A fresh directory for one inventory host's history and ledger, owned by ``user``.

        Under the server's own directory (mode 0755, removed at the end of the session): the
        unprivileged account can write there, unlike pytest's tmp_path (mode 0700, root's).
        """
        path = tempfile.mkdtemp(prefix="state-%s-" % name, dir=self.workdir)
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
        return path

    def read_log(self):
        try:
            with open(self.log) as handle:
                return handle.read()[-4000:]
        except OSError:
            return "(no sshd log)"

    def _children(self):
        if self.proc is None:
            return []
        return [pid for pid, (dummy_comm, fields) in process_stats().items() if int(fields[1]) == self.proc.pid]

    def stop(self):
        # ControlPersist masters of the ssh connection plugin keep sessions open: close them first.
        if os.path.isdir(self.control_dir):
            for name in os.listdir(self.control_dir):
                subprocess.run([SSH, "-o", "ControlPath=%s" % os.path.join(self.control_dir, name),
                                "-O", "exit", "127.0.0.1"], check=False, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=10)
        if self.proc is not None and self.proc.poll() is None:
            # Let the sessions of the closed masters end by themselves (their children exit cleanly).
            deadline = time.time() + 5
            while self._children() and time.time() < deadline:
                time.sleep(0.1)
            sessions = self._children()
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            for pid in sessions:
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
        shutil.rmtree(self.workdir, ignore_errors=True)


class Host(object):
    """One inventory entry pointing at the test sshd."""

    def __init__(self, name, user, connection="ssh", port=None):
        self.name = name
        self.user = user
        self.connection = connection
        self.port = port


class AnsibleRun(object):
    def __init__(self, cmd, proc, elapsed):
        self.cmd = cmd
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.elapsed = elapsed

    @property
    def output(self):
        return self.stdout + "\n" + self.stderr

    def explain(self):
        return "$ %s\nrc=%d (%.1f s)\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
            " ".join(self.cmd), self.rc, self.elapsed, self.stdout[-12000:], self.stderr[-6000:])


class Ansible(object):
    """Runs ansible / ansible-playbook from the project's venv against the test sshd."""

    def __init__(self, sshd, workdir):
        self.sshd = sshd
        self.workdir = workdir

    def inventory(self, hosts, name="inventory.yml"):
        """Every host gets a history (and ledger) of its own for this test: never the host's default
        /var/lib/memleak, so that no run of another test, of ``make demo`` or of a user changes a verdict
        asserted here. Extra vars (-e memleak_history_path=...) still win."""
        entries = {}
        for host in hosts:
            entry = {
                "ansible_host": "127.0.0.1",
                "ansible_port": host.port or self.sshd.port,
                "ansible_user": host.user,
                "ansible_connection": host.connection,
                "ansible_ssh_private_key_file": self.sshd.client_key,
                "ansible_python_interpreter": TARGET_PYTHON,
                "ansible_host_key_checking": False,
                "memleak_history_path": os.path.join(self.sshd.state_dir(host.name, host.user), "history.jsonl"),
            }
            if host.connection == "ssh":
                entry["ansible_ssh_common_args"] = (
                    "-o UserKnownHostsFile=%s -o StrictHostKeyChecking=no -o ConnectTimeout=10"
                    % self.sshd.known_hosts)
            else:
                entry["ansible_paramiko_host_key_checking"] = False
            entries[host.name] = entry
        path = os.path.join(self.workdir, name)
        with open(path, "w") as handle:
            # JSON is YAML: the inventory plugin reads it as such.
            json.dump({"all": {"hosts": entries}}, handle, indent=2)
        return path

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update({
            "PATH": VENV_BIN + os.pathsep + env.get("PATH", "/usr/bin:/bin"),
            "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
            "ANSIBLE_PIPELINING": "True",
            "ANSIBLE_FORKS": "4",
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_PARAMIKO_LOOK_FOR_KEYS": "False",
            "ANSIBLE_PARAMIKO_RECORD_HOST_KEYS": "False",
            "ANSIBLE_SSH_CONTROL_PATH_DIR": self.sshd.control_dir,
            "ANSIBLE_LOCAL_TEMP": os.path.join(self.workdir, "ansible-local"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "ANSIBLE_TIMEOUT": "20",
            "PYTHONDONTWRITEBYTECODE": "1",
            "ANSIBLE_CALLBACK_PLUGINS": CALLBACK_DIR,
            "ANSIBLE_CALLBACKS_ENABLED": "memleak_state_paths",
            "MEMLEAK_STATE_PATHS_LOG": os.path.join(self.workdir, STATE_PATHS_LOG),
        })
        return env

    def _run(self, cmd):
        start = time.time()
        try:
            proc = subprocess.run(cmd, check=False, cwd=self.workdir, env=self.env(), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  universal_newlines=True, timeout=PLAYBOOK_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            pytest.fail("%s did not finish within %d s\n%s" % (" ".join(cmd), PLAYBOOK_TIMEOUT, exc.output),
                        pytrace=False)
        return AnsibleRun(cmd, proc, time.time() - start)

    def playbook(self, inventory, playbook="memleak.remediation.diagnose", extra_vars=None, args=()):
        cmd = [os.path.join(VENV_BIN, "ansible-playbook"), playbook, "-i", inventory]
        for key, value in (extra_vars or {}).items():
            cmd += ["-e", json.dumps({key: value})]
        cmd += list(args)
        return self._run(cmd)

    def adhoc(self, inventory, pattern, module, module_args=None, args=()):
        cmd = [os.path.join(VENV_BIN, "ansible"), pattern, "-i", inventory, "-m", module]
        if module_args:
            cmd += ["-a", module_args]
        cmd += list(args)
        return self._run(cmd)


def read_text(path):
    assert os.path.isfile(path), "no file %s; its directory holds %s" % (
        path, sorted(os.listdir(os.path.dirname(path))) if os.path.isdir(os.path.dirname(path)) else "nothing")
    with open(path) as handle:
        return handle.read()


def load_report(report_dir, host):
    path = os.path.join(report_dir, "%s.json" % host)
    assert os.path.isfile(path), "no report %s; directory holds %s" % (
        path, sorted(os.listdir(report_dir)) if os.path.isdir(report_dir) else "nothing (missing)")
    with open(path) as handle:
        report = json.load(handle)
    assert set(report) >= {"memleak_snapshot", "memleak_diagnosis"}, "report keys: %s" % sorted(report)
    return report


def recap(output):
    """PLAY RECAP counters per host: {host: {ok: n, changed: n, unreachable: n, failed: n, ...}}."""
    counts = {}
    lines = output.splitlines()
    try:
        start = max(i for i, line in enumerate(lines) if line.startswith("PLAY RECAP"))
    except ValueError:
        return counts
    for line in lines[start + 1:]:
        if ":" not in line or "=" not in line:
            continue
        host, dummy, rest = line.partition(":")
        counts[host.strip()] = {k: int(v) for k, v in (item.split("=") for item in rest.split())}
    return counts


def host_lines(output, host):
    """Lines of the playbook output that begin (after quoting) with 'HOST: '."""
    found = []
    for line in output.splitlines():
        text = line.strip().lstrip('"').strip()
        if text.startswith(host + ": "):
            found.append(text.rstrip('",'))
    return found


class Background(object):
    """A helper process started by a test that holds memory until told to stop.

    The script reads stdin until EOF after printing 'ready': closing stdin (or
    the test runner dying) ends it.
    """

    def __init__(self, script, comm):
        # prctl(PR_SET_NAME) gives the process a name of its own in /proc/PID/comm and status.
        prelude = ("import ctypes, sys\n"
                   "ctypes.CDLL(None).prctl(15, %r, 0, 0, 0)\n" % comm.encode())
        self.comm = comm
        self.proc = subprocess.Popen([TARGET_PYTHON, "-c", prelude + script], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     universal_newlines=True)
        self.pid = self.proc.pid
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.stop()
            pytest.fail("helper process %s did not start: %r %s" % (comm, line, err), pytrace=False)

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for stream in (self.proc.stdout, self.proc.stderr, self.proc.stdin):
            try:
                stream.close()
            except (OSError, ValueError):
                pass


def anon_memory_script(size):
    """Allocate and touch ``size`` bytes of anonymous memory, then wait."""
    return ("data = bytearray(b'\\x5a') * %d\n"
            "print('ready', flush=True)\n"
            "sys.stdin.read()\n" % size)


def deleted_open_script(path, size):
    """Write ``size`` bytes to ``path``, unlink it, keep it open, then wait."""
    return ("f = open(%r, 'wb')\n"
            "chunk = b'\\xa5' * (1024 * 1024)\n"
            "for _ in range(%d): f.write(chunk)\n"
            "f.flush()\n"
            "import os; os.unlink(%r)\n"
            "print('ready', flush=True)\n"
            "sys.stdin.read()\n" % (path, size // MIB, path))


class Tmpfs(object):
    """A tmpfs mounted by the test on a fresh directory; unmounted by stop()."""

    def __init__(self, size, source="memleak-test"):
        self.mount = tempfile.mkdtemp(prefix="memleak-tmpfs-")
        self.mounted = False
        _run(["mount", "-t", "tmpfs", "-o", "size=%d,mode=0755" % size, source, self.mount])
        self.mounted = True

    def fill(self, name, size):
        path = os.path.join(self.mount, name)
        chunk = b"\x5a" * MIB
        with open(path, "wb") as handle:
            for dummy in range(size // MIB):
                handle.write(chunk)
        return path

    def stop(self):
        if self.mounted:
            proc = subprocess.run(["umount", self.mount], check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  universal_newlines=True)
            if proc.returncode != 0:
                # Still busy (a helper did not exit): detach now, the kernel frees it when the holder goes.
                subprocess.run(["umount", "-l", self.mount], check=False,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.mounted = False
        try:
            os.rmdir(self.mount)
        except OSError:
            pass
