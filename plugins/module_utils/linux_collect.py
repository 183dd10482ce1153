# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read a /proc-style tree and assemble a Linux snapshot (schema 1).

This is the I/O half of ``meminfo_facts``: it opens files under a root (``/``
on a live host, a captured tree or a sosreport folder otherwise) and hands the
text to the pure parsers of ``linux_parsers``. Everything except
``/proc/meminfo`` is optional: a file that cannot be read, or a process that
exits during the scan, becomes one plain sentence in ``warnings`` and never an
exception. A ``/proc/meminfo`` that is missing or is not meminfo raises
:class:`ParseError` naming the file and the line.

Runs on the target: standard library only, Python >= 3.8.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import errno
import heapq
import os
import platform
import stat

from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError
from ansible_collections.memleak.remediation.plugins.module_utils import linux_parsers as lp
from ansible_collections.memleak.remediation.plugins.module_utils import kernel_sources as ks
from ansible_collections.memleak.remediation.plugins.module_utils.schema import new_snapshot

# VMware's balloon driver: vmw_balloon upstream (2.6.34+), vmware_balloon in
# some distribution kernels, vmmemctl when built from the VMware Tools tarball.
VMWARE_BALLOON_MODULES = ("vmw_balloon", "vmware_balloon", "vmmemctl")
VMWARE_BALLOON_PAGE = 4096  # the balloon protocol counts 4 KiB pages

# DMI sys_vendor / product_name fragments that only virtual machines carry.
_DMI_PLATFORMS = (
    ("vmware", ("vmware",)),
    ("kvm", ("qemu", "kvm", "bochs", "openstack nova", "rhev hypervisor", "ovirt", "nutanix ahv")),
    ("xen", ("xen",)),
)
# Vendors that sell both virtual machines and bare metal: virtual only with the
# CPU's hypervisor flag.
_DMI_KVM_CLOUDS = ("amazon ec2", "google compute engine", "alibaba cloud ecs")
# DMI names of hypervisors outside the virt.platform values of the snapshot: virtual, reported 'unknown'.
_DMI_OTHER_VIRTUAL = ("virtualbox", "innotek", "parallels", "bhyve")


# Largest file read from a tree: /proc files are far smaller; a capture's may be anything.
MAX_FILE_BYTES = 64 * 1024 * 1024
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def _open_dir_under(root, parts):
    """A descriptor of root/parts, opened one component at a time without following a link."""
    fd = os.open(root, os.O_RDONLY | _DIRECTORY)
    try:
        for part in parts:
            try:
                child = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno == errno.ENOTDIR and stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode):
                    raise OSError(errno.ELOOP, "%s is a symbolic link" % part)
                raise
            os.close(fd)
            fd = child
    except Exception:
        os.close(fd)
        raise
    return fd


def _parts(rel):
    parts = [p for p in rel.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise OSError(errno.EACCES, "'..' leaves the tree")
    return parts


def read_under(root, rel, max_bytes=MAX_FILE_BYTES, head=False):
    """The bytes of the regular file ``rel`` under ``root``, never through a link.

    Each component is opened under the descriptor of its parent with O_NOFOLLOW,
    so a link anywhere on the path (``proc -> /proc``, ``etc/hostname ->
    /etc/shadow``) fails with ELOOP; a FIFO, device or socket is refused after
    a non-blocking open, and a file above ``max_bytes`` is refused unread
    (``head``: its first ``max_bytes`` are returned instead). Raises OSError.
    """
    parts = _parts(rel)
    if not parts:
        raise OSError(errno.EISDIR, "is a directory")
    parent = _open_dir_under(root, parts[:-1])
    try:
        fd = os.open(parts[-1], os.O_RDONLY | _NOFOLLOW | _NONBLOCK, dir_fd=parent)
    finally:
        os.close(parent)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file (FIFO, device, socket or directory): not read")
        if info.st_size > max_bytes and not head:
            raise OSError(errno.EFBIG, "%d bytes, above the %d-byte limit for one file: not read"
                          % (info.st_size, max_bytes))
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        if head:
            return data[:max_bytes]
        raise OSError(errno.EFBIG, "grew above the %d-byte limit for one file while read" % max_bytes)
    return data


def listdir_under(root, rel):
    """The names in the directory ``rel`` under ``root``, never through a link. Raises OSError."""
    fd = _open_dir_under(root, _parts(rel))
    try:
        return os.listdir(fd)
    finally:
        os.close(fd)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def detect_platform(sys_vendor=None, product_name=None, cpu_flags=None, hypervisor_type=None,
                    proc_xen=False, clocksources=(), vmbus=False):
    """The virtualisation platform from facts readable without root.

    ``cpu_flags`` is the set from /proc/cpuinfo or None when the architecture
    does not list flags. 'none' only when the machine is positively bare metal
    (an x86 CPU without the hypervisor flag and no other sign of a hypervisor);
    'unknown' when it is virtual but the hypervisor is not named, or when
    nothing can be told.
    """
    dmi = ("%s %s" % (sys_vendor or "", product_name or "")).lower()
    vendor = (sys_vendor or "").lower()
    product = (product_name or "").lower()
    has_hv_flag = cpu_flags is not None and "hypervisor" in cpu_flags
    for platform_id, needles in _DMI_PLATFORMS:
        if any(needle in dmi for needle in needles):
            return platform_id
    if "microsoft corporation" in vendor and "virtual machine" in product:
        return "hyperv"
    if any(cloud in dmi for cloud in _DMI_KVM_CLOUDS) and (has_hv_flag or cpu_flags is None):
        return "kvm"
    if (hypervisor_type or "").strip() == "xen" or proc_xen or "xen" in clocksources:
        return "xen"
    if "kvm-clock" in clocksources:
        return "kvm"
    if vmbus or "hyperv_clocksource_tsc_page" in clocksources:
        return "hyperv"
    if has_hv_flag or any(name in dmi for name in _DMI_OTHER_VIRTUAL):
        return "unknown"
    if cpu_flags is not None:
        return "none"
    return "unknown"


# /proc/1/cgroup path fragments of container runtimes (cgroup v1; v2 shows only "0::/").
_CGROUP_CONTAINERS = (("kubepods", "kubernetes"), ("/docker/", "docker"), ("/docker-", "docker"),
                      ("/libpod-", "podman"), ("/lxc/", "lxc"), ("/lxc.payload", "lxc"), ("/machine.slice/", "systemd-nspawn"))


def detect_container(dockerenv=False, containerenv=False, init_container=None, cgroup=None):
    """The container runtime the gather runs in, or None: independent of the platform below it.

    ``init_container`` is the ``container=`` variable of PID 1's environment (systemd's convention,
    readable as root), ``cgroup`` the text of /proc/1/cgroup. A container on a KVM guest is both:
    the platform says kvm, this says docker.
    """
    if init_container:
        value = init_container.strip().lower()
        return {"oci": "container", "lxc-libvirt": "lxc"}.get(value, value) or None
    if containerenv:
        return "podman"
    if dockerenv:
        return "docker"
    for line in (cgroup or "").splitlines():
        for needle, runtime in _CGROUP_CONTAINERS:
            if needle in line:
                return runtime
    return None


def _init_container(text):
    for item in (text or "").split("\0"):
        if item.startswith("container="):
            return item[len("container="):]
    return None


class _Tree(object):
    """Reads files under ``root`` and turns failures into warnings."""

    def mark(self, artifact, rel):
        """Record in ``captured`` that ``artifact`` was read: "live" on this host, else its path in the tree."""
        if self.captured is not None and artifact not in self.captured:
            self.captured[artifact] = "live" if self.live else rel.lstrip("/")

    def __init__(self, root, warnings, captured=None, live=True, max_bytes=MAX_FILE_BYTES):
        self.captured = captured
        self.live = live
        self.root = root
        self.warnings = warnings
        self.is_root_user = hasattr(os, "geteuid") and os.geteuid() == 0
        # A captured tree is data from elsewhere: no link in it is followed and only regular files are read.
        self.confined = not live
        self.max_bytes = max_bytes

    def path(self, rel):
        return os.path.join(self.root, rel.lstrip("/"))

    def open_bytes(self, rel, head=False):
        """The bytes of ``rel``: confined to the tree for a capture, bounded either way. Raises OSError."""
        if self.confined:
            return read_under(self.root, rel, 4096 if head else self.max_bytes, head=head)
        with open(self.path(rel), "rb") as handle:
            data = handle.read(4096 if head else self.max_bytes + 1)
        if len(data) > self.max_bytes and not head:
            raise OSError(errno.EFBIG, "above the %d-byte limit for one file: not read" % self.max_bytes)
        return data

    def exists(self, rel):
        if not self.confined:
            return os.path.exists(self.path(rel))
        parts = _parts(rel)
        try:
            fd = _open_dir_under(self.root, parts[:-1])
        except OSError:
            return False
        try:
            os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
            return True
        except OSError:
            return False
        finally:
            os.close(fd)

    def denied_hint(self):
        if self.is_root_user:
            return "denied even to root (another user namespace or a security module)"
        return "needs root"

    def reason(self, exc):
        if exc.errno in (errno.EACCES, errno.EPERM):
            return "permission denied (%s)" % self.denied_hint()
        if exc.errno in (errno.ENOENT, errno.ESRCH):
            return "not present"
        if exc.errno == errno.ELOOP:
            return "is or passes through a symbolic link: not followed"
        return exc.strerror or str(exc)

    def read(self, rel, label, optional=False):
        """The text of ``rel``, or None (with a warning unless optional and absent)."""
        try:
            return self.open_bytes(rel).decode("utf-8", "replace")
        except (IOError, OSError) as exc:
            if optional and exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            self.warnings.append("%s: %s %s" % (label, self.path(rel), self.reason(exc)))
            return None

    def parse(self, rel, label, parser, optional=False, **kwargs):
        """read() then parser(text, source=rel); a ParseError becomes a warning."""
        text = self.read(rel, label, optional=optional)
        if text is None:
            return None
        try:
            return parser(text, source=self.path(rel), **kwargs)
        except ParseError as err:
            self.warnings.append("%s: %s (ignored)" % (label, err))
            return None

    def first_line(self, rel):
        """First line of a small sysfs/procfs file, stripped; None if unreadable (no warning)."""
        try:
            text = self.open_bytes(rel, head=True).decode("utf-8", "replace")
        except (IOError, OSError):
            return None
        lines = text.strip().splitlines()
        return lines[0].strip() if lines else None

    def listdir(self, rel):
        try:
            if self.confined:
                return listdir_under(self.root, rel)
            return os.listdir(self.path(rel))
        except (IOError, OSError):
            return []


def _read_meminfo(tree, text=None, source=None):
    """The one file that must exist and parse: a failure here raises ParseError.

    ``text`` stands in for the file when a capture has only another tool's figures (``free``)."""
    if text is not None:
        return lp.parse_meminfo(text, source=source or "meminfo")
    path = tree.path("/proc/meminfo")
    try:
        text = tree.open_bytes("/proc/meminfo").decode("utf-8", "replace")
    except (IOError, OSError) as exc:
        raise ParseError("cannot read: %s" % tree.reason(exc), path)
    return lp.parse_meminfo(text, source=path)


def _collect_os(tree, snap, live):
    osinfo = snap["os"]
    release = tree.parse("/etc/os-release", "os", lp.parse_os_release, optional=True)
    if release is None:
        release = tree.parse("/usr/lib/os-release", "os", lp.parse_os_release, optional=True)
    if release:
        osinfo["name"] = release.get("NAME")
        osinfo["version"] = release.get("VERSION_ID")
    osinfo["kernel"] = tree.first_line("/proc/sys/kernel/osrelease")
    osinfo["build"] = tree.first_line("/proc/sys/kernel/version")
    osinfo["arch"] = platform.machine() if live else tree.first_line("/proc/sys/kernel/arch")
    block = tree.first_line("/sys/devices/system/memory/block_size_bytes")
    if block:
        try:
            block_bytes = int(block, 16)
        except ValueError:
            block_bytes = None
        online = 0
        for name in tree.listdir("/sys/devices/system/memory"):
            if name.startswith("memory") and name[6:].isdigit():
                if tree.first_line("/sys/devices/system/memory/%s/state" % name) == "online":
                    online += 1
        if block_bytes and online:
            osinfo["ram_bytes"] = online * block_bytes
    snap["boot_id"] = tree.first_line("/proc/sys/kernel/random/boot_id")


def _collect_platform(tree):
    cpuinfo = tree.read("/proc/cpuinfo", "virt", optional=True)
    flags = lp.parse_cpuinfo_flags(cpuinfo) if cpuinfo else None
    clocks = (tree.first_line("/sys/devices/system/clocksource/clocksource0/available_clocksource") or "").split()
    return detect_platform(
        sys_vendor=tree.first_line("/sys/class/dmi/id/sys_vendor"),
        product_name=tree.first_line("/sys/class/dmi/id/product_name"),
        cpu_flags=flags,
        hypervisor_type=tree.first_line("/sys/hypervisor/type"),
        proc_xen=tree.exists("/proc/xen"),
        clocksources=clocks,
        vmbus=bool(tree.listdir("/sys/bus/vmbus/devices")),
    )


def _collect_container(tree):
    return detect_container(
        dockerenv=tree.exists("/.dockerenv"),
        containerenv=tree.exists("/run/.containerenv"),
        init_container=_init_container(tree.read("/proc/1/environ", "virt", optional=True) if tree.is_root_user else None),
        cgroup=tree.read("/proc/1/cgroup", "virt", optional=True),
    )


def _loaded_modules(tree):
    """Module names from /proc/modules, or from a sosreport's lsmod output; None if neither."""
    names = tree.parse("/proc/modules", "virt", lp.parse_modules, optional=True)
    if names is None:
        names = tree.parse("/sos_commands/kernel/lsmod", "virt", lp.parse_lsmod, optional=True)
    return set(names) if names is not None else None


_DRIVER_CONTROL_FILES = ("bind", "unbind", "uevent", "module", "new_id", "remove_id")


def _has_device(tree, rel):
    """True when the sysfs driver directory ``rel`` has a bound device (not only control files)."""
    return any(name not in _DRIVER_CONTROL_FILES for name in tree.listdir(rel))


def _find_balloon(tree, modules):
    """[(platform, driver name)] for every balloon driver with a trace in the tree.

    Loadable modules show in /proc/modules; drivers built into the kernel only
    in sysfs (a bound virtio/vmbus device, /sys/module/NAME) or debugfs.
    """
    modules = modules or set()
    found = []
    vmw = [m for m in VMWARE_BALLOON_MODULES if m in modules]
    if vmw or tree.exists("/sys/module/vmw_balloon") or tree.exists("/sys/kernel/debug/vmmemctl") \
            or tree.exists("/proc/vmmemctl"):
        found.append(("vmware", vmw[0] if vmw else "vmw_balloon"))
    if "virtio_balloon" in modules or _has_device(tree, "/sys/bus/virtio/drivers/virtio_balloon"):
        found.append(("kvm", "virtio_balloon"))
    if "hv_balloon" in modules or _has_device(tree, "/sys/bus/vmbus/drivers/hv_balloon"):
        found.append(("hyperv", "hv_balloon"))
    if tree.exists("/sys/devices/system/xen_memory/xen_memory0"):
        found.append(("xen", "xen_balloon"))
    return found


_EXPECTED_DRIVER = {"vmware": "vmw_balloon", "kvm": "virtio_balloon", "hyperv": "hv_balloon",
                    "xen": "xen_balloon"}


def _run(run_command, argv):
    try:
        return run_command(argv)
    except (IOError, OSError) as exc:
        return 127, "", str(exc)


def _balloon_size(tree, kind, meminfo, vmstat, page_size, run_command, which, live):
    """(bytes, target_bytes) of the balloon, None where unknown, and the warnings to add."""
    notes = []
    size = target = None
    if kind == "vmware":
        denied = None
        for rel in ("/sys/kernel/debug/vmmemctl", "/proc/vmmemctl"):
            raw, err = _read_quiet(tree, rel)
            if raw is None:
                if err in _DENIED and denied is None:
                    denied = "balloon: %s %s" % (tree.path(rel), tree.reason(OSError(err, "")))
                continue
            try:
                stats = lp.parse_vmmemctl(raw, source=tree.path(rel))
            except ParseError as exc:
                notes.append("balloon: %s (ignored)" % exc)
                continue
            size = stats["current_pages"] * VMWARE_BALLOON_PAGE
            if stats["target_pages"] is not None:
                target = stats["target_pages"] * VMWARE_BALLOON_PAGE
            break
        if size is None and live and run_command is not None:
            tool = which("vmware-toolbox-cmd") if which else None
            if tool:
                rc, out, err = _run(run_command, [tool, "stat", "balloon"])
                if rc == 0:
                    try:
                        size = lp.parse_toolbox_balloon(out)
                    except ParseError as exc:
                        notes.append("balloon: %s (ignored)" % exc)
                else:
                    notes.append("balloon: vmware-toolbox-cmd stat balloon failed (rc=%s): %s"
                                 % (rc, (err or out).strip()[:200]))
        if size is None and denied and "Balloon" not in meminfo:
            notes.append(denied)
    elif kind == "kvm" and vmstat:
        if "nr_balloon_pages" in vmstat and page_size:
            size = vmstat["nr_balloon_pages"] * page_size
        elif "balloon_inflate" in vmstat and "balloon_deflate" in vmstat and page_size:
            size = max(0, vmstat["balloon_inflate"] - vmstat["balloon_deflate"]) * page_size
    elif kind == "hyperv":
        stats = tree.parse("/sys/kernel/debug/hv-balloon", "balloon", lp.parse_hv_balloon, optional=True)
        if stats:
            size = stats["pages_ballooned"] * stats["page_size"]
    elif kind == "xen":
        base = "/sys/devices/system/xen_memory/xen_memory0"
        low = tree.parse(base + "/info/low_kb", "balloon", lp.parse_kb_value, optional=True)
        high = tree.parse(base + "/info/high_kb", "balloon", lp.parse_kb_value, optional=True)
        current = tree.parse(base + "/info/current_kb", "balloon", lp.parse_kb_value, optional=True)
        wanted = tree.parse(base + "/target_kb", "balloon", lp.parse_kb_value, optional=True)
        if low is not None and high is not None:
            size = low + high
            if current is not None and wanted is not None:
                # The balloon grows by what the domain holds above its target.
                target = max(0, size + current - wanted)
    if size is None and "Balloon" in meminfo:
        size = meminfo["Balloon"]  # Linux >= 6.15 counts every balloon driver here
    return size, target, notes


def _collect_virt(tree, snap, meminfo, vmstat, page_size, run_command, which, live):
    virt = snap["virt"]
    virt["platform"] = _collect_platform(tree)
    virt["container"] = _collect_container(tree) if live else None
    modules = _loaded_modules(tree)
    found = _find_balloon(tree, modules)
    if found:
        match = [item for item in found if item[0] == virt["platform"]]
        kind, driver = (match or found)[0]
        before = len(snap["warnings"])
        size, target, notes = _balloon_size(tree, kind, meminfo, vmstat, page_size, run_command, which, live)
        snap["warnings"].extend(notes)
        if size is None and len(snap["warnings"]) == before:
            snap["warnings"].append("balloon: %s is loaded but its size is not readable here" % driver)
        virt["balloon"] = {"driver": driver, "loaded": True, "bytes": size, "target_bytes": target}
    elif virt["platform"] in _EXPECTED_DRIVER or modules is not None:
        # Not loaded is proved only by a module list; without one the driver's state is unknown (None).
        virt["balloon"] = {"driver": _EXPECTED_DRIVER.get(virt["platform"]),
                           "loaded": False if modules is not None else None,
                           "bytes": None, "target_bytes": None}
    if modules is not None:
        tree.mark("modules", "/proc/modules" if tree.exists("/proc/modules") else "/sos_commands/kernel/lsmod")
    if virt["platform"] != "unknown":
        tree.mark("platform", "/sys/class/dmi/id")
    if isinstance((virt.get("balloon") or {}).get("bytes"), int):
        tree.mark("balloon", "/sys/kernel/debug")
    if virt["platform"] == "vmware" and live and run_command is not None:
        tool = which("vmware-toolbox-cmd") if which else None
        if not tool:
            snap["warnings"].append("virt: vmware-toolbox-cmd not found: VMware Tools version unknown")
        else:
            rc, out, err = _run(run_command, [tool, "-v"])
            try:
                if rc != 0:
                    raise ParseError("exit code %s: %s" % (rc, (err or out).strip()[:200]), "vmware-toolbox-cmd -v")
                virt["tools"] = {"name": "VMware Tools", "version": lp.parse_toolbox_version(out)}
            except ParseError as exc:
                snap["warnings"].append("virt: %s (VMware Tools version unknown)" % exc)


def _pids(tree):
    return sorted(int(name) for name in tree.listdir("/proc") if name.isdigit())


def _read_quiet(tree, rel):
    """(text, errno) without warning: the process scan summarises failures itself."""
    try:
        return tree.open_bytes(rel).decode("utf-8", "replace"), None
    except (IOError, OSError) as exc:
        return None, exc.errno


_GONE = (errno.ENOENT, errno.ESRCH)
_DENIED = (errno.EACCES, errno.EPERM)


def _collect_processes(tree, pids, top, skip_pid):
    """Top ``top`` processes by PSS (by RSS when PSS is not readable) and {pid: name} of
    every process with user memory (kernel threads left out)."""
    warnings = tree.warnings
    procs = []
    names = {}
    gone = denied_pss = garbled = 0
    no_rollup = []
    candidates = []
    for pid in pids:
        if pid == skip_pid:
            continue
        base = "/proc/%d" % pid
        text, err = _read_quiet(tree, base + "/status")
        if text is None:
            if err in _GONE:
                gone += 1
            continue
        try:
            status = lp.parse_status(text, source=tree.path(base + "/status"))
        except ParseError:
            garbled += 1
            continue
        if status["rss"] is None:
            continue  # kernel thread or zombie: no user memory
        names[pid] = status["name"]
        candidates.append({"pid": pid, "name": status["name"], "rss": status["rss"], "pss": None,
                           "anon": status["anon"], "swap": status["swap"]})
    # PSS <= RSS: once ``top`` processes have a PSS, a process whose RSS is below the smallest of
    # those PSS cannot enter the top, and its smaps_rollup (costly for the kernel and for us with
    # 1,000s of processes) is not read. Largest RSS first, then back to /proc order for the ranking.
    order = dict((entry["pid"], index) for index, entry in enumerate(candidates))
    best = []  # the largest ``top`` PSS seen, as a min-heap
    ranked = sorted(candidates, key=lambda e: e["rss"], reverse=True)
    pruned = 0
    for number, entry in enumerate(ranked):
        if top and len(best) >= top and entry["rss"] < best[0]:
            pruned = len(ranked) - number
            break
        base = "/proc/%d" % entry["pid"]
        text, err = _read_quiet(tree, base + "/smaps_rollup")
        if text is not None:
            try:
                _apply_smaps(entry, lp.parse_smaps_rollup(text, source=base + "/smaps_rollup"))
            except ParseError:
                garbled += 1
        elif err in _DENIED:
            denied_pss += 1
        elif err in _GONE and tree.exists(base + "/status"):
            no_rollup.append(entry)  # kernel older than 4.14
        elif err in _GONE:
            gone += 1
            continue
        if top and entry["pss"] is not None:
            if len(best) < top:
                heapq.heappush(best, entry["pss"])
            elif entry["pss"] > best[0]:
                heapq.heapreplace(best, entry["pss"])
        procs.append(entry)
    procs.sort(key=lambda e: order[e["pid"]])
    if no_rollup:
        # Without smaps_rollup, summing every mapping of every process is costly:
        # read full smaps only for the largest candidates by RSS.
        for entry in sorted(no_rollup, key=lambda e: e["rss"], reverse=True)[:2 * top]:
            rel = "/proc/%d/smaps" % entry["pid"]
            text, err = _read_quiet(tree, rel)
            if text is not None:
                try:
                    _apply_smaps(entry, lp.parse_smaps(text, source=rel))
                except ParseError:
                    garbled += 1
            elif err in _DENIED:
                denied_pss += 1
    if gone:
        warnings.append("processes: %d process(es) exited during the scan" % gone)
    if garbled:
        warnings.append("processes: %d status/smaps file(s) were not in the expected format (skipped)" % garbled)
    missing = sum(1 for p in procs if p["pss"] is None)
    if procs and not missing:
        procs.sort(key=lambda p: (p["pss"], p["rss"]), reverse=True)
    elif procs:
        if no_rollup:
            warnings.append("processes: no smaps_rollup (kernel older than 4.14): ranked by RSS, "
                            "PSS summed from smaps for the %d largest" % min(len(no_rollup), 2 * top))
        else:
            why = "not root" if not tree.is_root_user else "denied even to root"
            if not denied_pss:
                why = "not present"
            warnings.append("processes: smaps_rollup not readable for %d of %d processes (%s): "
                            "ranked by RSS" % (missing, len(procs) + pruned, why))
        # PSS where known, RSS (never smaller than PSS) for the others.
        procs.sort(key=lambda p: (p["pss"] if p["pss"] is not None else p["rss"], p["rss"]), reverse=True)
    return procs[:top], names


def _apply_smaps(entry, fields):
    entry["pss"] = fields.get("Pss")
    if "Rss" in fields:
        entry["rss"] = fields["Rss"]
    if "Anonymous" in fields:
        entry["anon"] = fields["Anonymous"]
    if "Swap" in fields:
        entry["swap"] = fields["Swap"]


def _memory_mounts(mounts):
    """tmpfs/devtmpfs/ramfs mounts, one per mount point (the last mounted wins)."""
    by_point = {}
    for entry in mounts:
        if entry["fstype"] in lp.MEMORY_FSTYPES:
            by_point[entry["mount"]] = entry
    return list(by_point.values())


def _collect_tmpfs(tree, mounts, live):
    out = []
    failed = []
    for entry in _memory_mounts(mounts):
        item = {"mount": entry["mount"], "used": None, "size": lp.size_option_bytes(entry["options"])}
        if live and entry["fstype"] != "ramfs":
            try:
                st = os.statvfs(entry["mount"])
                item["used"] = (st.f_blocks - st.f_bfree) * st.f_frsize
                item["size"] = st.f_blocks * st.f_frsize
            except (IOError, OSError) as exc:
                failed.append("%s (%s)" % (entry["mount"], tree.reason(exc)))
        out.append(item)
    if failed:
        tree.warnings.append("tmpfs: usage not measurable for %s" % ", ".join(failed))
    if out and not live:
        tree.warnings.append("tmpfs: a captured tree has no usage figures (statvfs needs the live "
                             "file system): sizes come from the mount options")
    out.sort(key=lambda m: (m["used"] is not None, m["used"] or 0), reverse=True)
    return out


# Below this much Shmem no deleted file on tmpfs or memfd can hold an amount worth reporting (the
# diagnosis looks at 128 MiB and up by default).
DELETED_SCAN_MIN_SHMEM = 16 * 1024 * 1024


def _files_can_pin_memory(meminfo, mounts):
    """Whether a deleted-but-open file can hold memory worth a scan of every open descriptor.

    Such a file keeps its pages in Shmem (tmpfs, devtmpfs, memfd), in a ramfs mount or, for a
    hugetlb memfd, in huge pages. On a host with thousands of descriptors the scan costs more than
    the rest of the collection; with little Shmem and neither of the others it cannot find
    anything that matters.
    """
    shmem = meminfo.get("Shmem")
    huge_used = (meminfo.get("HugePages_Total") or 0) - (meminfo.get("HugePages_Free") or 0)
    ramfs = any(entry["fstype"] == "ramfs" for entry in mounts)
    return shmem is None or shmem >= DELETED_SCAN_MIN_SHMEM or huge_used > 0 or ramfs


def _collect_deleted(tree, names, mounts, top, live, skip_pid):
    """Unlinked files still open on memory-backed mounts (or memfd), largest first."""
    memory = _memory_mounts(mounts)
    found = {}
    denied = scanned = 0
    for pid in sorted(names):
        if pid == skip_pid:
            continue
        fd_dir = tree.path("/proc/%d/fd" % pid)
        try:
            fds = listdir_under(tree.root, "/proc/%d/fd" % pid) if tree.confined else os.listdir(fd_dir)
        except (IOError, OSError) as exc:
            if exc.errno in _DENIED:
                denied += 1
                scanned += 1
            continue
        scanned += 1
        for fd in fds:
            link = os.path.join(fd_dir, fd)
            try:
                target = os.readlink(link)
            except (IOError, OSError) as exc:
                if exc.errno in _DENIED:
                    denied += 1
                    break
                continue
            path, deleted = lp.parse_fd_target(target)
            if not deleted:
                continue
            if not path.startswith("/memfd:") and lp.mount_of(path, memory) is None:
                continue
            size = None
            if live:
                try:
                    size = os.stat(link).st_blocks * 512
                except (IOError, OSError):
                    continue  # closed in the meantime
            key = (pid, path)
            if key not in found or (size or 0) > (found[key]["bytes"] or 0):
                found[key] = {"pid": pid, "name": names.get(pid), "path": path, "bytes": size}
    if denied:
        tree.warnings.append("deleted_open: open files of %d of %d processes not readable: %s"
                             % (denied, scanned, tree.denied_hint()))
    items = sorted(found.values(), key=lambda d: (d["bytes"] or 0, d["pid"]), reverse=True)
    return items[:top]


# Where each call-site source lives, and how to turn it on when it is missing.
KERNEL_SOURCE_FILES = (
    ("allocinfo", "/proc/allocinfo", "Linux 6.10+ built with CONFIG_MEM_ALLOC_PROFILING, sysctl vm.mem_profiling=1"),
    ("kmemleak", "/sys/kernel/debug/kmemleak", "CONFIG_DEBUG_KMEMLEAK and debugfs mounted"),
    ("page_owner", "/sys/kernel/debug/page_owner", "CONFIG_PAGE_OWNER and the boot option page_owner=on"),
)
PAGE_OWNER_MAX_BYTES = 64 * 1024 * 1024
MODULES_MAX = 500


def _module_totals(sites, top):
    totals = {}
    for site in sites:
        if site.get("module") and site["bytes"] > 0:
            totals[site["module"]] = totals.get(site["module"], 0) + site["bytes"]
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:top]
    return [{"module": name, "bytes": nbytes} for name, nbytes in ranked]


def _read_bounded(tree, rel, limit):
    """(text, truncated) of at most ``limit`` bytes, or (None, False) when unreadable (warned)."""
    try:
        with open(tree.path(rel), "rb") as handle:
            data = handle.read(limit + 1)
    except (IOError, OSError) as exc:
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
            tree.warnings.append("page_owner: %s %s" % (tree.path(rel), tree.reason(exc)))
        return None, False
    truncated = len(data) > limit
    text = data[:limit].decode("utf-8", "replace")
    if truncated:
        text = text[:text.rfind("\n\n") + 1] if "\n\n" in text else text
    return text, truncated


def collect_kernel_sources(tree, snap, top, page_size, live):
    """Who holds the kernel's memory: allocinfo, vmallocinfo, kmemleak, page_owner, modules.

    Each source is read only when present and readable; a missing one is named in one
    warning with how to enable it. Lists are cut to the ``top`` largest plus totals.
    """
    found = {"allocinfo": None, "vmallocinfo": None, "kmemleak": None, "page_owner": None, "modules": None,
             "trace": None}
    captured = snap.setdefault("captured", {})

    def where(rel):
        return "live" if live else rel.lstrip("/")

    alloc = tree.parse("/proc/allocinfo", "allocinfo", ks.parse_allocinfo, optional=True)
    if alloc is not None:
        sites = sorted(alloc["sites"], key=lambda s: (-s["bytes"], s["site"]))
        found["allocinfo"] = {"version": alloc["version"], "total": alloc["total"], "count": len(sites),
                              "sites": sites[:top], "modules": _module_totals(sites, top)}
        captured["allocinfo"] = where("/proc/allocinfo")
    vmalloc = tree.parse("/proc/vmallocinfo", "vmallocinfo", ks.parse_vmallocinfo, optional=True,
                         page_size=page_size)
    if vmalloc is not None:
        found["vmallocinfo"] = {"total": vmalloc["total"], "areas": vmalloc["areas"],
                                "callers": vmalloc["callers"][:top], "modules": _module_totals(vmalloc["callers"], top)}
        captured["vmallocinfo"] = where("/proc/vmallocinfo")
    leak = tree.parse("/sys/kernel/debug/kmemleak", "kmemleak", ks.parse_kmemleak, optional=True)
    if leak is not None:
        found["kmemleak"] = {"objects": leak["objects"], "bytes": leak["bytes"], "sites": leak["sites"][:top],
                             "modules": _module_totals(leak["sites"], top)}
        captured["kmemleak"] = where("/sys/kernel/debug/kmemleak")
    text, truncated = _read_bounded(tree, "/sys/kernel/debug/page_owner", PAGE_OWNER_MAX_BYTES)
    if text is not None:
        try:
            owner = ks.parse_page_owner(text, source=tree.path("/sys/kernel/debug/page_owner"), page_size=page_size)
        except ParseError as err:
            tree.warnings.append("page_owner: %s (ignored)" % err)
            owner = None
        if owner is not None:
            owner["sites"] = owner["sites"][:top]
            owner["truncated"] = truncated
            found["page_owner"] = owner
            captured["page_owner"] = where("/sys/kernel/debug/page_owner")
            if truncated:
                tree.warnings.append("page_owner: only the first %d MiB were read: counts are partial"
                                     % (PAGE_OWNER_MAX_BYTES // (1024 * 1024)))
    modules = tree.parse("/proc/modules", "modules", ks.parse_modules_detail, optional=True)
    if modules is not None:
        for module in modules[:MODULES_MAX]:
            version = tree.first_line("/sys/module/%s/version" % module["name"])
            module["version"] = ks.parse_module_version(version) if version else None
        found["modules"] = modules[:MODULES_MAX]
        captured["modules"] = where("/proc/modules")
    debugfs = "" if tree.listdir("/sys/kernel/debug") or not live else (
        "; debugfs is not mounted: mount -t debugfs none /sys/kernel/debug")
    missing = ["%s (%s)" % (path, how) for name, path, how in KERNEL_SOURCE_FILES
               if found[name] is None and not any(w.startswith(name + ":") for w in tree.warnings)]
    if missing and debugfs:
        missing[-1] += debugfs
    if len(missing) == len(KERNEL_SOURCE_FILES):
        tree.warnings.append("kernel_sources: no call-site source, so kernel memory cannot be attributed to a "
                             "call site: not present: %s; on other kernels trace_seconds traces allocations "
                             "with bpftrace" % "; ".join(missing))
    snap["linux"]["kernel_sources"] = found
    return found


def collect(proc_root="/", top=15, host=None, run_command=None, which=None, live=None,
            collected_at=None, page_size=None, max_file_bytes=MAX_FILE_BYTES, meminfo_text=None, meminfo_source=None):
    """Build a Linux snapshot (schema 1) from the tree under ``proc_root``.

    ``run_command(argv) -> (rc, stdout, stderr)`` and ``which(name) -> path|None``
    are used only on a live host (``vmware-toolbox-cmd``). ``live`` defaults to
    ``proc_root == '/'``: only then are statvfs, fd sizes, uname and commands
    about this machine; otherwise the tree is a capture from elsewhere and no
    link in it is followed, nor any file but a regular one read. No file above
    ``max_file_bytes`` is read. Raises ParseError when /proc/meminfo is unreadable or
    not meminfo; every other problem is a ``warnings`` entry. ``meminfo_text`` (named
    ``meminfo_source``) replaces /proc/meminfo for a capture that lacks it.
    """
    root = proc_root or "/"
    if live is None:
        live = os.path.abspath(root) == "/"
    snap = new_snapshot(host, collected_at or _now(), source="live" if live else "capture")
    tree = _Tree(root, snap["warnings"], snap["captured"], live=live, max_bytes=max_file_bytes)
    meminfo = _read_meminfo(tree, meminfo_text, meminfo_source)
    if meminfo_text is None:
        tree.mark("meminfo", "/proc/meminfo")
    linux = snap["linux"]
    linux["meminfo"] = meminfo
    snap["memory"] = lp.memory_summary(meminfo)
    _collect_os(tree, snap, live)
    if page_size is None and live and hasattr(os, "sysconf"):
        page_size = os.sysconf("SC_PAGE_SIZE")
    if page_size is None:
        page_size = 4096
    vmstat = tree.parse("/proc/vmstat", "vmstat", lp.parse_vmstat) or {}
    linux["vmstat"] = vmstat
    if vmstat:
        tree.mark("vmstat", "/proc/vmstat")
    slab = tree.parse("/proc/slabinfo", "slabinfo", lp.parse_slabinfo)
    if slab is not None:
        tree.mark("slabinfo", "/proc/slabinfo")
        slab.sort(key=lambda c: c["bytes"], reverse=True)
        linux["slab"] = slab[:top]
    linux["dentry_state"] = tree.parse("/proc/sys/fs/dentry-state", "dentry_state", lp.parse_dentry_state,
                                       kernel=snap["os"]["kernel"])
    _collect_virt(tree, snap, meminfo, vmstat, page_size, run_command, which, live)
    collect_kernel_sources(tree, snap, top, page_size, live)
    skip_pid = os.getpid() if live else None
    pids = _pids(tree)
    if not pids:
        snap["warnings"].append("processes: %s holds no process directories" % tree.path("/proc"))
    linux["processes"], names = _collect_processes(tree, pids, top, skip_pid)
    if pids:
        tree.mark("processes", "/proc")
    else:
        linux["processes"] = None  # not captured, which is not "no process"
    mounts = tree.parse("/proc/mounts", "tmpfs", lp.parse_mounts)
    if mounts is not None:
        tree.mark("tmpfs", "/proc/mounts")
    mounts = mounts or []
    linux["tmpfs"] = _collect_tmpfs(tree, mounts, live)
    linux["deleted_open"] = (_collect_deleted(tree, names, mounts, top, live, skip_pid)
                             if _files_can_pin_memory(meminfo, mounts) else [])
    if snap["host"] is None:
        snap["host"] = platform.node() if live else (tree.first_line("/proc/sys/kernel/hostname")
                                                     or tree.first_line("/etc/hostname"))
    return snap
