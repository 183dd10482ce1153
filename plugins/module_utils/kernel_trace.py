# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bounded kernel allocation trace, for kernels without /proc/allocinfo.

For ``seconds`` seconds bpftrace follows the kmem tracepoints (``kmalloc``/``kfree``,
``kmem_cache_alloc``/``kmem_cache_free``, ``mm_page_alloc``/``mm_page_free``), remembers every
object allocated in that time until it is freed, and sums what is still allocated per call
site: the outstanding-allocations approach of bcc's ``memleak`` tool. Sites that grew during
the trace are the ones a leak feeds. Page allocations are keyed by a short kernel stack;
pages that the slab allocator took for its caches are already counted at the slab call
site and are set apart.

Bounds: ``seconds`` is capped at ``MAX_SECONDS``; the maps hold at most ``map_keys`` live
objects (``BPFTRACE_MAP_KEYS_MAX``; beyond it new objects are not followed); only the
``top`` largest sites are printed; bpftrace is stopped by ``timeout`` if it does not exit.
Nothing is written on the host except the tracefs mount when tracefs is not mounted.
Runs on the target: standard library only, Python >= 3.8.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.memleak.remediation.plugins.module_utils.errors import ParseError
from ansible_collections.memleak.remediation.plugins.module_utils.kernel_sources import call_site

MAX_SECONDS = 300
MAP_KEYS_MAX = 131072
STACK_DEPTH = 8
TRACEFS = "/sys/kernel/tracing"
KMEM_EVENTS = "/sys/kernel/tracing/events/kmem"
BTF = "/sys/kernel/btf/vmlinux"
# Frames that mean "a slab cache took this page": counted at the slab call site already.
_SLAB_FRAMES = ("allocate_slab", "new_slab", "alloc_slab_page", "___slab_alloc", "__slab_alloc")

# MIGRATE_MOVABLE (1) pages are user memory and page cache, which meminfo already counts.
_PROGRAM = """
tracepoint:kmem:kmalloc, tracepoint:kmem:kmem_cache_alloc {
  @sz[args->ptr] = args->bytes_alloc; @st[args->ptr] = args->call_site;
  @out[ksym(args->call_site)] += args->bytes_alloc; @ev = count();
}
tracepoint:kmem:kfree, tracepoint:kmem:kmem_cache_free /@st[args->ptr]/ {
  @out[ksym(@st[args->ptr])] -= @sz[args->ptr]; delete(@st[args->ptr]); delete(@sz[args->ptr]); @ev = count();
}
tracepoint:kmem:mm_page_alloc /args->migratetype != 1/ {
  $b = (uint64)4096 << args->order;
  @pst[args->pfn] = kstack(%(depth)d); @pb[args->pfn] = $b; @pout[kstack(%(depth)d)] += $b; @ev = count();
}
tracepoint:kmem:mm_page_free /@pb[args->pfn]/ {
  @pout[@pst[args->pfn]] -= @pb[args->pfn]; delete(@pst[args->pfn]); delete(@pb[args->pfn]); @ev = count();
}
interval:s:%(seconds)d { exit(); }
END {
  clear(@sz); clear(@st); clear(@pst); clear(@pb);
  print(@ev); print(@out, %(top)d); print(@pout, %(top)d);
  printf("memleak-trace end\\n");
  clear(@out); clear(@pout); clear(@ev);
}
"""


def program(seconds, top=20):
    """The bpftrace program for ``seconds`` seconds (capped), printing the ``top`` sites of each kind."""
    seconds = max(1, min(int(seconds), MAX_SECONDS))
    return _PROGRAM % {"seconds": seconds, "top": max(1, int(top)) * 4, "depth": STACK_DEPTH}


_OUT_LINE = re.compile(r"^@out\[(.*)\]:\s*(-?\d+)\s*$")
_POUT_START = re.compile(r"^@pout\[\s*$")
_POUT_END = re.compile(r"^\]:\s*(-?\d+)\s*$")
_EVENTS = re.compile(r"^@ev:\s*(\d+)\s*$")
_END = "memleak-trace end"


def _signed(text):
    """bpftrace prints a map value that went below zero as an unsigned 64-bit number."""
    value = int(text)
    return value - (1 << 64) if value >= 1 << 63 else value


def parse_trace(text, source="bpftrace"):
    """bpftrace output -> {events, slab: [(symbol, bytes)], pages: [([frames], bytes)]}."""
    events = None
    ended = False
    slab = []
    pages = []
    stack = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if stack is not None:
            end = _POUT_END.match(line.strip())
            if end:
                pages.append((stack, _signed(end.group(1))))
                stack = None
            elif line.strip():
                stack.append(line.strip())
            continue
        match = _OUT_LINE.match(line.strip())
        if match:
            slab.append((match.group(1), _signed(match.group(2))))
            continue
        if _POUT_START.match(line.strip()):
            stack = []
            continue
        found = _EVENTS.match(line.strip())
        if found and events is None and not ended:
            events = int(found.group(1))
        ended = ended or line.strip() == _END
    if not ended:
        raise ParseError("no 'memleak-trace end' line: bpftrace did not reach its END block", source)
    return {"events": events or 0, "slab": slab, "pages": pages}


def _frame_name(frame):
    return re.sub(r"\+\d+$|\+0x[0-9a-fA-F]+$", "", frame.split()[0]) if frame.split() else frame


def parse_kallsyms_modules(text):
    """/proc/kallsyms -> {symbol: module} for the symbols of loadable modules."""
    out = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[3].startswith("[") and fields[3].endswith("]"):
            out.setdefault(fields[2], fields[3][1:-1])
    return out


def summarize(parsed, modules=None, top=10):
    """Outstanding bytes per call site, largest first, with its module; slab pages set apart.

    Returns {sites: [{site, func, module, bytes, kind}], total, slab_pages_bytes}. ``total``
    adds the positive outstanding bytes of every site (not only the top).
    """
    modules = modules or {}
    by_site = {}

    def add(func, nbytes, kind, frames=None):
        entry = by_site.get(func)
        if entry is None:
            entry = by_site[func] = {"site": func, "func": func, "module": modules.get(func), "bytes": 0,
                                     "kind": kind}
            if frames:
                entry["stack"] = frames
        entry["bytes"] += nbytes
        if entry["kind"] != kind:
            entry["kind"] = "mixed"

    for symbol, nbytes in parsed["slab"]:
        add(_frame_name(symbol), nbytes, "slab")
    slab_pages = 0
    for frames, nbytes in parsed["pages"]:
        names = [_frame_name(f) for f in frames]
        if any(name in _SLAB_FRAMES or name.startswith("__slab_alloc") for name in names):
            slab_pages += max(0, nbytes)
            continue
        site, _module = call_site([(name, modules.get(name)) for name in names])
        add(site or "(unknown)", nbytes, "pages", names)
    sites = sorted((s for s in by_site.values() if s["bytes"] > 0), key=lambda s: (-s["bytes"], s["site"]))
    return {"sites": sites[:top], "total": sum(s["bytes"] for s in sites), "slab_pages_bytes": slab_pages}


def _cpu_seconds():
    try:
        import resource
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime
    except (ImportError, ValueError):
        return None


def run(seconds, run_command, which, top=10, map_keys=MAP_KEYS_MAX, read=None):
    """Trace for ``seconds`` seconds; returns (trace dict or None, [warnings]).

    ``run_command(argv) -> (rc, out, err)``; ``read(path) -> text or None``. Every missing
    piece (bpftrace, tracefs, the kmem tracepoints, BTF) is one plain sentence.
    """
    notes = []
    seconds = int(seconds)
    if seconds > MAX_SECONDS:
        notes.append("trace: trace_seconds %d capped at %d" % (seconds, MAX_SECONDS))
        seconds = MAX_SECONDS
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return None, notes + ["trace: not run: bpftrace needs root (become: true)"]
    bpftrace = which("bpftrace") if which else None
    if not bpftrace:
        return None, notes + ["trace: not run: bpftrace is not installed (Debian/Ubuntu: apt-get install bpftrace; "
                              "RHEL: dnf install bpftrace)"]
    if not os.path.isdir(KMEM_EVENTS):
        if not os.path.isdir(os.path.join(TRACEFS, "events")) and os.path.isdir(TRACEFS):
            rc, _out, err = run_command(["mount", "-t", "tracefs", "nodev", TRACEFS])
            if rc != 0:
                return None, notes + ["trace: not run: tracefs is not mounted and 'mount -t tracefs nodev %s' "
                                      "failed: %s" % (TRACEFS, (err or "").strip()[:200])]
            notes.append("trace: tracefs was not mounted: mounted it on %s (mount -t tracefs nodev %s)"
                         % (TRACEFS, TRACEFS))
        if not os.path.isdir(KMEM_EVENTS):
            return None, notes + ["trace: not run: the kmem tracepoints are missing (%s): the kernel was built "
                                  "without CONFIG_TRACEPOINTS/CONFIG_FTRACE" % KMEM_EVENTS]
    if not os.path.exists(BTF):
        notes.append("trace: no BTF (%s): the tracepoints still work, with their format files" % BTF)
    rc, version, _err = run_command([bpftrace, "--version"])
    tool = version.strip() if rc == 0 and version.strip() else "bpftrace"
    argv = ["env", "BPFTRACE_MAP_KEYS_MAX=%d" % map_keys, "timeout", "--signal=INT", "--kill-after=10",
            str(seconds + 30), bpftrace, "-e", program(seconds, top)]
    before = _cpu_seconds()
    rc, out, err = run_command(argv)
    after = _cpu_seconds()
    try:
        parsed = parse_trace(out, source="bpftrace")
    except ParseError as exc:
        detail = " ".join(line for line in (err or "").splitlines() if "RLIMIT_MEMLOCK" not in line)
        return None, notes + ["trace: bpftrace failed (rc=%s): %s %s" % (rc, exc, detail.strip()[:300])]
    kallsyms = read("/proc/kallsyms") if read else None
    modules = parse_kallsyms_modules(kallsyms) if kallsyms else {}
    summary = summarize(parsed, modules, top)
    summary.update({
        "seconds": seconds, "events": parsed["events"], "tool": tool, "map_keys_max": map_keys,
        "cpu_seconds": round(after - before, 3) if before is not None and after is not None else None,
    })
    return summary, notes
