// Copyright: memleak.remediation contributors
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Kernel pool tag table and driver attribution for win_pool_facts.
//
// Everything that interprets bytes or text is a pure static function so that it can be
// compiled and unit-tested with Mono on any machine; only PoolTagQuery.Query, the file
// reads of DriverScan.ScanFiles and nothing else touch the operating system.
// Written for C# 5 (the csc.exe that Windows PowerShell 5.1 uses through Add-Type).

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

//TypeAccelerator -Name MemLeak.PoolTag.PoolTagQuery -TypeName PoolTagQuery
//TypeAccelerator -Name MemLeak.PoolTag.PoolTagEntry -TypeName PoolTagEntry
//TypeAccelerator -Name MemLeak.PoolTag.PoolTagParser -TypeName PoolTagParser
//TypeAccelerator -Name MemLeak.PoolTag.PoolTagSampler -TypeName PoolTagSampler
//TypeAccelerator -Name MemLeak.PoolTag.DriverScan -TypeName DriverScan
//TypeAccelerator -Name MemLeak.PoolTag.PoolTagFile -TypeName PoolTagFile

namespace ansible_collections.memleak.remediation.plugins.module_utils.PoolTag
{
    /// <summary>Pointer size of the SYSTEM_POOLTAG_INFORMATION producer.</summary>
    public enum PoolTagLayout
    {
        X86 = 4,
        X64 = 8,
    }

    /// <summary>A buffer that is not a SYSTEM_POOLTAG_INFORMATION of the stated layout.</summary>
    public class PoolTagFormatException : Exception
    {
        public PoolTagFormatException(string message) : base(message) { }
    }

    /// <summary>NtQuerySystemInformation failed or never settled on a buffer size.</summary>
    public class PoolTagQueryException : Exception
    {
        public UInt32 Status { get; private set; }

        public PoolTagQueryException(string message, UInt32 status) : base(message)
        {
            Status = status;
        }
    }

    /// <summary>One SYSTEM_POOLTAG entry.</summary>
    public class PoolTagEntry
    {
        /// <summary>Printable rendering of the 4 tag bytes (protected bit removed); bytes outside
        /// 0x20-0x7E and the backslash are written as \xNN.</summary>
        public string Tag { get; set; }
        /// <summary>The 4 tag bytes in memory order, protected bit removed.</summary>
        public byte[] TagBytes { get; set; }
        /// <summary>True when the tag carried PROTECTED_POOL (0x80000000). Expected to stay false: the
        /// tracker strips the bit before it records a tag (ReactOS ntoskrnl/mm/ARM3/expool.c,
        /// ExpInsertPoolTracker), so table entries are not known to carry it; kept so that a kernel
        /// which does is reported rather than misread.</summary>
        public bool Protected { get; set; }
        public UInt32 PagedAllocs { get; set; }
        public UInt32 PagedFrees { get; set; }
        public UInt64 PagedUsed { get; set; }
        public UInt32 NonPagedAllocs { get; set; }
        public UInt32 NonPagedFrees { get; set; }
        public UInt64 NonPagedUsed { get; set; }

        /// <summary>Outstanding paged allocations, (allocs - frees) mod 2^32.</summary>
        public UInt32 PagedOutstanding
        {
            get { return PoolTagParser.Outstanding(PagedAllocs, PagedFrees); }
        }

        /// <summary>Outstanding nonpaged allocations, (allocs - frees) mod 2^32.</summary>
        public UInt32 NonPagedOutstanding
        {
            get { return PoolTagParser.Outstanding(NonPagedAllocs, NonPagedFrees); }
        }

        public UInt64 TotalUsed
        {
            get { return PagedUsed + NonPagedUsed; }
        }

        /// <summary>The entry as one element of the snapshot's windows.tags list.</summary>
        public Dictionary<string, object> ToSnapshot()
        {
            Dictionary<string, object> result = new Dictionary<string, object>();
            result["tag"] = Tag;
            result["protected"] = Protected;
            result["paged_allocs"] = (long)PagedAllocs;
            result["paged_frees"] = (long)PagedFrees;
            result["paged_bytes"] = (long)PagedUsed;
            result["nonpaged_allocs"] = (long)NonPagedAllocs;
            result["nonpaged_frees"] = (long)NonPagedFrees;
            result["nonpaged_bytes"] = (long)NonPagedUsed;
            result["description"] = null;
            return result;
        }
    }

    /// <summary>Decodes the output buffer of NtQuerySystemInformation(SystemPoolTagInformation).</summary>
    public static class PoolTagParser
    {
        public const int SystemPoolTagInformation = 22;
        public const UInt32 ProtectedPool = 0x80000000;

        /// <summary>Offset of the first entry: ULONG Count, then the array aligned to a pointer.</summary>
        public static int HeaderSize(PoolTagLayout layout)
        {
            return layout == PoolTagLayout.X64 ? 8 : 4;
        }

        /// <summary>sizeof(SYSTEM_POOLTAG): 0x1C on x86, 0x28 on x64.</summary>
        public static int EntrySize(PoolTagLayout layout)
        {
            return layout == PoolTagLayout.X64 ? 0x28 : 0x1C;
        }

        public static PoolTagLayout CurrentLayout()
        {
            return IntPtr.Size == 8 ? PoolTagLayout.X64 : PoolTagLayout.X86;
        }

        public static UInt32 Outstanding(UInt32 allocs, UInt32 frees)
        {
            return unchecked(allocs - frees);
        }

        /// <summary>Parse the first <paramref name="length"/> bytes of <paramref name="buffer"/>.</summary>
        public static List<PoolTagEntry> Parse(byte[] buffer, int length, PoolTagLayout layout)
        {
            if (buffer == null)
                throw new ArgumentNullException("buffer");
            if (length < 0 || length > buffer.Length)
                throw new PoolTagFormatException(String.Format(
                    "pool tag buffer: length {0} outside the {1}-byte array", length, buffer.Length));
            if (layout != PoolTagLayout.X86 && layout != PoolTagLayout.X64)
                throw new ArgumentException("unknown layout " + layout.ToString(), "layout");

            int header = HeaderSize(layout);
            int entrySize = EntrySize(layout);
            if (length < 4)
                throw new PoolTagFormatException(String.Format(
                    "pool tag buffer truncated: {0} bytes, the Count field alone needs 4", length));
            UInt32 count = BitConverter.ToUInt32(buffer, 0);
            long needed = header + (long)count * entrySize;
            if (count > 0 && needed > length)
                throw new PoolTagFormatException(String.Format(
                    "pool tag buffer truncated: Count is {0}, which needs {1} bytes with the {2} layout " +
                    "({3}-byte header + {4} bytes per entry), but only {5} bytes were returned",
                    count, needed, layout == PoolTagLayout.X64 ? "x64" : "x86", header, entrySize, length));

            List<PoolTagEntry> result = new List<PoolTagEntry>((int)count);
            for (int i = 0; i < (int)count; i++)
            {
                int at = header + i * entrySize;
                PoolTagEntry entry = new PoolTagEntry();
                byte[] tag = new byte[4];
                Array.Copy(buffer, at, tag, 0, 4);
                entry.Protected = (tag[3] & 0x80) != 0;
                tag[3] = (byte)(tag[3] & 0x7F);
                entry.TagBytes = tag;
                entry.Tag = RenderTag(tag);
                entry.PagedAllocs = BitConverter.ToUInt32(buffer, at + 4);
                entry.PagedFrees = BitConverter.ToUInt32(buffer, at + 8);
                if (layout == PoolTagLayout.X64)
                {
                    entry.PagedUsed = BitConverter.ToUInt64(buffer, at + 0x10);
                    entry.NonPagedAllocs = BitConverter.ToUInt32(buffer, at + 0x18);
                    entry.NonPagedFrees = BitConverter.ToUInt32(buffer, at + 0x1C);
                    entry.NonPagedUsed = BitConverter.ToUInt64(buffer, at + 0x20);
                }
                else
                {
                    entry.PagedUsed = BitConverter.ToUInt32(buffer, at + 0x0C);
                    entry.NonPagedAllocs = BitConverter.ToUInt32(buffer, at + 0x10);
                    entry.NonPagedFrees = BitConverter.ToUInt32(buffer, at + 0x14);
                    entry.NonPagedUsed = BitConverter.ToUInt32(buffer, at + 0x18);
                }
                result.Add(entry);
            }
            return result;
        }

        /// <summary>4 tag bytes as text that survives JSON, YAML and a terminal.</summary>
        public static string RenderTag(byte[] tag)
        {
            if (tag == null || tag.Length != 4)
                throw new ArgumentException("a pool tag is exactly 4 bytes", "tag");
            StringBuilder sb = new StringBuilder(4);
            foreach (byte b in tag)
            {
                if (b >= 0x20 && b <= 0x7E && b != (byte)'\\')
                    sb.Append((char)b);
                else
                    sb.AppendFormat("\\x{0:X2}", b);
            }
            return sb.ToString();
        }

        /// <summary>The inverse of RenderTag; shorter tags are padded with spaces as the kernel does.</summary>
        public static byte[] TagToBytes(string tag)
        {
            if (tag == null)
                throw new ArgumentNullException("tag");
            List<byte> bytes = new List<byte>(4);
            int i = 0;
            while (i < tag.Length)
            {
                if (tag[i] == '\\' && i + 3 < tag.Length && tag[i + 1] == 'x')
                {
                    bytes.Add(Byte.Parse(tag.Substring(i + 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    i += 4;
                }
                else
                {
                    char c = tag[i];
                    if (c > 0x7E || c < 0x20)
                        throw new ArgumentException(String.Format("pool tag '{0}' has a character outside ASCII", tag), "tag");
                    bytes.Add((byte)c);
                    i += 1;
                }
            }
            if (bytes.Count == 0 || bytes.Count > 4)
                throw new ArgumentException(String.Format("pool tag '{0}' is not 1 to 4 bytes", tag), "tag");
            while (bytes.Count < 4)
                bytes.Add((byte)' ');
            return bytes.ToArray();
        }
    }

    /// <summary>Signature of the native call, so the retry loop can be tested without Windows.</summary>
    public delegate UInt32 SystemInformationCall(IntPtr buffer, int length, out int returnLength);

    /// <summary>Live query of the pool tag table.</summary>
    public static class PoolTagQuery
    {
        public const UInt32 StatusSuccess = 0;
        public const UInt32 StatusInfoLengthMismatch = 0xC0000004;
        public const UInt32 StatusBufferTooSmall = 0xC0000023;
        public const int DefaultInitialSize = 256 * 1024;
        public const int DefaultMaxAttempts = 8;
        /// <summary>Never ask for more than this (the table is a few hundred kilobytes in practice).</summary>
        public const int MaxBufferSize = 64 * 1024 * 1024;

        [DllImport("ntdll.dll")]
        private static extern UInt32 NtQuerySystemInformation(
            int SystemInformationClass,
            IntPtr SystemInformation,
            int SystemInformationLength,
            out int ReturnLength);

        private static UInt32 NativeCall(IntPtr buffer, int length, out int returnLength)
        {
            return NtQuerySystemInformation(PoolTagParser.SystemPoolTagInformation, buffer, length, out returnLength);
        }

        /// <summary>Next buffer size after a length mismatch: what the kernel asked for plus room for
        /// tags created meanwhile, and at least double the last try.</summary>
        public static int NextSize(int current, int returned)
        {
            long wanted = Math.Max((long)returned + 64 * 1024, (long)current * 2);
            if (wanted > MaxBufferSize)
                wanted = MaxBufferSize;
            return (int)wanted;
        }

        /// <summary>Call <paramref name="call"/> with a growing buffer until it fits; returns the filled bytes.</summary>
        public static byte[] QueryRaw(SystemInformationCall call, int initialSize, int maxAttempts)
        {
            return QueryRaw(call, initialSize, maxAttempts, "SystemPoolTagInformation");
        }

        /// <summary>As QueryRaw, naming the information class <paramref name="what"/> in errors
        /// (the loaded module list of _ModuleList.cs shares this retry).</summary>
        public static byte[] QueryRaw(SystemInformationCall call, int initialSize, int maxAttempts, string what)
        {
            if (call == null)
                throw new ArgumentNullException("call");
            if (initialSize < 8)
                initialSize = 8;
            int size = initialSize;
            UInt32 status = StatusInfoLengthMismatch;
            for (int attempt = 1; attempt <= maxAttempts; attempt++)
            {
                IntPtr buffer = Marshal.AllocHGlobal(size);
                try
                {
                    int returned;
                    status = call(buffer, size, out returned);
                    if (status == StatusSuccess)
                    {
                        int used = returned > 0 && returned <= size ? returned : size;
                        byte[] data = new byte[used];
                        Marshal.Copy(buffer, data, 0, used);
                        return data;
                    }
                    if (status != StatusInfoLengthMismatch && status != StatusBufferTooSmall)
                        throw new PoolTagQueryException(String.Format(
                            "NtQuerySystemInformation({0}) failed with NTSTATUS 0x{1:X8}",
                            what, status), status);
                    if (size >= MaxBufferSize)
                        break;
                    size = NextSize(size, returned);
                }
                finally
                {
                    Marshal.FreeHGlobal(buffer);
                }
            }
            throw new PoolTagQueryException(String.Format(
                "NtQuerySystemInformation({0}) still reported a length mismatch " +
                "(NTSTATUS 0x{1:X8}) after {2} attempts; last buffer {3} bytes", what, status, maxAttempts, size), status);
        }

        /// <summary>The pool tag table of this machine.</summary>
        public static List<PoolTagEntry> Query()
        {
            byte[] data = QueryRaw(NativeCall, DefaultInitialSize, DefaultMaxAttempts);
            return PoolTagParser.Parse(data, data.Length, PoolTagParser.CurrentLayout());
        }
    }

    /// <summary>Picks the tags worth reporting from one or more samples of the table.</summary>
    public static class PoolTagSampler
    {
        /// <summary>Union of: the <paramref name="top"/> tags by bytes in the last sample, and, when
        /// there are two samples or more, the top tags by growth of bytes and of outstanding
        /// allocations between the first and the last sample. Ordered by bytes in the last sample.
        /// So up to MaxSelected(top, samples) tags, as the module documents.</summary>
        public static List<string> SelectTags(IList<List<PoolTagEntry>> samples, int top)
        {
            List<string> result = new List<string>();
            if (samples == null || samples.Count == 0 || top <= 0)
                return result;
            List<PoolTagEntry> last = samples[samples.Count - 1];
            Dictionary<string, PoolTagEntry> lastByTag = Index(last);
            HashSet<string> chosen = new HashSet<string>();

            List<PoolTagEntry> byBytes = new List<PoolTagEntry>(last);
            byBytes.Sort(delegate(PoolTagEntry a, PoolTagEntry b)
            {
                int c = b.TotalUsed.CompareTo(a.TotalUsed);
                return c != 0 ? c : String.CompareOrdinal(a.Tag, b.Tag);
            });
            for (int i = 0; i < byBytes.Count && i < top; i++)
                chosen.Add(byBytes[i].Tag);

            if (samples.Count > 1)
            {
                Dictionary<string, PoolTagEntry> firstByTag = Index(samples[0]);
                List<KeyValuePair<string, long>> byteGrowth = new List<KeyValuePair<string, long>>();
                List<KeyValuePair<string, long>> countGrowth = new List<KeyValuePair<string, long>>();
                foreach (KeyValuePair<string, PoolTagEntry> kv in lastByTag)
                {
                    PoolTagEntry first;
                    long bytes0 = 0, count0 = 0;
                    if (firstByTag.TryGetValue(kv.Key, out first))
                    {
                        bytes0 = (long)first.TotalUsed;
                        count0 = (long)first.PagedOutstanding + first.NonPagedOutstanding;
                    }
                    long db = (long)kv.Value.TotalUsed - bytes0;
                    long dc = ((long)kv.Value.PagedOutstanding + kv.Value.NonPagedOutstanding) - count0;
                    if (db > 0)
                        byteGrowth.Add(new KeyValuePair<string, long>(kv.Key, db));
                    if (dc > 0)
                        countGrowth.Add(new KeyValuePair<string, long>(kv.Key, dc));
                }
                AddTop(chosen, byteGrowth, top);
                AddTop(chosen, countGrowth, top);
            }

            foreach (PoolTagEntry entry in byBytes)
                if (chosen.Contains(entry.Tag))
                    result.Add(entry.Tag);
            return result;
        }

        /// <summary>Most tags SelectTags returns: <paramref name="top"/> from one sample, 3 x top
        /// (largest, fastest growing in bytes, fastest growing in outstanding allocations) from several.</summary>
        public static int MaxSelected(int top, int samples)
        {
            return top <= 0 ? 0 : (samples > 1 ? 3 * top : top);
        }

        private static void AddTop(HashSet<string> chosen, List<KeyValuePair<string, long>> growth, int top)
        {
            growth.Sort(delegate(KeyValuePair<string, long> a, KeyValuePair<string, long> b)
            {
                int c = b.Value.CompareTo(a.Value);
                return c != 0 ? c : String.CompareOrdinal(a.Key, b.Key);
            });
            for (int i = 0; i < growth.Count && i < top; i++)
                chosen.Add(growth[i].Key);
        }

        /// <summary>Version of the compact sample format (plugins/module_utils/series.py SAMPLE_FORMAT).</summary>
        public const long SampleFormat = 1;

        /// <summary>One in-run sample in the compact form every history line and every fit uses
        /// (plugins/module_utils/series.py): {"v": 1, "t": collectedAt, "boot": bootId, "s": {series: integer}}.
        /// Series, in the order series.compact_sample writes them: mem.available, mem.free, mem.used
        /// (<paramref name="total"/> - available), mem.commit_used, pool.paged, pool.nonpaged, then for each
        /// chosen tag present in <paramref name="sample"/>: tag.p:TAG (paged bytes), tag.p_out:TAG (outstanding
        /// paged allocations, mod 2^32), tag.np:TAG, tag.np_out:TAG. Unknown (null) values are left out;
        /// <paramref name="sample"/> may be null when the pool tag table could not be read.</summary>
        public static Dictionary<string, object> CompactSample(string collectedAt, string bootId,
            IEnumerable<PoolTagEntry> sample, IList<string> tags, long? total, long? available, long? free,
            long? commitUsed, long? pagedBytes, long? nonpagedBytes)
        {
            Dictionary<string, object> values = new Dictionary<string, object>(StringComparer.Ordinal);
            Put(values, "mem.available", available);
            Put(values, "mem.free", free);
            Put(values, "mem.used", total.HasValue && available.HasValue ? total.Value - available.Value : (long?)null);
            Put(values, "mem.commit_used", commitUsed);
            Put(values, "pool.paged", pagedBytes);
            Put(values, "pool.nonpaged", nonpagedBytes);
            if (sample != null && tags != null)
            {
                Dictionary<string, PoolTagEntry> index = Index(sample);
                foreach (string tag in tags)
                {
                    PoolTagEntry entry;
                    if (!index.TryGetValue(tag, out entry))
                        continue;
                    values["tag.p:" + tag] = (long)entry.PagedUsed;
                    values["tag.p_out:" + tag] = (long)entry.PagedOutstanding;
                    values["tag.np:" + tag] = (long)entry.NonPagedUsed;
                    values["tag.np_out:" + tag] = (long)entry.NonPagedOutstanding;
                }
            }
            Dictionary<string, object> result = new Dictionary<string, object>(StringComparer.Ordinal);
            result["v"] = SampleFormat;
            result["t"] = collectedAt;
            // PowerShell turns $null passed to a string parameter into ""; an unknown boot is null.
            result["boot"] = String.IsNullOrEmpty(bootId) ? null : bootId;
            result["s"] = values;
            return result;
        }

        private static void Put(Dictionary<string, object> values, string name, long? value)
        {
            if (value.HasValue)
                values[name] = value.Value;
        }

        /// <summary>An empty list of samples, for PowerShell to fill with Query() results.</summary>
        public static List<List<PoolTagEntry>> NewSampleList()
        {
            return new List<List<PoolTagEntry>>();
        }

        /// <summary>Tag -> entry; a tag present twice (protected and not) keeps the larger entry.</summary>
        public static Dictionary<string, PoolTagEntry> Index(IEnumerable<PoolTagEntry> entries)
        {
            Dictionary<string, PoolTagEntry> map = new Dictionary<string, PoolTagEntry>(StringComparer.Ordinal);
            foreach (PoolTagEntry entry in entries)
            {
                PoolTagEntry existing;
                if (!map.TryGetValue(entry.Tag, out existing) || entry.TotalUsed > existing.TotalUsed)
                    map[entry.Tag] = entry;
            }
            return map;
        }
    }

    /// <summary>Result of scanning driver images for pool tags.</summary>
    public class DriverScanResult
    {
        /// <summary>Tag (as rendered) -> files containing its bytes, in scan order.</summary>
        public Dictionary<string, List<string>> Matches { get; private set; }
        /// <summary>One sentence per file that could not be read or was skipped.</summary>
        public List<string> Errors { get; private set; }
        public int FilesScanned { get; set; }
        public long BytesScanned { get; set; }
        /// <summary>Files left unread because a budget (total bytes or time) ran out.</summary>
        public int FilesNotReached { get; set; }
        /// <summary>Why the scan stopped early ("time budget of 60 s", "byte budget of ..."); null when it did not.</summary>
        public string StoppedBecause { get; set; }

        public DriverScanResult()
        {
            Matches = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            Errors = new List<string>();
        }

        /// <summary>The tags no scanned file contains, in the order asked.</summary>
        public List<string> Unmatched(IEnumerable<string> tags)
        {
            List<string> result = new List<string>();
            foreach (string tag in tags)
            {
                List<string> files;
                if (!Matches.TryGetValue(tag, out files) || files.Count == 0)
                    result.Add(tag);
            }
            return result;
        }
    }

    /// <summary>Finds which driver images contain a pool tag: the "strings * | findstr TAG" method.</summary>
    public static class DriverScan
    {
        /// <summary>Counts, for each 4-byte tag, how often its bytes occur in the first
        /// <paramref name="length"/> bytes of <paramref name="image"/>. The protected form (high bit
        /// of the last byte set) counts too: the tracker strips that bit before recording a tag, so a
        /// driver allocating protected pool carries the tag in its code with the bit set.
        /// A table of the tags' first bytes is checked before the dictionary lookup, so most
        /// positions of an image cost one array read.</summary>
        public static int[] CountTags(byte[] image, int length, IList<byte[]> tags)
        {
            if (image == null)
                throw new ArgumentNullException("image");
            if (tags == null)
                throw new ArgumentNullException("tags");
            if (length < 0 || length > image.Length)
                throw new ArgumentOutOfRangeException("length");
            int[] counts = new int[tags.Count];
            Dictionary<UInt32, List<int>> wanted = new Dictionary<UInt32, List<int>>();
            bool[] first = new bool[256];
            for (int t = 0; t < tags.Count; t++)
            {
                byte[] tag = tags[t];
                if (tag == null || tag.Length != 4)
                    throw new ArgumentException("each tag is exactly 4 bytes", "tags");
                UInt32 plain = BitConverter.ToUInt32(tag, 0) & 0x7FFFFFFF;
                AddWanted(wanted, plain, t);
                AddWanted(wanted, plain | PoolTagParser.ProtectedPool, t);
                first[tag[0]] = true;
            }
            int last = length - 4;
            for (int i = 0; i <= last; i++)
            {
                if (!first[image[i]])
                    continue;
                UInt32 window = (UInt32)image[i] | ((UInt32)image[i + 1] << 8) |
                    ((UInt32)image[i + 2] << 16) | ((UInt32)image[i + 3] << 24);
                List<int> hits;
                if (wanted.TryGetValue(window, out hits))
                    foreach (int t in hits)
                        counts[t]++;
            }
            return counts;
        }

        private static void AddWanted(Dictionary<UInt32, List<int>> wanted, UInt32 key, int index)
        {
            List<int> list;
            if (!wanted.TryGetValue(key, out list))
            {
                list = new List<int>();
                wanted[key] = list;
            }
            if (!list.Contains(index))
                list.Add(index);
        }

        /// <summary>Reads each file (skipping those over <paramref name="maxFileBytes"/>) and records which
        /// of <paramref name="tags"/> it contains. Unreadable files become Errors, never exceptions.</summary>
        public static DriverScanResult ScanFiles(IEnumerable<string> paths, IList<string> tags, long maxFileBytes)
        {
            return ScanFiles(paths, tags, maxFileBytes, 0, 0);
        }

        /// <summary>As ScanFiles, bounded: stops before the file that would take the bytes read past
        /// <paramref name="maxTotalBytes"/>, or once <paramref name="maxMilliseconds"/> have passed
        /// (0 = no bound); StoppedBecause and FilesNotReached then say so. A path given twice is read once.</summary>
        public static DriverScanResult ScanFiles(IEnumerable<string> paths, IList<string> tags, long maxFileBytes,
            long maxTotalBytes, long maxMilliseconds)
        {
            DriverScanResult result = new DriverScanResult();
            List<byte[]> patterns = new List<byte[]>();
            foreach (string tag in tags)
            {
                patterns.Add(PoolTagParser.TagToBytes(tag));
                if (!result.Matches.ContainsKey(tag))
                    result.Matches[tag] = new List<string>();
            }
            System.Diagnostics.Stopwatch clock = System.Diagnostics.Stopwatch.StartNew();
            HashSet<string> seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (string path in paths)
            {
                if (path == null || !seen.Add(path))
                    continue;
                if (result.StoppedBecause != null)
                {
                    result.FilesNotReached++;
                    continue;
                }
                if (maxMilliseconds > 0 && clock.ElapsedMilliseconds >= maxMilliseconds)
                {
                    result.StoppedBecause = String.Format(CultureInfo.InvariantCulture,
                        "time budget of {0} ms used after {1} files", maxMilliseconds, result.FilesScanned);
                    result.FilesNotReached++;
                    continue;
                }
                byte[] data;
                try
                {
                    FileInfo info = new FileInfo(path);
                    if (maxFileBytes > 0 && info.Length > maxFileBytes)
                    {
                        result.Errors.Add(String.Format("{0}: skipped, {1} bytes is over the {2}-byte scan limit",
                            path, info.Length, maxFileBytes));
                        continue;
                    }
                    if (maxTotalBytes > 0 && result.BytesScanned + info.Length > maxTotalBytes)
                    {
                        result.StoppedBecause = String.Format(CultureInfo.InvariantCulture,
                            "byte budget of {0} bytes used after {1} files", maxTotalBytes, result.FilesScanned);
                        result.FilesNotReached++;
                        continue;
                    }
                    data = File.ReadAllBytes(path);
                }
                catch (Exception e)
                {
                    result.Errors.Add(String.Format("{0}: {1}", path, e.Message));
                    continue;
                }
                result.FilesScanned++;
                result.BytesScanned += data.Length;
                int[] counts = CountTags(data, data.Length, patterns);
                for (int t = 0; t < tags.Count; t++)
                    if (counts[t] > 0 && !result.Matches[tags[t]].Contains(path))
                        result.Matches[tags[t]].Add(path);
            }
            return result;
        }
    }

    /// <summary>One line of Microsoft's pooltag.txt: "TAG - binary - description".</summary>
    public class PoolTagDescription
    {
        public string Pattern { get; set; }
        public string Binary { get; set; }
        public string Description { get; set; }
        public int Line { get; set; }
    }

    /// <summary>Reads pooltag.txt (from the Debugging Tools' triage folder, given by the user on the host).</summary>
    public static class PoolTagFile
    {
        private static readonly Regex Rest = new Regex(@"^(\S+)\s*-\s?(.*)$");

        /// <summary>Parses the text; comment ("rem", "//") and malformed lines are skipped.</summary>
        public static List<PoolTagDescription> Parse(string text)
        {
            List<PoolTagDescription> result = new List<PoolTagDescription>();
            if (text == null)
                return result;
            string[] lines = text.Replace("\r\n", "\n").Split('\n');
            for (int n = 0; n < lines.Length; n++)
            {
                string line = lines[n].TrimEnd();
                string trimmed = line.TrimStart();
                if (trimmed.Length == 0 || trimmed.StartsWith("//", StringComparison.Ordinal) ||
                    trimmed.Equals("rem", StringComparison.OrdinalIgnoreCase) ||
                    trimmed.StartsWith("rem ", StringComparison.OrdinalIgnoreCase))
                    continue;
                int dash = line.IndexOf(" - ", StringComparison.Ordinal);
                if (dash < 1 || dash > 4 || line[0] == ' ')
                    continue;
                string pattern = line.Substring(0, dash).PadRight(4).Substring(0, 4);
                Match m = Rest.Match(line.Substring(dash + 3).Trim());
                if (!m.Success)
                    continue;
                PoolTagDescription entry = new PoolTagDescription();
                entry.Pattern = pattern;
                entry.Binary = m.Groups[1].Value;
                entry.Description = m.Groups[2].Value.Trim();
                entry.Line = n + 1;
                result.Add(entry);
            }
            return result;
        }

        /// <summary>Best description for a rendered tag: an exact line first, else the wildcard line
        /// ('?' one character, '*' the rest) with the most literal characters; null when none.</summary>
        public static PoolTagDescription Lookup(IList<PoolTagDescription> entries, string tag)
        {
            if (entries == null || tag == null)
                return null;
            string wanted = tag.PadRight(4);
            PoolTagDescription best = null;
            int bestScore = -1;
            foreach (PoolTagDescription entry in entries)
            {
                int score = Score(entry.Pattern, wanted);
                if (score > bestScore)
                {
                    best = entry;
                    bestScore = score;
                }
            }
            return best;
        }

        /// <summary>-1 no match; 100 exact; otherwise the number of literal characters matched.</summary>
        private static int Score(string pattern, string tag)
        {
            if (String.Equals(pattern, tag, StringComparison.Ordinal))
                return 100;
            int literal = 0;
            for (int i = 0; i < 4; i++)
            {
                char p = i < pattern.Length ? pattern[i] : ' ';
                if (p == '*')
                    return literal;
                if (p == '?')
                    continue;
                if (i >= tag.Length || p != tag[i])
                    return -1;
                literal++;
            }
            bool wildcard = pattern.IndexOf('?') >= 0;
            return wildcard ? literal : -1;
        }
    }
}
