#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This file holds only the documentation; the module is win_pool_facts.ps1.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: win_pool_facts
short_description: Gather the Windows kernel pools, pool tags and their drivers as a memleak snapshot
version_added: "0.1.0"
description:
  - "Returns one snapshot in the collection's schema 1 as the fact C(memleak_snapshot), with the C(windows)
    part filled: pool totals, the largest pool tags, the driver files that contain those tags, the largest
    processes, TCP connection states and recent bugchecks."
  - The pool tag table is read with C(NtQuerySystemInformation(SystemPoolTagInformation)) from a C# module
    util; no C(poolmon.exe) or other download is needed.
  - With I(samples) greater than 1 the table is read several times, I(interval) seconds apart, like
    poolmon's difference view; the samples go to C(memleak_snapshot.samples) so that a tag whose
    outstanding allocations keep growing within the run can be told from a large but steady one.
  - "Each run appends its newest sample to a history file on the host (default
    C(%ProgramData%\\memleak\\history.jsonl)) and returns the recent window, so scheduled runs prove growth
    over days with no external store. The file holds one compact sample per line, in the same format as
    the Linux history of M(memleak.remediation.meminfo_facts); it is bounded by I(history_max_samples) and
    I(history_max_age_days), appended under an exclusive lock, compacted through a temporary file, and a
    corrupt line is skipped with a warning."
  - Pool totals and the commit charge come from C(Win32_PerfRawData_PerfOS_Memory); the pool maxima are
    not exposed by Windows and are left null (the P(memleak.remediation.pool_limits#filter) filter computes
    them from the version, architecture and RAM).
  - "On VMware the platform, the VMware Tools version (C(VMwareToolboxCmd.exe -v), else the Uninstall
    registry key; never C(Win32_Product)) and the ballooned memory (the C(VM Memory) performance object
    of VMware Tools) are read."
  - "Attribution follows the C(strings * | findstr TAG) method; the I(scan_drivers) largest tags are searched
    for in every kernel image actually loaded (C(NtQuerySystemInformation(SystemModuleInformation)):
    C(ntoskrnl.exe), the HAL and every driver, including those loaded from C(System32\\DriverStore)), and each
    matching file is reported with its file version, company and Authenticode status. A tag found in no
    image is a warning that names it; the manual fallback (C(strings) and C(findstr) over the driver files,
    then the version and signer of each hit) is in C(docs/guide-windows-nonpaged-pool-leak.md)."
  - TCP connection states are counted from C(GetTcpTable2) and C(GetTcp6Table2) in one pass, so a host
    with 100,000 half-open connections costs a few megabytes; C(netstat -an) is read only when that fails.
  - Anything that cannot be read becomes one sentence in C(memleak_snapshot.warnings); the task still
    succeeds.
author:
  - memleak.remediation contributors (!UNKNOWN)
options:
  top:
    description:
      - How many pool tags and processes to report, per criterion. Tags are the union of the I(top) largest
        by bytes and, with several I(samples), the I(top) fastest growing in bytes and the I(top) fastest
        growing in outstanding allocations, so up to 3 x I(top) tags; processes are the union of the I(top)
        largest by private bytes and the I(top) with most handles, so up to 2 x I(top).
    type: int
    default: 20
  samples:
    description:
      - How many times to read the pool tag table and the memory counters in this run (1 to 60).
      - The default 4 is the fewest in-run samples in which the trend test of the
        P(memleak.remediation.leak_diagnosis#filter) filter can call a growing tag significant (at its
        default C(pool_leak_alpha) of 0.05); more samples or a longer I(interval) give a stronger proof.
    type: int
    default: 4
  interval:
    description: Seconds between two samples (0 to 600); fractions are allowed, as in M(memleak.remediation.meminfo_facts).
    type: float
    default: 5
  scan_drivers:
    description:
      - How many of the largest tags to look for in the driver files. V(0) skips the scan.
      - The scan reads every loaded kernel image once, whatever the number of tags, at most 256 MiB per file
        and 2 GiB in all; when the loaded module list cannot be read, C(ntoskrnl.exe) and the drivers folder
        (recursively) are scanned instead.
    type: int
    default: 5
  scan_seconds:
    description:
      - Time budget of the driver scan. Images not reached when it runs out are counted in
        C(windows.driver_scan.not_reached) and named in a warning.
    type: int
    default: 60
  pooltag_file:
    description:
      - Path on the host of Microsoft's C(pooltag.txt) (Debugging Tools for Windows, C(triage) folder).
        When given, each reported tag gets the description and binary listed there.
      - The collection does not ship this file; its licence does not allow redistribution.
    type: path
  bugcheck_days:
    description: How many days of the System log to search for bugchecks (event 1001 and Kernel-Power 41).
    type: int
    default: 30
  host:
    description: The name recorded in the snapshot. Default is the computer name.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
  - memleak.remediation.history
attributes:
  check_mode:
    support: full
    details: The module only reads the host, apart from appending to the history file, which check mode skips.
  diff_mode:
    support: none
    details: No file is shown as a diff; the history gains one line per run.
  facts:
    support: full
    details: Returns C(ansible_facts.memleak_snapshot).
  platform:
    platforms: windows
    details: Windows with PowerShell 5.1 or PowerShell 7, over WinRM, PSRP or SSH.
notes:
  - "The module appends one line to the host history (O(history)) and still reports C(changed=false): the
    history is its own measurement log, not a setting of the host, and a change on every scheduled run would
    hide real changes. Check mode and O(history=false) do not write the history."
  - Needs administrator rights for the full picture; without them the System log, other users' processes
    and some driver files may be unreadable, and each gap is a warning.
  - A 32-bit PowerShell on 64-bit Windows does not read the pool tag table (the structure differs);
    Ansible's connection plugins start 64-bit PowerShell.
  - Short, common tags (for example C(File)) occur in many driver files by chance; at most 10 files are
    listed per tag.
  - The C(netstat -an) fallback maps English and German state names; other words are kept as printed and
    named in a warning.
seealso:
  - name: SYSTEM_POOLTAG_INFORMATION
    description: Geoff Chappell's layout of the buffer returned for SystemPoolTagInformation.
    link: https://www.geoffchappell.com/studies/windows/km/ntoskrnl/api/ex/sysinfo/pooltag.htm
  - name: Memory Limits for Windows and Windows Server Releases
    description: Microsoft's table of paged and nonpaged pool maxima.
    link: https://learn.microsoft.com/en-us/windows/win32/memory/memory-limits-for-windows-releases
"""

EXAMPLES = r"""
- name: Gather the pool snapshot of every Windows host
  memleak.remediation.win_pool_facts:

- name: Sample the pool tags six times a minute apart and name the drivers of the ten largest
  memleak.remediation.win_pool_facts:
    samples: 6
    interval: 60
    scan_drivers: 10
    pooltag_file: C:\Program Files (x86)\Windows Kits\10\Debuggers\x64\triage\pooltag.txt

- name: Show the largest nonpaged pool tags
  ansible.builtin.debug:
    msg: "{{ ansible_facts.memleak_snapshot.windows.tags | sort(attribute='nonpaged_bytes', reverse=true) }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: complex
  contains:
    memleak_snapshot:
      description: One snapshot, schema 1. All sizes are integer bytes; values that could not be read are null.
      returned: always
      type: dict
      contains:
        schema:
          description: Snapshot schema version.
          type: int
          sample: 1
        host:
          description: The I(host) option or the computer name.
          type: str
          sample: APP01
        collected_at:
          description: Time of the last sample, ISO-8601 UTC.
          type: str
          sample: "2024-05-02T10:14:07Z"
        boot_id:
          description: Last boot time, ISO-8601 UTC; changes at every boot.
          type: str
          sample: "2024-04-25T03:12:55Z"
        source:
          description: Always C(live).
          type: str
          sample: live
        os:
          description: What the host runs.
          type: dict
          contains:
            family:
              description: Always C(windows).
              type: str
            name:
              description: Caption of the OS.
              type: str
            version:
              description: OS version.
              type: str
            build:
              description: Build with update revision.
              type: str
            arch:
              description: C(x64), C(x86) or C(arm64).
              type: str
            kernel:
              description: File version of C(ntoskrnl.exe).
              type: str
            ram_bytes:
              description: Physical memory visible to Windows (Win32_ComputerSystem TotalPhysicalMemory).
              type: int
          sample: {family: windows, name: Microsoft Windows Server 2016 Standard, version: "10.0.14393",
                   build: "14393.6897", arch: x64, kernel: "10.0.14393.6897", ram_bytes: 17179332608}
        virt:
          description: The virtualisation platform, its guest tools and its memory balloon.
          type: dict
          contains:
            platform:
              description: One of C(vmware), C(kvm), C(hyperv), C(xen), C(none) (positively bare metal), C(unknown).
              type: str
            tools:
              description: C(name) and C(version) of the guest tools (VMware Tools), null when unknown.
              type: dict
            balloon:
              description:
                - C(driver), C(loaded), C(bytes) (ballooned now) and C(target_bytes); null when no balloon driver is
                  known for the platform. C(loaded) is false when the platform's driver is absent; C(bytes) and
                  C(target_bytes) are null when unreadable.
              type: dict
          sample: {platform: vmware, tools: {name: VMware Tools, version: "12.0.0.19345655"},
                   balloon: {driver: vmmemctl, loaded: true, bytes: 0, target_bytes: null}}
        memory:
          description: The memory totals in bytes.
          type: dict
          contains:
            total:
              description: RAM the OS manages (MemTotal; Windows TotalPhysicalMemory).
              type: int
            free:
              description: Free memory (MemFree; Windows free and zero page lists).
              type: int
            available:
              description: Memory available without swapping (MemAvailable; Windows Available Bytes).
              type: int
            used:
              description: C(total - available).
              type: int
            commit_used:
              description: Commit charge (Committed_AS; Windows Committed Bytes).
              type: int
            commit_limit:
              description: Commit limit (CommitLimit; Windows Commit Limit).
              type: int
        windows:
          description: The Windows details behind the totals.
          type: dict
          contains:
            pools:
              description: C(nonpaged) C({bytes, limit}) and C(paged) C({bytes, resident, limit}); C(limit) is null
                (see the C(pool_limits) filter).
              type: dict
              sample: {nonpaged: {bytes: 16494066176, limit: null}, paged: {bytes: 658505728, resident: 41943040, limit: null}}
            tags:
              description:
                - The reported pool tags of the last sample with C(tag), C(paged_allocs), C(paged_frees),
                  C(paged_bytes), C(nonpaged_allocs), C(nonpaged_frees), C(nonpaged_bytes), C(protected) (the entry
                  carried the protected-pool bit; expected false, as the pool tracker strips the bit before recording
                  a tag) and C(description) (from O(pooltag_file), else null).
                - Tags keep their trailing spaces; bytes outside printable ASCII are written C(\\xNN).
              type: list
              elements: dict
            drivers:
              description: Tag -> files containing it, each with C(file), C(version), C(company), C(signed).
              type: dict
            driver_scan:
              description: How the driver scan went, with C(source) (C(loaded_modules) or C(drivers_folder)),
                C(images) and C(bytes) read, C(not_reached), C(stopped) (why it stopped early, else null) and
                C(unmatched) (tags found in no image); null when no scan ran.
              type: dict
            processes:
              description: The largest processes with C(pid), C(name), C(private_bytes), C(working_set), C(handles).
              type: list
              elements: dict
            tcp:
              description: C(states), the connection counts by state as C(Get-NetTCPConnection) names them, and
                C(source), C(GetTcpTable2) or C(netstat).
              type: dict
              sample: {states: {Bound: 4, Established: 38, Listen: 21, TimeWait: 12}}
            bugchecks:
              description: Recent bugchecks with C(time), C(code), C(params), C(dump) (minidumps without an event
                have a null code).
              type: list
              elements: dict
            boot_options:
              description: The SystemStartOptions string (shows C(/3GB) or C(increaseuserva)).
              type: str
        samples:
          description:
            - "The history window followed by this run's samples, oldest first, in the compact form
              C({v, t, boot, s: {series: integer}}) (series names in C(plugins/module_utils/series.py))."
            - "Each in-run sample holds C(mem.available), C(mem.free), C(mem.used), C(mem.commit_used),
              C(pool.paged), C(pool.nonpaged) and, for every reported tag, C(tag.p:TAG) and C(tag.np:TAG)
              (bytes) and C(tag.p_out:TAG) and C(tag.np_out:TAG) (outstanding allocations, (allocs - frees)
              mod 2^32)."
            - Empty when O(history=false) and O(samples=1).
          type: list
          elements: dict
          sample: [{v: 1, t: "2024-05-02T10:14:07Z", boot: "2024-04-25T03:12:55Z",
                    s: {"pool.nonpaged": 16494066176, "tag.np:VFil": 9666076416, "tag.np_out:VFil": 30117500}}]
        warnings:
          description: What could not be read, and why.
          type: list
          elements: str
          sample: ["vmware: 'VM Memory' performance counters unavailable: Invalid class"]
history_path:
  description: The history file used, when O(history=true) and it could be read (and, outside check mode, written).
  returned: when history was used
  type: str
  sample: C:\ProgramData\memleak\history.jsonl
"""
