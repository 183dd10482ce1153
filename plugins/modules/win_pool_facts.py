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
  - Pool totals and the commit charge come from C(Win32_PerfRawData_PerfOS_Memory); the pool maxima are
    not exposed by Windows and are left null (the P(memleak.remediation.pool_limits#filter) filter computes
    them from the version, architecture and RAM).
  - "On VMware the platform, the VMware Tools version (C(VMwareToolboxCmd.exe -v), else the Uninstall
    registry key; never C(Win32_Product)) and the ballooned memory (the C(VM Memory) performance object
    of VMware Tools) are read."
  - Attribution follows the C(strings * | findstr TAG) method; the I(scan_drivers) largest tags are searched
    for in every C(%SystemRoot%\System32\drivers\*.sys), and each matching file is reported with its
    file version, company and Authenticode status.
  - Anything that cannot be read becomes one sentence in C(memleak_snapshot.warnings); the task still
    succeeds.
author:
  - memleak.remediation contributors (!UNKNOWN)
options:
  top:
    description:
      - How many pool tags and processes to report. Tags are the largest by bytes plus, with several samples,
        the fastest growing; processes are the largest by private bytes plus those with most handles.
    type: int
    default: 20
  samples:
    description: How many times to read the pool tag table (1 to 60).
    type: int
    default: 3
  interval:
    description: Seconds between two samples (0 to 600).
    type: int
    default: 5
  scan_drivers:
    description:
      - How many of the largest tags to look for in the driver files. V(0) skips the scan.
      - The scan reads every C(.sys) file of the drivers folder once, whatever the number of tags.
    type: int
    default: 5
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
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode runs it unchanged.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
  facts:
    support: full
    description: Returns C(ansible_facts.memleak_snapshot).
  platform:
    support: full
    platforms: windows
    description: Windows with PowerShell 5.1 or PowerShell 7, over WinRM, PSRP or SSH.
notes:
  - Needs administrator rights for the full picture; without them the System log, other users' processes
    and some driver files may be unreadable, and each gap is a warning.
  - A 32-bit PowerShell on 64-bit Windows does not read the pool tag table (the structure differs);
    Ansible's connection plugins start 64-bit PowerShell.
  - Short, common tags (for example C(File)) occur in many driver files by chance; at most 10 files are
    listed per tag.
  - The C(netstat -an) fallback (Windows before 8 / 2012) keeps non-English state names as printed.
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
          description: Caption, version, build with update revision, architecture (x64, x86, arm64),
            C(ntoskrnl.exe) file version as C(kernel), and the physical memory visible to Windows.
          type: dict
          sample: {family: windows, name: Microsoft Windows Server 2016 Standard, version: "10.0.14393",
                   build: "14393.6897", arch: x64, kernel: "10.0.14393.6897", ram_bytes: 17179332608}
        virt:
          description:
            - C(platform) is one of C(vmware), C(kvm), C(hyperv), C(xen), C(none), C(unknown).
            - On VMware, C(tools) holds the VMware Tools version and C(balloon) the C(vmmemctl) driver state and
              the ballooned bytes (null when the C(VM Memory) counters are not installed).
          type: dict
          sample: {platform: vmware, tools: {name: VMware Tools, version: "12.0.0.19345655"},
                   balloon: {driver: vmmemctl, loaded: true, bytes: 0, target_bytes: null}}
        memory:
          description: Physical memory, free and zero page lists, available bytes, used (total - available),
            commit charge and commit limit.
          type: dict
        windows:
          description:
            - C(pools) nonpaged C(bytes) and paged C(bytes) and C(resident); C(limit) is null (see the
              C(pool_limits) filter).
            - C(tags) the reported pool tags of the last sample with allocations, frees and bytes per pool,
              C(protected) (the tag carried the protected-pool bit) and C(description) (from I(pooltag_file),
              else null). Tags keep their trailing spaces; bytes outside printable ASCII are written C(\\xNN).
            - C(drivers) tag -> files containing it, each with C(file), C(version), C(company), C(signed).
            - C(processes) with C(pid), C(name), C(private_bytes), C(working_set), C(handles).
            - C(tcp.states) connection counts by state as C(Get-NetTCPConnection) names them.
            - C(bugchecks) with C(time), C(code), C(params), C(dump) (minidumps without an event have a null code).
            - C(boot_options) the SystemStartOptions string (shows C(/3GB) or C(increaseuserva)).
          type: dict
        samples:
          description: One entry per sample with C(collected_at), C(boot_id), C(source=in_run), C(pools) totals
            and C(tags) (tag -> allocs, frees and bytes per pool) for the reported tags.
          type: list
          elements: dict
        warnings:
          description: What could not be read, and why.
          type: list
          elements: str
          sample: ["vmware: 'VM Memory' performance counters unavailable: Invalid class"]
"""
