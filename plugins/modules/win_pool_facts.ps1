#!powershell

# Copyright: memleak.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -CSharpUtil ansible_collections.memleak.remediation.plugins.module_utils.PoolTag
#AnsibleRequires -CSharpUtil ansible_collections.memleak.remediation.plugins.module_utils._HostText
#AnsibleRequires -CSharpUtil ansible_collections.memleak.remediation.plugins.module_utils.History
#AnsibleRequires -CSharpUtil ansible_collections.memleak.remediation.plugins.module_utils._ModuleList
#AnsibleRequires -CSharpUtil ansible_collections.memleak.remediation.plugins.module_utils._TcpTable

# Reads the host; the only write is one line appended to the host history
# (History.cs), which check mode skips. Every section that fails adds one
# sentence to the snapshot's warnings and the module still returns; only bad
# options fail the task. Parsing, selection, the compact samples and the
# history file live in PoolTag.cs and History.cs, the loaded driver list in
# _ModuleList.cs and the TCP counts in _TcpTable.cs, which are unit-tested; this
# script calls and assembles.

$spec = @{
    options = @{
        top = @{ type = 'int'; default = 20 }
        samples = @{ type = 'int'; default = 4 }
        interval = @{ type = 'float'; default = 5 }
        scan_drivers = @{ type = 'int'; default = 5 }
        scan_seconds = @{ type = 'int'; default = 60 }
        pooltag_file = @{ type = 'path' }
        bugcheck_days = @{ type = 'int'; default = 30 }
        host = @{ type = 'str' }
        history = @{ type = 'bool'; default = $true }
        history_path = @{ type = 'path' }
        history_max_samples = @{ type = 'int'; default = 1500 }
        history_max_age_days = @{ type = 'int'; default = 400 }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$top = $module.Params.top
$sampleCount = $module.Params.samples
$interval = $module.Params.interval
$scanDrivers = $module.Params.scan_drivers
$pooltagFile = $module.Params.pooltag_file
$bugcheckDays = $module.Params.bugcheck_days

if ($top -lt 1) { $module.FailJson("top must be 1 or more, got $top") }
if ($sampleCount -lt 1 -or $sampleCount -gt 60) { $module.FailJson("samples must be between 1 and 60, got $sampleCount") }
if ($interval -lt 0 -or $interval -gt 600) { $module.FailJson("interval must be between 0 and 600 seconds, got $interval") }
if ($scanDrivers -lt 0) { $module.FailJson("scan_drivers must be 0 or more, got $scanDrivers") }
$scanSeconds = $module.Params.scan_seconds
if ($scanSeconds -lt 1) { $module.FailJson("scan_seconds must be 1 or more, got $scanSeconds") }
if ($bugcheckDays -lt 1) { $module.FailJson("bugcheck_days must be 1 or more, got $bugcheckDays") }
$historyMaxSamples = $module.Params.history_max_samples
$historyMaxAgeDays = $module.Params.history_max_age_days
if ($historyMaxSamples -lt 1) { $module.FailJson("history_max_samples must be 1 or more, got $historyMaxSamples") }
if ($historyMaxAgeDays -lt 1) { $module.FailJson("history_max_age_days must be 1 or more, got $historyMaxAgeDays") }

$warnings = [System.Collections.Generic.List[string]]@()
$invariant = [System.Globalization.CultureInfo]::InvariantCulture

function ConvertTo-IsoUtc {
    param([Object]$Value)
    if ($null -eq $Value) { return $null }
    ([DateTime]$Value).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", $invariant)
}

function Get-FileVersionText {
    param([System.Diagnostics.FileVersionInfo]$Info)
    if ($null -eq $Info) { return $null }
    "{0}.{1}.{2}.{3}" -f $Info.FileMajorPart, $Info.FileMinorPart, $Info.FileBuildPart, $Info.FilePrivatePart
}

function ConvertTo-NullableLong {
    param([Object]$Value)
    if ($null -eq $Value) { return $null }
    [long]$Value
}

function Get-CounterValue {
    param([Object]$Counters, [string]$Name)
    if ($null -eq $Counters -or $Counters.PSObject.Properties.Name -notcontains $Name) { return $null }
    ConvertTo-NullableLong $Counters.$Name
}

# ---------------------------------------------------------------- operating system
$osInfo = [ordered]@{
    family = 'windows'; name = $null; version = $null; build = $null; arch = $null; kernel = $null; ram_bytes = $null
}
$bootId = $null
$bootOptions = $null
$computer = $null
try {
    $os = Get-CimInstance -ClassName Win32_OperatingSystem -ErrorAction Stop
    $computer = Get-CimInstance -ClassName Win32_ComputerSystem -ErrorAction Stop
    $osInfo.name = $os.Caption
    $osInfo.version = $os.Version
    $osInfo.build = [string]$os.BuildNumber
    $osInfo.ram_bytes = ConvertTo-NullableLong $computer.TotalPhysicalMemory
    $bootId = ConvertTo-IsoUtc $os.LastBootUpTime
}
catch {
    $warnings.Add("os: Win32_OperatingSystem / Win32_ComputerSystem unreadable: $($_.Exception.Message)")
}

$nativeArch = $env:PROCESSOR_ARCHITECTURE
if ($env:PROCESSOR_ARCHITEW6432) { $nativeArch = $env:PROCESSOR_ARCHITEW6432 }
$osInfo.arch = switch ($nativeArch) {
    'AMD64' { 'x64' }
    'x86' { 'x86' }
    'ARM64' { 'arm64' }
    default { $nativeArch }
}
$wow64 = [Environment]::Is64BitOperatingSystem -and -not [Environment]::Is64BitProcess

try {
    $currentVersion = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion' -ErrorAction Stop
    if ($null -ne $currentVersion.UBR -and $osInfo.build) {
        $osInfo.build = "$($osInfo.build).$($currentVersion.UBR)"
    }
}
catch {
    $warnings.Add("os: update build revision (UBR) unreadable: $($_.Exception.Message)")
}

try {
    $kernelPath = Join-Path -Path $env:SystemRoot -ChildPath 'System32\ntoskrnl.exe'
    if ($wow64) { $kernelPath = Join-Path -Path $env:SystemRoot -ChildPath 'Sysnative\ntoskrnl.exe' }
    $osInfo.kernel = Get-FileVersionText ([System.Diagnostics.FileVersionInfo]::GetVersionInfo($kernelPath))
}
catch {
    $warnings.Add("os: ntoskrnl.exe version unreadable: $($_.Exception.Message)")
}

try {
    $control = Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control' -Name SystemStartOptions -ErrorAction Stop
    $bootOptions = ([string]$control.SystemStartOptions).Trim()
}
catch {
    $warnings.Add("os: SystemStartOptions unreadable: $($_.Exception.Message)")
}

# ---------------------------------------------------------------- memory counters
function Get-MemoryCounter {
    try {
        Get-CimInstance -ClassName Win32_PerfRawData_PerfOS_Memory -ErrorAction Stop | Select-Object -First 1
    }
    catch {
        $warnings.Add("memory: Win32_PerfRawData_PerfOS_Memory unreadable: $($_.Exception.Message)")
        $null
    }
}

# ---------------------------------------------------------------- pool tags, sampled
$sampleList = [MemLeak.PoolTag.PoolTagSampler]::NewSampleList()
$sampleMeta = [System.Collections.Generic.List[object]]@()
$perf = $null
$collectedAt = $null
if ($wow64) {
    $warnings.Add("pool tags: not read from a 32-bit PowerShell on 64-bit Windows (the table layout differs); " +
        "run the module in 64-bit PowerShell")
}
for ($i = 0; $i -lt $sampleCount; $i++) {
    if ($i -gt 0 -and $interval -gt 0) { Start-Sleep -Milliseconds ([int]($interval * 1000)) }
    $perf = Get-MemoryCounter
    $collectedAt = ConvertTo-IsoUtc ([DateTime]::UtcNow)
    $table = $null
    $stop = $false
    if (-not $wow64) {
        try {
            $table = [MemLeak.PoolTag.PoolTagQuery]::Query()
            $sampleList.Add($table)
        }
        catch {
            $warnings.Add("pool tags: sample $($i + 1) failed: $($_.Exception.Message)")
            $stop = $i -eq 0
        }
    }
    $sampleMeta.Add([ordered]@{ collected_at = $collectedAt; table = $table; perf = $perf })
    if ($stop) { break }
}

$chosen = [MemLeak.PoolTag.PoolTagSampler]::SelectTags($sampleList, $top)
$tags = [System.Collections.Generic.List[object]]@()
if ($sampleList.Count -gt 0) {
    $last = [MemLeak.PoolTag.PoolTagSampler]::Index($sampleList[$sampleList.Count - 1])
    foreach ($tag in $chosen) {
        $tags.Add($last[$tag].ToSnapshot())
    }
}

# In-run samples in the compact form of plugins/module_utils/series.py (built by PoolTag.cs).
# $null given to a .NET string parameter arrives as ""; [NullString]::Value arrives as null.
$bootArg = $bootId
if ($null -eq $bootArg) { $bootArg = [NullString]::Value }
$inRun = [System.Collections.Generic.List[object]]@()
foreach ($meta in $sampleMeta) {
    $inRun.Add([MemLeak.PoolTag.PoolTagSampler]::CompactSample($meta.collected_at, $bootArg, $meta.table, $chosen,
            $osInfo.ram_bytes, (Get-CounterValue $meta.perf 'AvailableBytes'),
            (Get-CounterValue $meta.perf 'FreeAndZeroPageListBytes'), (Get-CounterValue $meta.perf 'CommittedBytes'),
            (Get-CounterValue $meta.perf 'PoolPagedBytes'), (Get-CounterValue $meta.perf 'PoolNonpagedBytes')))
}

if ($pooltagFile -and $tags.Count -gt 0) {
    try {
        $descriptions = [MemLeak.PoolTag.PoolTagFile]::Parse([System.IO.File]::ReadAllText($pooltagFile))
        foreach ($entry in $tags) {
            $found = [MemLeak.PoolTag.PoolTagFile]::Lookup($descriptions, $entry['tag'])
            if ($null -ne $found) {
                $entry['description'] = "$($found.Description) [$($found.Binary)]"
            }
        }
    }
    catch {
        $warnings.Add("pooltag_file: $pooltagFile unreadable: $($_.Exception.Message)")
    }
}

# ---------------------------------------------------------------- driver attribution
# The images actually loaded (ntoskrnl first, DriverStore drivers included) are scanned; the
# drivers folder, recursively, only when the module list cannot be read. Bounded in bytes and time.
$drivers = [ordered]@{}
$driverScan = $null
if ($scanDrivers -gt 0 -and $tags.Count -gt 0) {
    $scanTags = [System.Collections.Generic.List[string]]@()
    foreach ($entry in $tags) {
        if ($scanTags.Count -ge $scanDrivers) { break }
        $scanTags.Add($entry['tag'])
    }
    $systemRoot = $env:SystemRoot
    $source = 'loaded_modules'
    $paths = $null
    try {
        $loaded = [MemLeak.ModuleList]::Query($systemRoot)
        $paths = [string[]]([MemLeak.ModuleList]::Paths($loaded))
        $unresolved = [MemLeak.ModuleList]::Unresolved($loaded)
        if ($unresolved.Count -gt 0) {
            $warnings.Add("drivers: $($unresolved.Count) loaded image path(s) not resolvable to a file, first: $($unresolved[0])")
        }
    }
    catch {
        $source = 'drivers_folder'
        $warnings.Add("drivers: loaded module list unreadable ($($_.Exception.Message)); scanning the drivers folder and ntoskrnl.exe")
        try {
            $driverDir = Join-Path -Path $systemRoot -ChildPath 'System32\drivers'
            $paths = [string[]](@(Join-Path -Path $systemRoot -ChildPath 'System32\ntoskrnl.exe') +
                @(Get-ChildItem -LiteralPath $driverDir -Filter '*.sys' -File -Recurse -ErrorAction SilentlyContinue |
                        ForEach-Object { $_.FullName }))
        }
        catch {
            $warnings.Add("drivers: scan of $driverDir failed: $($_.Exception.Message)")
        }
    }
    if ($null -ne $paths -and -not $wow64) {
        $scanLimit = 256MB
        $scanTotal = 2GB
        $scanMs = $scanSeconds * 1000
        $scan = [MemLeak.PoolTag.DriverScan]::ScanFiles($paths, $scanTags, $scanLimit, $scanTotal, $scanMs)
        if ($scan.Errors.Count -gt 0) {
            $warnings.Add("drivers: $($scan.Errors.Count) file(s) not scanned, first: $($scan.Errors[0])")
        }
        if ($scan.StoppedBecause) {
            $warnings.Add("drivers: scan stopped early ($($scan.StoppedBecause)); $($scan.FilesNotReached) image(s) not read")
        }
        $unmatched = $scan.Unmatched($scanTags)
        foreach ($tag in $unmatched) {
            $warnings.Add("drivers: tag '$tag' was found in none of the $($scan.FilesScanned) scanned images; " +
                "it may be built at run time or come from an image not read. Manual fallback: strings + findstr " +
                "over the driver files, then the version and signer of each hit (docs/guide-windows-nonpaged-pool-leak.md)")
        }
        foreach ($tag in $scanTags) {
            $files = [System.Collections.Generic.List[object]]@()
            $matched = $scan.Matches[$tag]
            foreach ($file in ($matched | Select-Object -First 10)) {
                $version = $null
                $company = $null
                $signed = $null
                try {
                    $info = [System.Diagnostics.FileVersionInfo]::GetVersionInfo($file)
                    $version = Get-FileVersionText $info
                    $company = $info.CompanyName
                }
                catch {
                    $warnings.Add("drivers: version of $file unreadable: $($_.Exception.Message)")
                }
                try {
                    $signature = Get-AuthenticodeSignature -LiteralPath $file -ErrorAction Stop
                    $signed = $signature.Status -eq [System.Management.Automation.SignatureStatus]::Valid
                }
                catch {
                    $warnings.Add("drivers: signature of $file unreadable: $($_.Exception.Message)")
                }
                $files.Add([ordered]@{ file = $file; version = $version; company = $company; signed = $signed })
            }
            if ($matched.Count -gt 10) {
                $warnings.Add("drivers: tag $tag occurs in $($matched.Count) files; the first 10 are listed")
            }
            $drivers[$tag] = $files
        }
        $driverScan = [ordered]@{
            source = $source; images = $scan.FilesScanned; bytes = $scan.BytesScanned
            not_reached = $scan.FilesNotReached; stopped = $scan.StoppedBecause; unmatched = @($unmatched)
        }
    }
    elseif ($wow64) {
        $warnings.Add("drivers: not scanned from a 32-bit PowerShell on 64-bit Windows (System32 is redirected)")
    }
}

# ---------------------------------------------------------------- virtualisation
$virt = [ordered]@{ platform = 'unknown'; tools = $null; balloon = $null }
if ($null -ne $computer) {
    $hypervisor = $null
    if ($computer.PSObject.Properties.Name -contains 'HypervisorPresent') { $hypervisor = $computer.HypervisorPresent }
    $virt.platform = [MemLeak.HostText]::DetectPlatform($computer.Manufacturer, $computer.Model, $hypervisor)
}
if ($virt.platform -eq 'vmware') {
    $toolsVersion = $null
    $toolbox = Join-Path -Path $env:ProgramFiles -ChildPath 'VMware\VMware Tools\VMwareToolboxCmd.exe'
    if (Test-Path -LiteralPath $toolbox) {
        try {
            $toolsVersion = [MemLeak.HostText]::ParseToolsVersion((& $toolbox -v 2>&1 | Out-String))
        }
        catch {
            $warnings.Add("vmware: VMwareToolboxCmd.exe -v failed: $($_.Exception.Message)")
        }
    }
    if (-not $toolsVersion) {
        $uninstall = @('HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall',
            'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall')
        foreach ($key in $uninstall) {
            if (-not (Test-Path -LiteralPath $key)) { continue }
            $product = Get-ChildItem -LiteralPath $key -ErrorAction SilentlyContinue |
                Get-ItemProperty -ErrorAction SilentlyContinue |
                Where-Object { $_.PSObject.Properties.Name -contains 'DisplayName' -and $_.DisplayName -eq 'VMware Tools' } |
                Select-Object -First 1
            if ($product) {
                $toolsVersion = [MemLeak.HostText]::ParseToolsVersion([string]$product.DisplayVersion)
                break
            }
        }
    }
    if ($toolsVersion) {
        $virt.tools = [ordered]@{ name = 'VMware Tools'; version = $toolsVersion }
    }
    else {
        $warnings.Add("vmware: VMware Tools version not found (no VMwareToolboxCmd.exe, no Uninstall entry)")
    }

    $balloon = [ordered]@{ driver = 'vmmemctl'; loaded = $false; bytes = $null; target_bytes = $null }
    try {
        $memctl = Get-CimInstance -ClassName Win32_SystemDriver -Filter "Name='vmmemctl'" -ErrorAction Stop
        $balloon.loaded = ($null -ne $memctl -and $memctl.State -eq 'Running')
    }
    catch {
        $warnings.Add("vmware: balloon driver state unreadable: $($_.Exception.Message)")
    }
    try {
        $vmem = Get-CimInstance -ClassName Win32_PerfRawData_vmGuestLib_VMem -ErrorAction Stop | Select-Object -First 1
        if ($null -ne $vmem) { $balloon.bytes = [long]$vmem.MemBalloonedMB * 1048576 }
    }
    catch {
        $warnings.Add("vmware: 'VM Memory' performance counters unavailable: $($_.Exception.Message)")
    }
    $virt.balloon = $balloon
}

# ---------------------------------------------------------------- TCP connections
# Counted in C# from GetTcpTable2 / GetTcp6Table2 in one pass (no object per connection);
# netstat -an only when that fails, with English and German state words mapped.
$tcp = $null
try {
    $tcp = [ordered]@{ states = [MemLeak.TcpTable]::Query(); source = 'GetTcpTable2' }
}
catch {
    $tableError = $_.Exception.Message
    try {
        $text = & netstat.exe -an 2>&1 | Out-String
        $counted = [MemLeak.HostText]::CountNetstatStates($text)
        $tcp = [ordered]@{ states = $counted; source = 'netstat' }
        $warnings.Add("tcp: GetTcpTable2 unavailable ($tableError); counted from netstat -an")
        $unknownStates = [MemLeak.HostText]::UnknownNetstatStates($counted)
        if ($unknownStates.Count -gt 0) {
            $warnings.Add("tcp: netstat state word(s) not understood, kept as printed: $($unknownStates -join ', ')")
        }
    }
    catch {
        $warnings.Add("tcp: connection states unreadable ($tableError; netstat: $($_.Exception.Message))")
    }
}

# ---------------------------------------------------------------- bugchecks
$bugchecks = [System.Collections.Generic.List[object]]@()
$dumpsSeen = New-Object -TypeName 'System.Collections.Generic.HashSet[string]'
try {
    $filter = @{ LogName = 'System'; Id = @(1001, 41); StartTime = (Get-Date).AddDays(-$bugcheckDays) }
    $events = @(Get-WinEvent -FilterHashtable $filter -MaxEvents 200 -ErrorAction Stop)
    foreach ($record in $events) {
        $data = @{}
        foreach ($node in ([xml]$record.ToXml()).Event.EventData.Data) {
            if ($node.Name) { $data[$node.Name] = $node.'#text' }
        }
        if ($record.Id -eq 1001 -and $record.ProviderName -in @('Microsoft-Windows-WER-SystemErrorReporting', 'BugCheck', 'Save Dump')) {
            $text = if ($data['param1']) { $data['param1'] } else { $record.Message }
            $parsed = [MemLeak.HostText]::ParseBugcheck($text)
            if ($null -eq $parsed) { continue }
            $dump = $data['param2']
            if ($dump) { [void]$dumpsSeen.Add($dump.ToLowerInvariant()) }
            $bugchecks.Add([ordered]@{
                time = ConvertTo-IsoUtc $record.TimeCreated; code = $parsed[0]
                params = @($parsed[1], $parsed[2], $parsed[3], $parsed[4]); dump = $dump
            })
        }
        elseif ($record.Id -eq 41 -and $record.ProviderName -eq 'Microsoft-Windows-Kernel-Power') {
            $code = [MemLeak.HostText]::NormalizeHex([string]$data['BugcheckCode'], 8)
            if (-not $code -or $code -eq '0x00000000') { continue }
            $params = @(1..4 | ForEach-Object { [MemLeak.HostText]::NormalizeHex([string]$data["BugcheckParameter$_"], 16) })
            $bugchecks.Add([ordered]@{ time = ConvertTo-IsoUtc $record.TimeCreated; code = $code; params = $params; dump = $null })
        }
    }
}
catch {
    if ($_.FullyQualifiedErrorId -notlike 'NoMatchingEventsFound*') {
        $warnings.Add("bugchecks: System log unreadable: $($_.Exception.Message)")
    }
}
try {
    $minidumpDir = Join-Path -Path $env:SystemRoot -ChildPath 'Minidump'
    if (Test-Path -LiteralPath $minidumpDir) {
        Get-ChildItem -LiteralPath $minidumpDir -Filter '*.dmp' -File -ErrorAction Stop |
            Sort-Object -Property LastWriteTimeUtc -Descending | Select-Object -First 10 |
            Where-Object { -not $dumpsSeen.Contains($_.FullName.ToLowerInvariant()) } |
            ForEach-Object {
                $bugchecks.Add([ordered]@{ time = ConvertTo-IsoUtc $_.LastWriteTimeUtc; code = $null; params = @(); dump = $_.FullName })
            }
    }
}
catch {
    $warnings.Add("bugchecks: minidump folder unreadable: $($_.Exception.Message)")
}

# ---------------------------------------------------------------- processes
$processes = [System.Collections.Generic.List[object]]@()
try {
    $all = @(Get-Process -ErrorAction Stop)
    $pick = @($all | Sort-Object -Property PrivateMemorySize64 -Descending | Select-Object -First $top) +
        @($all | Sort-Object -Property HandleCount -Descending | Select-Object -First $top)
    $pick | Sort-Object -Property Id -Unique | Sort-Object -Property PrivateMemorySize64 -Descending | ForEach-Object {
        $processes.Add([ordered]@{
            pid = $_.Id; name = $_.ProcessName; private_bytes = [long]$_.PrivateMemorySize64
            working_set = [long]$_.WorkingSet64; handles = $_.HandleCount
        })
    }
}
catch {
    $warnings.Add("processes: list unreadable: $($_.Exception.Message)")
}

# ---------------------------------------------------------------- assemble
$memory = [ordered]@{ total = $osInfo.ram_bytes; free = $null; available = $null; used = $null; commit_used = $null; commit_limit = $null }
$pools = $null
if ($perf) {
    $memory.available = ConvertTo-NullableLong $perf.AvailableBytes
    if ($perf.PSObject.Properties.Name -contains 'FreeAndZeroPageListBytes') {
        $memory.free = ConvertTo-NullableLong $perf.FreeAndZeroPageListBytes
    }
    if ($null -ne $memory.total -and $null -ne $memory.available) { $memory.used = $memory.total - $memory.available }
    $memory.commit_used = ConvertTo-NullableLong $perf.CommittedBytes
    $memory.commit_limit = ConvertTo-NullableLong $perf.CommitLimit
    $pools = [ordered]@{
        nonpaged = [ordered]@{ bytes = ConvertTo-NullableLong $perf.PoolNonpagedBytes; limit = $null }
        paged = [ordered]@{
            bytes = ConvertTo-NullableLong $perf.PoolPagedBytes
            resident = ConvertTo-NullableLong $perf.PoolPagedResidentBytes
            limit = $null
        }
    }
}
if (-not $collectedAt) { $collectedAt = ConvertTo-IsoUtc ([DateTime]::UtcNow) }

# ---------------------------------------------------------------- host history
# The history window (one stored sample per run) followed by this run's samples; only the
# newest in-run sample is stored, and nothing is written in check mode.
$samples = [System.Collections.Generic.List[object]]@()
if ($module.Params.history -and $inRun.Count -gt 0) {
    $historyPath = $module.Params.history_path
    if (-not $historyPath) { $historyPath = [MemLeak.History.HistoryStore]::DefaultPath() }
    $maxAgeHours = $historyMaxAgeDays * 24
    $recorded = [MemLeak.History.HistoryStore]::Record($historyPath, $inRun, $historyMaxSamples, $maxAgeHours, $module.CheckMode)
    foreach ($line in $recorded.Warnings) { $warnings.Add($line) }
    $samples = $recorded.Samples
    if ($recorded.Path) { $module.Result.history_path = $recorded.Path }
}
elseif ($inRun.Count -gt 1) {
    $samples = $inRun
}
$hostName = $module.Params.host
if (-not $hostName) { $hostName = $env:COMPUTERNAME }

$snapshot = [ordered]@{
    schema = 1
    host = $hostName
    collected_at = $collectedAt
    boot_id = $bootId
    source = 'live'
    os = $osInfo
    virt = $virt
    memory = $memory
    windows = [ordered]@{
        pools = $pools
        tags = $tags
        drivers = $drivers
        driver_scan = $driverScan
        processes = $processes
        tcp = $tcp
        bugchecks = $bugchecks
        boot_options = $bootOptions
    }
    samples = $samples
    warnings = $warnings
}

$module.Result.changed = $false
$module.Result.ansible_facts = @{ memleak_snapshot = $snapshot }
$module.ExitJson()
