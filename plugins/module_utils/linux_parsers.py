# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parsers for Linux /proc text: ``text -> dict``, no I/O.

They run on the target inside ``meminfo_facts`` (Python >= 3.8, stdlib only)
and on the controller for sosreports, so they must not read files themselves.
Every parser raises :class:`ParseError` naming the source and the line when the
text is not the format it claims to be; none of them guesses a missing value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.memleak.remediation.plugins.module_utils.errors import MAX_NUMBER, ParseError, in_range, whole_number

# File systems whose pages live in RAM (counted in meminfo Shmem, except ramfs
# which the kernel counts as Unevictable and statfs cannot measure).
MEMORY_FSTYPES = ("tmpfs", "devtmpfs", "ramfs")

KIB = 1024


def parse_meminfo(text, source="/proc/meminfo"):
    """Every ``Name: value [kB]`` line, kB converted to bytes; HugePages_* stay counts.

    Raises ParseError naming the line for anything else, and when MemTotal is
    missing (a truncated capture would otherwise produce a silent wrong ledger).
    """
    fields = {}
    lines = text.splitlines()
    last = max([i for i, line in enumerate(lines, 1) if line.strip()] or [0])
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        name, sep, rest = line.partition(":")
        parts = rest.split()
        if not sep or not name.strip() or not parts or len(parts) > 2:
            raise ParseError("expected 'Name: value [kB]', got %r" % line[:80], source, lineno)
        value = whole_number(parts[0], "value of %s" % name.strip(), source, lineno)
        if len(parts) == 1 and lineno == last and not name.strip().startswith("HugePages_"):
            # Only the HugePages_* counts have no unit: a last line without one was cut short.
            raise ParseError("%s has no unit: the file is cut short" % name.strip(), source, lineno)
        if len(parts) == 2:
            if parts[1] != "kB":
                raise ParseError("unknown unit %r for %s" % (parts[1], name.strip()), source, lineno)
            value = in_range(value * 1024, "value of %s" % name.strip(), source, lineno)
        if name.strip() in fields:
            raise ParseError("%s appears twice: which value is the kernel's is unknown" % name.strip(), source, lineno)
        fields[name.strip()] = value
    if "MemTotal" not in fields:
        raise ParseError("no MemTotal line: file is empty or truncated", source)
    return fields


def memory_summary(meminfo):
    """The snapshot's ``memory`` block from parsed meminfo (bytes).

    ``used`` is MemTotal - MemAvailable (the procps-ng >= 4.0 definition). Kernels
    older than 3.14 have no MemAvailable; there used is MemTotal - MemFree -
    Buffers - Cached - SReclaimable, the definition procps used before it.
    """
    total = meminfo.get("MemTotal")
    free = meminfo.get("MemFree")
    available = meminfo.get("MemAvailable")
    used = None
    if total is not None and available is not None:
        used = total - available
    elif total is not None and free is not None:
        used = total - free - meminfo.get("Buffers", 0) - meminfo.get("Cached", 0) \
            - meminfo.get("SReclaimable", 0)
    return {
        "total": total,
        "free": free,
        "available": available,
        "used": used,
        "commit_used": meminfo.get("Committed_AS"),
        "commit_limit": meminfo.get("CommitLimit"),
    }


def _whole(word, what, source, lineno):
    return whole_number(word, what, source, lineno)


def parse_vmstat(text, source="/proc/vmstat"):
    """``name value`` per line -> {name: int}. Counters are pages or events, never kB."""
    fields = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ParseError("expected 'name value', got %r" % line[:80], source, lineno)
        fields[parts[0]] = _whole(parts[1], "value of %s" % parts[0], source, lineno)
    if not fields:
        raise ParseError("no counters: file is empty", source)
    return fields


def parse_slabinfo(text, source="/proc/slabinfo"):
    """Every cache of a slabinfo 2.x file, in file order.

    Each row is ``name active_objs num_objs objsize objperslab pagesperslab :
    tunables ... : slabdata ...``; ``bytes`` is num_objs * objsize, the memory
    the cache's objects occupy (slab overhead not included). A file without the
    version line, a row cut short, or a file with no cache at all is an error:
    a truncated capture must not look like a machine without slab usage.
    """
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ParseError("empty file", source, 1)
    match = re.match(r"^slabinfo - version: (\d+)\.(\d+)", lines[0])
    if not match:
        raise ParseError("first line is not 'slabinfo - version: 2.x': %r" % lines[0][:80], source, 1)
    if match.group(1) != "2":
        raise ParseError("unsupported slabinfo version %s.%s (2.x expected)" % match.groups(), source, 1)
    caches = []
    for lineno, line in enumerate(lines[1:], 2):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) < 6 or (len(fields) > 6 and fields[6] != ":"):
            raise ParseError("slab row cut short or malformed: %r" % line[:80], source, lineno)
        active = _whole(fields[1], "active_objs of %s" % fields[0], source, lineno)
        num = _whole(fields[2], "num_objs of %s" % fields[0], source, lineno)
        size = _whole(fields[3], "objsize of %s" % fields[0], source, lineno)
        caches.append({"name": fields[0], "active_objs": active, "num_objs": num,
                       "objsize": size, "bytes": in_range(num * size, "bytes of %s" % fields[0], source, lineno)})
    if not caches:
        raise ParseError("no slab caches listed: file is truncated after the header", source)
    return caches


def _parse_kb_fields(text, source, allow_header):
    """Sum the ``Name: N kB`` fields of smaps-style text; other lines are checked, not summed."""
    totals = {}
    seen = False
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, rest = line.partition(":")
        parts = rest.split()
        if sep and " " not in name and parts and len(parts) == 2 and parts[1] == "kB":
            value = parts[0]
            number = _whole(value, "value of %s" % name, source, lineno)
            totals[name] = in_range(totals.get(name, 0) + number * KIB, "sum of %s" % name, source, lineno)
            seen = True
        elif sep and " " not in name and name and (name == "VmFlags" or len(parts) == 1):
            # VmFlags: rd wr ...; THPeligible: 0; ProtectionKey: 0 -- not sizes.
            continue
        elif allow_header and re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            continue
        else:
            raise ParseError("expected 'Name: value kB' or a mapping line, got %r" % line[:80], source, lineno)
    if not seen:
        raise ParseError("no 'Name: value kB' fields: file is empty or truncated", source)
    return totals


def parse_smaps_rollup(text, source="/proc/PID/smaps_rollup"):
    """/proc/PID/smaps_rollup (Linux >= 4.14) -> {Field: bytes} (Rss, Pss, Anonymous, Swap ...)."""
    return _parse_kb_fields(text, source, allow_header=True)


def parse_smaps(text, source="/proc/PID/smaps"):
    """/proc/PID/smaps -> {Field: bytes} summed over every mapping.

    The same totals smaps_rollup gives; used on kernels older than 4.14.
    """
    return _parse_kb_fields(text, source, allow_header=True)


def parse_status(text, source="/proc/PID/status"):
    """/proc/PID/status -> {name, pid, rss, anon, swap} (bytes; None when absent).

    Kernel threads and zombies have no VmRSS line: rss is None for them.
    RssAnon exists from Linux 4.5; older kernels give anon None.
    """
    values = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, rest = line.partition(":")
        if not sep or not name or " " in name:
            raise ParseError("expected 'Name:<tab>value', got %r" % line[:80], source, lineno)
        values[name] = (rest.strip(), lineno)
    if "Name" not in values:
        raise ParseError("no Name line: file is empty or truncated", source)

    def kb(field):
        if field not in values:
            return None
        value, lineno = values[field]
        parts = value.split()
        if len(parts) != 2 or parts[1] != "kB":
            raise ParseError("%s is not 'N kB': %r" % (field, value), source, lineno)
        return _whole(parts[0], "value of %s" % field, source, lineno) * KIB

    pid = None
    if "Pid" in values:
        pid = _whole(values["Pid"][0], "Pid", source, values["Pid"][1])
    return {"name": values["Name"][0], "pid": pid, "rss": kb("VmRSS"),
            "anon": kb("RssAnon"), "swap": kb("VmSwap")}


def _unescape_mount(field):
    """/proc/mounts escapes space, tab, newline and backslash as \\ooo octal."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse_mounts(text, source="/proc/mounts"):
    """/proc/mounts (or /proc/self/mounts) -> [{device, mount, fstype, options: {key: value|None}}]."""
    mounts = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 6:
            raise ParseError("expected 6 fields 'device mount type options dump pass', got %r"
                             % line[:80], source, lineno)
        options = {}
        for opt in fields[3].split(","):
            key, sep, value = opt.partition("=")
            options[key] = value if sep else None
        mounts.append({"device": _unescape_mount(fields[0]), "mount": _unescape_mount(fields[1]),
                       "fstype": fields[2], "options": options})
    return mounts


def size_option_bytes(options):
    """The ``size=`` mount option of tmpfs in bytes (the kernel shows it as ``NNNk``), else None."""
    value = options.get("size")
    if not value:
        return None
    match = re.match(r"^([0-9]{1,19})([kmgKMG]?)$", value)
    if not match:
        return None
    scale = {"": 1, "k": KIB, "m": KIB ** 2, "g": KIB ** 3}[match.group(2).lower()]
    value = int(match.group(1)) * scale
    return value if value <= MAX_NUMBER else None


def kernel_version(release):
    """'3.10.0-693.el7.x86_64' -> (3, 10); None when it does not start with N.N."""
    match = re.match(r"^\s*([0-9]+)\.([0-9]+)", release or "")
    if not match:
        return None
    return int(match.group(1)), int(match.group(2))


def parse_dentry_state(text, source="/proc/sys/fs/dentry-state", kernel=None):
    """/proc/sys/fs/dentry-state -> {nr_dentry, nr_unused, age_limit, want_pages, nr_negative}.

    The kernel prints six integers; the fifth became nr_negative in Linux 5.0
    (before, it is an unused field that is always 0). ``kernel`` is the release
    string: nr_negative is None when it is older than 5.0 or unknown.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise ParseError("expected one line of integers, got %d lines" % len(lines), source, 1 if not lines else 2)
    fields = lines[0].split()
    if len(fields) not in (5, 6):
        raise ParseError("expected 5 or 6 integers, got %d: %r" % (len(fields), lines[0][:80]), source, 1)
    values = [_whole(f, "field %d" % (i + 1), source, 1) for i, f in enumerate(fields)]
    version = kernel_version(kernel)
    negative = values[4] if version is not None and version >= (5, 0) else None
    return {"nr_dentry": values[0], "nr_unused": values[1], "age_limit": values[2],
            "want_pages": values[3], "nr_negative": negative}


def parse_modules(text, source="/proc/modules"):
    """/proc/modules -> [module names] (``name size refcount deps state address`` per line)."""
    names = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) < 5 or not fields[1].isdigit():
            raise ParseError("expected 'name size refcount deps state [address]', got %r"
                             % line[:80], source, lineno)
        names.append(fields[0])
    return names


def parse_lsmod(text, source="lsmod"):
    """``lsmod`` output (with or without its ``Module Size Used by`` header) -> [module names]."""
    names = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if lineno == 1 and fields[:2] == ["Module", "Size"]:
            continue
        if len(fields) < 3 or not fields[1].isdigit() or not fields[2].lstrip("-").isdigit():
            raise ParseError("expected 'name size used [by]', got %r" % line[:80], source, lineno)
        names.append(fields[0])
    return names


def parse_toolbox_balloon(text, source="vmware-toolbox-cmd stat balloon"):
    """``vmware-toolbox-cmd stat balloon`` output, e.g. ``17960 MB`` -> bytes.

    Old open-vm-tools releases printed the same number followed by ``MHz`` (a
    wrong label on a value in MB): both are accepted.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise ParseError("expected one line 'N MB', got %d lines" % len(lines), source, 1)
    match = re.match(r"^(\d+)\s*(MB|MHz)$", lines[0])
    if not match:
        raise ParseError("expected 'N MB', got %r" % lines[0][:80], source, 1)
    return _whole(match.group(1), "balloon size", source, 1) * KIB * KIB


def parse_toolbox_version(text, source="vmware-toolbox-cmd -v"):
    """``vmware-toolbox-cmd -v`` output, e.g. ``11.3.5.31214 (build-18557794)`` -> '11.3.5.31214'."""
    match = re.search(r"\b(\d+(?:\.\d+)+)", text)
    if not match:
        raise ParseError("no version number in %r" % text.strip()[:80], source, 1)
    return match.group(1)


def parse_vmmemctl(text, source="/sys/kernel/debug/vmmemctl"):
    """VMware balloon debugfs statistics -> {target_pages, current_pages}.

    Linux 2.6.34-4.19 print ``target:  N pages``; 4.20 and later print
    ``target                : N`` (4 KiB pages in both). Later lines reuse the
    name ``target`` for a command counter (``target: N (M failed)``); only the
    first plain value counts.
    """
    found = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        name, sep, rest = line.partition(":")
        key = name.strip()
        if not sep or key not in ("target", "current") or key + "_pages" in found:
            continue
        match = re.match(r"^\s*(\d+)(\s+pages)?\s*$", rest)
        if not match:
            raise ParseError("%s is not 'N [pages]': %r" % (key, rest.strip()[:80]), source, lineno)
        found[key + "_pages"] = _whole(match.group(1), key, source, lineno)
    if "current_pages" not in found:
        raise ParseError("no 'current' line: not vmmemctl statistics or truncated", source)
    found.setdefault("target_pages", None)
    return found


def parse_colon_values(text, source):
    """``name : value`` lines (hv-balloon debugfs and similar) -> {name: first word of value}."""
    values = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, rest = line.partition(":")
        if not sep or not name.strip():
            raise ParseError("expected 'name : value', got %r" % line[:80], source, lineno)
        words = rest.split()
        values[name.strip()] = words[0] if words else ""
    return values


def parse_hv_balloon(text, source="/sys/kernel/debug/hv-balloon"):
    """Hyper-V balloon debugfs (Linux >= 6.0) -> {pages_ballooned, page_size} (ints)."""
    values = parse_colon_values(text, source)
    out = {}
    for key in ("pages_ballooned", "page_size"):
        if key not in values:
            raise ParseError("no '%s' line: not hv-balloon statistics or truncated" % key, source)
        out[key] = _whole(values[key], key, source, None)
    return out


def parse_kb_value(text, source):
    """A sysfs file holding one number of kB (Xen ``xen_memory0/info/current_kb``...) -> bytes."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise ParseError("expected one number of kB, got %d lines" % len(lines), source, 1)
    return whole_number(lines[0], "value", source, 1, scale=KIB)


_DELETED = " (deleted)"


def parse_fd_target(target):
    """readlink() of /proc/PID/fd/N -> (path, deleted).

    The kernel appends `` (deleted)`` to the path of an unlinked file. Sockets,
    pipes and anonymous inodes (``socket:[N]``, ``anon_inode:...``) give path
    None. memfd files show as ``/memfd:NAME (deleted)``.
    """
    if not target.startswith("/"):
        return None, False
    if target.endswith(_DELETED):
        return target[:-len(_DELETED)], True
    return target, False


def mount_of(path, mounts):
    """The entry of ``mounts`` whose mount point holds ``path`` (longest prefix), else None."""
    best = None
    for entry in mounts:
        point = entry["mount"].rstrip("/") or "/"
        if path == point or path.startswith(point + "/") or point == "/":
            if best is None or len(point) > len(best["mount"].rstrip("/") or "/"):
                best = entry
    return best


def parse_os_release(text, source="/etc/os-release"):
    """os-release(5) ``KEY=value`` lines (value optionally quoted) -> dict."""
    values = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.match(r"^[A-Z0-9_]+$", key):
            raise ParseError("expected KEY=value, got %r" % line[:80], source, lineno)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


def parse_cpuinfo_flags(text, source="/proc/cpuinfo"):
    """The CPU flag set of the first processor, or None when cpuinfo has no ``flags`` line
    (architectures other than x86 do not list one)."""
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        if sep and name.strip() == "flags":
            return set(rest.split())
    return None
