# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Maximum size of the Windows paged and nonpaged pools for an OS version, architecture and RAM.

Windows has no counter for the pool maxima (only the kernel debugger's ``!vm``
and Process Explorer with symbols show them), so the diagnosis computes them
from the published rules. docs/windows-pool-limits.md lists every rule with its
source:

* Windows XP / Server 2003 and Vista / 2008 / 7 / 2008 R2: Mark Russinovich,
  "Pushing the Limits of Windows: Paged and Nonpaged Pool" (2009).
* Windows 8 / Server 2012 and Windows 8.1 / Server 2012 R2 and later: Microsoft,
  "Memory Limits for Windows and Windows Server Releases".

The results are the maxima the memory manager allows; the size it actually
reserves at boot can be lower on 32-bit systems (it competes with system PTEs
and the system cache for kernel address space), so a pool reported as 80 % of
this limit may be closer to its real end. Values that depend on an unknown
input (RAM, commit limit) are None, never guessed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
TiB = 1024 * GiB

# Families, oldest first. Each maps to the rule set of one row of the tables.
XP_2003 = "xp_2003"          # NT 5.1 / 5.2 (XP, XP x64, Server 2003, 2003 R2, Home Server)
VISTA_7 = "vista_7"          # NT 6.0 / 6.1 (Vista, 2008, 7, 2008 R2)
WIN8 = "win8_2012"           # NT 6.2 (8, Server 2012)
WIN81 = "win81_later"        # NT 6.3 and 10.0 (8.1, 2012 R2, 10, 11, 2016 and later)

_NAMES = (
    # (regex on a product name, (major, minor)); order matters: "2012 R2" before "2012".
    (r"\bxp\b", (5, 1)),
    (r"2003|home server", (5, 2)),
    (r"vista", (6, 0)),
    (r"2008\s*r2", (6, 1)),
    (r"2008", (6, 0)),
    (r"2012\s*r2", (6, 3)),
    (r"2012", (6, 2)),
    (r"windows\s+8\.1|^8\.1$", (6, 3)),
    (r"windows\s+8\b|^8$", (6, 2)),
    (r"windows\s+7\b|^7$", (6, 1)),
    (r"2016|2019|2022|2025|windows\s+1[01]\b|^1[01]$", (10, 0)),
)

_VERSION = re.compile(r"^\s*(\d+)\.(\d+)(?:\.\d+)*\s*$")


def parse_version(version):
    """'6.1.7601' / '10.0.17763' / 'Microsoft Windows Server 2012 R2 Standard' / '2008 R2' -> (major, minor).

    Raises ValueError when the text names no known Windows release.
    """
    if version is None:
        raise ValueError("no Windows version given")
    text = str(version).strip()
    match = _VERSION.match(text)
    if match and not (len(text) <= 4 and "." not in text):
        return int(match.group(1)), int(match.group(2))
    lowered = text.lower()
    for pattern, number in _NAMES:
        if re.search(pattern, lowered):
            return number
    raise ValueError("not a Windows version or release name: %r" % (version,))


def family(version):
    """The rule family of a version (see the module docstring)."""
    major, minor = parse_version(version)
    if major == 5 and minor in (1, 2):
        return XP_2003
    if major == 6 and minor in (0, 1):
        return VISTA_7
    if major == 6 and minor == 2:
        return WIN8
    if (major == 6 and minor >= 3) or major >= 10:
        return WIN81
    raise ValueError("Windows %d.%d is outside the published pool limit tables (XP / 2003 and later)"
                     % (major, minor))


def bits(arch):
    """'x86' / 'i686' / '32-bit' -> 32; 'x64' / 'AMD64' / 'x86_64' / '64-bit' / 'ARM64' -> 64."""
    if arch is None:
        raise ValueError("no architecture given")
    text = str(arch).strip().lower().replace(" ", "")
    if text in ("x86", "i386", "i486", "i586", "i686", "32-bit", "32bit", "32", "ia32", "win32"):
        return 32
    if text in ("x64", "amd64", "x86_64", "x86-64", "64-bit", "64bit", "64", "em64t", "arm64", "aarch64", "win64"):
        return 64
    raise ValueError("unknown architecture %r (expected x86 or x64)" % (arch,))


def parse_boot_options(text):
    """User address space in MB from the boot options, or None for the default 2048.

    ``text`` is the SystemStartOptions value (HKLM\\SYSTEM\\CurrentControlSet\\Control)
    or a boot.ini line: ``/3GB`` (or ``3GB``) means 3072 unless ``/USERVA=n`` narrows it;
    ``INCREASEUSERVA=n`` is the BCD form of Vista and later.
    """
    if not text:
        return None
    upper = " " + str(text).upper().replace("/", " ") + " "
    match = re.search(r"\sINCREASEUSERVA\s*=\s*(\d+)", upper)
    if match:
        return int(match.group(1))
    if re.search(r"\s3GB\s", upper):
        match = re.search(r"\sUSERVA\s*=\s*(\d+)", upper)
        return int(match.group(1)) if match else 3072
    return None


def _min_known(*values):
    known = [v for v in values if v is not None]
    return min(known) if known else None


def pool_limits(version, arch, ram_bytes=None, commit_limit=None, user_va_mb=None):
    """Maximum nonpaged and paged pool in bytes.

    Returns ``{"nonpaged", "paged", "family", "bits", "approximate", "basis": {"nonpaged", "paged"}}``.
    ``user_va_mb`` is the user address space of a 32-bit system started with /3GB
    (3072) or /USERVA / increaseuserva; it is ignored on 64-bit systems.
    ``approximate`` is true when a rule is a percentage the sources themselves
    round ("about 75 %", "a little over 400 KB per MB") or an interpolation.
    """
    fam = family(version)
    minor = parse_version(version)[1]
    width = bits(arch)
    ram = int(ram_bytes) if ram_bytes is not None else None
    commit = int(commit_limit) if commit_limit is not None else None
    if ram is not None and ram <= 0:
        raise ValueError("ram_bytes must be positive, got %d" % ram)
    user_va = None
    if width == 32 and user_va_mb:
        user_va = int(user_va_mb)
        if not 2048 <= user_va <= 3072:
            raise ValueError("user_va_mb must be between 2048 and 3072, got %d" % user_va)
    result = {"family": fam, "bits": width, "approximate": False, "nonpaged": None, "paged": None,
              "basis": {"nonpaged": None, "paged": None}}
    handler = {XP_2003: _xp_2003, VISTA_7: _vista_7, WIN8: _win8, WIN81: _win81}[fam]
    handler(result, width, ram, commit, user_va)
    if fam == XP_2003:
        _xp_paged(result, minor)
    return result


def _kernel_va(user_va):
    """Kernel address space of a 32-bit system: 4 GiB minus the user part (2 GiB by default)."""
    return (4096 - (user_va or 2048)) * MiB


def _xp_2003(result, width, ram, commit, user_va):
    if width == 32:
        if user_va and user_va > 2048:
            result["nonpaged"] = 128 * MiB
            result["basis"]["nonpaged"] = "32-bit XP/2003 started with /3GB: 128 MB"
        elif ram is None:
            result["basis"]["nonpaged"] = "32-bit XP/2003: 128 MB at 512 MB of RAM up to 256 MB at 1 GB or more; RAM unknown"
        elif ram >= GiB:
            result["nonpaged"] = 256 * MiB
            result["basis"]["nonpaged"] = "32-bit XP/2003 with 1 GB of RAM or more: 256 MB"
        elif ram <= 512 * MiB:
            result["nonpaged"] = 128 * MiB
            result["basis"]["nonpaged"] = "32-bit XP/2003 with 512 MB of RAM or less: 128 MB"
        else:
            fraction = (ram - 512 * MiB) / float(512 * MiB)
            result["nonpaged"] = int(128 * MiB + fraction * 128 * MiB)
            result["approximate"] = True
            result["basis"]["nonpaged"] = ("32-bit XP/2003 between 512 MB and 1 GB of RAM: interpolated "
                                           "between 128 MB and 256 MB")
        # Paged pool: 491 MB on XP, 650 MB on Server 2003 (_xp_paged, by minor version).
    else:
        if ram is None:
            result["basis"]["nonpaged"] = "64-bit XP/2003: a little over 400 KB per MB of RAM, at most 128 GB; RAM unknown"
        else:
            result["nonpaged"] = min(int(ram * 400 // 1024), 128 * GiB)
            result["approximate"] = True
            result["basis"]["nonpaged"] = "64-bit XP/2003: a little over 400 KB per MB of RAM, at most 128 GB"
        if result["nonpaged"] is not None:
            result["paged"] = min(4 * result["nonpaged"], 128 * GiB)
            result["basis"]["paged"] = "64-bit XP/2003: four times the nonpaged maximum, at most 128 GB"
        else:
            result["basis"]["paged"] = "64-bit XP/2003: four times the nonpaged maximum, at most 128 GB; RAM unknown"


def _xp_paged(result, minor):
    """32-bit paged maxima: XP (5.1) 491 MB, Server 2003 (5.2) 650 MB."""
    if result["bits"] != 32:
        return
    if minor == 1:
        result["paged"] = 491 * MiB
        result["basis"]["paged"] = "32-bit XP: at most 491 MB (less when system PTEs take address space)"
    else:
        result["paged"] = 650 * MiB
        result["basis"]["paged"] = "32-bit Server 2003: at most 650 MB (less when system PTEs take address space)"


def _vista_7(result, width, ram, commit, user_va):
    if width == 32:
        cap = min(2 * GiB, _kernel_va(user_va))
        cap_text = "2 GB" if cap == 2 * GiB else "the %d MB kernel address space left by increaseuserva" % (cap // MiB)
        result["nonpaged"] = min(int(ram * 3 // 4), cap) if ram is not None else None
        result["approximate"] = ram is not None
        result["basis"]["nonpaged"] = "32-bit Vista/2008/7: about 75 %% of RAM, at most %s%s" % (
            cap_text, "" if ram is not None else "; RAM unknown")
        result["paged"] = cap
        result["basis"]["paged"] = "32-bit Vista/2008/7: %s (dynamic kernel address space)" % cap_text
    else:
        result["nonpaged"] = min(int(ram * 3 // 4), 128 * GiB) if ram is not None else None
        result["approximate"] = ram is not None
        result["basis"]["nonpaged"] = "64-bit Vista/2008/7/2008 R2: about 75 %% of RAM, at most 128 GB%s" % (
            "" if ram is not None else "; RAM unknown")
        result["paged"] = _min_known(128 * GiB, commit)
        result["basis"]["paged"] = "64-bit Vista/2008/7/2008 R2: 128 GB or the commit limit, whichever is smaller"


def _win8(result, width, ram, commit, user_va):
    if width == 32:
        _x86_modern(result, ram, commit, user_va, "32-bit Windows 8")
        return
    result["nonpaged"] = min(ram, 128 * GiB) if ram is not None else None
    result["basis"]["nonpaged"] = "64-bit Windows 8/2012: RAM or 128 GB, whichever is smaller%s" % (
        "" if ram is not None else "; RAM unknown")
    result["paged"] = min(384 * GiB, commit) if commit is not None else None
    result["basis"]["paged"] = "64-bit Windows 8/2012: 384 GB or the commit limit, whichever is smaller%s" % (
        "" if commit is not None else "; commit limit unknown")


def _win81(result, width, ram, commit, user_va):
    if width == 32:
        _x86_modern(result, ram, commit, user_va, "32-bit Windows 8.1/10")
        return
    result["nonpaged"] = min(ram, 16 * TiB) if ram is not None else None
    result["basis"]["nonpaged"] = "64-bit Windows 8.1/2012 R2 and later: RAM or 16 TB, whichever is smaller%s" % (
        "" if ram is not None else "; RAM unknown")
    result["paged"] = min(int(15.5 * TiB), commit) if commit is not None else None
    result["basis"]["paged"] = ("64-bit Windows 8.1/2012 R2 and later: 15.5 TB or the commit limit, "
                                "whichever is smaller%s" % ("" if commit is not None else "; commit limit unknown"))


def _x86_modern(result, ram, commit, user_va, label):
    cap = min(2 * GiB, _kernel_va(user_va))
    result["nonpaged"] = min(int(ram * 3 // 4), cap) if ram is not None else None
    result["basis"]["nonpaged"] = "%s: 75 %% of RAM or %d MB, whichever is smaller%s" % (
        label, cap // MiB, "" if ram is not None else "; RAM unknown")
    result["paged"] = _min_known(cap, commit)
    result["basis"]["paged"] = "%s: the %d MB kernel address space or the commit limit, whichever is smaller" % (
        label, cap // MiB)


def limits_for_snapshot(snapshot):
    """Pool limits for a Windows snapshot (os.version, os.arch, os.ram_bytes, memory.commit_limit,
    windows.boot_options). Raises ValueError when the snapshot lacks the version or architecture."""
    os_info = snapshot.get("os") or {}
    memory = snapshot.get("memory") or {}
    windows = snapshot.get("windows") or {}
    version = os_info.get("version") or os_info.get("name")
    return pool_limits(version, os_info.get("arch"), ram_bytes=os_info.get("ram_bytes"),
                       commit_limit=memory.get("commit_limit"),
                       user_va_mb=parse_boot_options(windows.get("boot_options")))
