// Copyright: memleak.remediation contributors
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Unit tests of plugins/module_utils/PoolTag.cs, run under Mono by tests/unit/plugins/module_utils/test_csharp_utils.py.
// No test framework: every public static void method whose name starts with "Test", in a class whose
// name ends with "Tests" (this file and HistoryTests.cs), is one test; the runner below prints
// "PASS <name>" or "FAIL <name>: <reason>" and exits 1 when any failed.
// The synthetic buffers are laid out from the offsets documented for SYSTEM_POOLTAG_INFORMATION
// (Count at 0, entries at 4 on x86 / 8 on x64, entry 0x1C / 0x28 bytes), written here
// independently of the parser.

using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Text;
using ansible_collections.memleak.remediation.plugins.module_utils.PoolTag;
using ansible_collections.memleak.remediation.plugins.module_utils._HostText;

namespace MemLeak.Tests
{
    public class AssertFailed : Exception
    {
        public AssertFailed(string message) : base(message) { }
    }

    internal static class Check
    {
        public static void Equal<T>(T expected, T actual, string what)
        {
            if (!EqualityComparer<T>.Default.Equals(expected, actual))
                throw new AssertFailed(String.Format("{0}: expected <{1}>, got <{2}>", what, expected, actual));
        }

        public static void True(bool condition, string what)
        {
            if (!condition)
                throw new AssertFailed(what);
        }

        public static void Contains(string haystack, string needle, string what)
        {
            if (haystack == null || haystack.IndexOf(needle, StringComparison.Ordinal) < 0)
                throw new AssertFailed(String.Format("{0}: <{1}> does not contain <{2}>", what, haystack, needle));
        }

        public static TException Throws<TException>(Action action, string what) where TException : Exception
        {
            try
            {
                action();
            }
            catch (TException e)
            {
                return e;
            }
            catch (Exception e)
            {
                throw new AssertFailed(String.Format("{0}: expected {1}, got {2}: {3}",
                    what, typeof(TException).Name, e.GetType().Name, e.Message));
            }
            throw new AssertFailed(String.Format("{0}: expected {1}, nothing was thrown", what, typeof(TException).Name));
        }
    }

    /// <summary>One synthetic SYSTEM_POOLTAG.</summary>
    internal class Row
    {
        public byte[] Tag;
        public uint PagedAllocs, PagedFrees, NonPagedAllocs, NonPagedFrees;
        public ulong PagedUsed, NonPagedUsed;

        public Row(string tag, uint pa, uint pf, ulong pu, uint na, uint nf, ulong nu)
            : this(Encoding.ASCII.GetBytes(tag), pa, pf, pu, na, nf, nu) { }

        public Row(byte[] tag, uint pa, uint pf, ulong pu, uint na, uint nf, ulong nu)
        {
            Tag = tag; PagedAllocs = pa; PagedFrees = pf; PagedUsed = pu;
            NonPagedAllocs = na; NonPagedFrees = nf; NonPagedUsed = nu;
        }
    }

    internal static class Buffers
    {
        /// <summary>Writes the documented layout byte by byte; padding is filled with 0xCC so
        /// that a parser reading a wrong offset sees garbage, not zero.</summary>
        public static byte[] Build(bool x64, params Row[] rows)
        {
            int header = x64 ? 8 : 4;
            int size = x64 ? 0x28 : 0x1C;
            byte[] buf = new byte[header + rows.Length * size];
            for (int i = 0; i < buf.Length; i++)
                buf[i] = 0xCC;
            Put32(buf, 0, (uint)rows.Length);
            for (int r = 0; r < rows.Length; r++)
            {
                int at = header + r * size;
                Array.Copy(rows[r].Tag, 0, buf, at, 4);
                Put32(buf, at + 0x04, rows[r].PagedAllocs);
                Put32(buf, at + 0x08, rows[r].PagedFrees);
                if (x64)
                {
                    Put64(buf, at + 0x10, rows[r].PagedUsed);
                    Put32(buf, at + 0x18, rows[r].NonPagedAllocs);
                    Put32(buf, at + 0x1C, rows[r].NonPagedFrees);
                    Put64(buf, at + 0x20, rows[r].NonPagedUsed);
                }
                else
                {
                    Put32(buf, at + 0x0C, (uint)rows[r].PagedUsed);
                    Put32(buf, at + 0x10, rows[r].NonPagedAllocs);
                    Put32(buf, at + 0x14, rows[r].NonPagedFrees);
                    Put32(buf, at + 0x18, (uint)rows[r].NonPagedUsed);
                }
            }
            return buf;
        }

        public static void Put32(byte[] b, int at, uint v)
        {
            b[at] = (byte)v; b[at + 1] = (byte)(v >> 8); b[at + 2] = (byte)(v >> 16); b[at + 3] = (byte)(v >> 24);
        }

        public static void Put64(byte[] b, int at, ulong v)
        {
            Put32(b, at, (uint)v);
            Put32(b, at + 4, (uint)(v >> 32));
        }
    }

    public static class PoolTagTests
    {
        // ------------------------------------------------------------------ layout

        public static void TestX64TwoEntries()
        {
            byte[] buf = Buffers.Build(true,
                new Row("VFil", 10, 4, 0, 3000000, 1000, 0x300001000UL),
                new Row("Irp ", 7, 7, 4096, 55, 50, 1234));
            Check.Equal(8 + 2 * 0x28, buf.Length, "buffer size");
            List<PoolTagEntry> tags = PoolTagParser.Parse(buf, buf.Length, PoolTagLayout.X64);
            Check.Equal(2, tags.Count, "entries");
            Check.Equal("VFil", tags[0].Tag, "tag 0");
            Check.Equal(10u, tags[0].PagedAllocs, "paged allocs");
            Check.Equal(4u, tags[0].PagedFrees, "paged frees");
            Check.Equal(3000000u, tags[0].NonPagedAllocs, "nonpaged allocs");
            Check.Equal(1000u, tags[0].NonPagedFrees, "nonpaged frees");
            Check.Equal(0x300001000UL, tags[0].NonPagedUsed, "64-bit nonpaged bytes above 4 GiB");
            Check.Equal(2999000u, tags[0].NonPagedOutstanding, "outstanding");
            Check.Equal("Irp ", tags[1].Tag, "tag 1 keeps its trailing space");
            Check.Equal(4096UL, tags[1].PagedUsed, "paged bytes");
            Check.Equal(1234UL, tags[1].NonPagedUsed, "nonpaged bytes");
            Check.Equal(false, tags[1].Protected, "not protected");
        }

        public static void TestX86Layout()
        {
            byte[] buf = Buffers.Build(false,
                new Row("AfdE", 1, 0, 100, 90000, 10, 125476 * 1024UL),
                new Row("MmSt", 500, 400, 7777, 0, 0, 0));
            Check.Equal(4 + 2 * 0x1C, buf.Length, "buffer size");
            List<PoolTagEntry> tags = PoolTagParser.Parse(buf, buf.Length, PoolTagLayout.X86);
            Check.Equal(2, tags.Count, "entries");
            Check.Equal("AfdE", tags[0].Tag, "tag 0");
            Check.Equal(100UL, tags[0].PagedUsed, "paged bytes at 0x0C");
            Check.Equal(90000u, tags[0].NonPagedAllocs, "nonpaged allocs at 0x10");
            Check.Equal(10u, tags[0].NonPagedFrees, "nonpaged frees at 0x14");
            Check.Equal(125476 * 1024UL, tags[0].NonPagedUsed, "nonpaged bytes at 0x18");
            Check.Equal("MmSt", tags[1].Tag, "tag 1");
            Check.Equal(100u, tags[1].PagedOutstanding, "paged outstanding");
        }

        public static void TestLayoutSizes()
        {
            Check.Equal(4, PoolTagParser.HeaderSize(PoolTagLayout.X86), "x86 header");
            Check.Equal(8, PoolTagParser.HeaderSize(PoolTagLayout.X64), "x64 header");
            Check.Equal(0x1C, PoolTagParser.EntrySize(PoolTagLayout.X86), "x86 entry");
            Check.Equal(0x28, PoolTagParser.EntrySize(PoolTagLayout.X64), "x64 entry");
        }

        public static void TestEmptyTable()
        {
            Check.Equal(0, PoolTagParser.Parse(new byte[8], 8, PoolTagLayout.X64).Count, "x64 count 0");
            Check.Equal(0, PoolTagParser.Parse(new byte[4], 4, PoolTagLayout.X86).Count, "x86 count 0");
        }

        public static void TestLengthBelowArrayIsHonoured()
        {
            byte[] buf = Buffers.Build(true, new Row("Leak", 1, 0, 0, 0, 0, 0));
            byte[] bigger = new byte[buf.Length + 100];
            Array.Copy(buf, bigger, buf.Length);
            Check.Equal(1, PoolTagParser.Parse(bigger, buf.Length, PoolTagLayout.X64).Count, "extra bytes ignored");
        }

        // ------------------------------------------------------------------ counters

        public static void TestWrappingCounters()
        {
            byte[] buf = Buffers.Build(true,
                new Row("Wrap", 5, 0xFFFFFFFEu, 0, 3, 0xFFFFFFFFu, 0),
                new Row("Same", 0xFFFFFFFFu, 0xFFFFFFFFu, 0, 0, 0, 0));
            List<PoolTagEntry> tags = PoolTagParser.Parse(buf, buf.Length, PoolTagLayout.X64);
            Check.Equal(7u, tags[0].PagedOutstanding, "5 - 0xFFFFFFFE mod 2^32");
            Check.Equal(4u, tags[0].NonPagedOutstanding, "3 - 0xFFFFFFFF mod 2^32");
            Check.Equal(0u, tags[1].PagedOutstanding, "equal counters");
            Check.Equal(1u, PoolTagParser.Outstanding(0, 0xFFFFFFFFu), "0 - (2^32-1)");
        }

        // ------------------------------------------------------------------ tags

        public static void TestProtectedTagHighBit()
        {
            byte[] tag = new byte[] { (byte)'O', (byte)'b', (byte)'j', (byte)('T' | 0x80) };
            byte[] buf = Buffers.Build(true, new Row(tag, 1, 0, 64, 0, 0, 0));
            PoolTagEntry e = PoolTagParser.Parse(buf, buf.Length, PoolTagLayout.X64)[0];
            Check.Equal("ObjT", e.Tag, "tag without the protected bit");
            Check.Equal(true, e.Protected, "protected flag");
            Check.Equal((byte)'T', e.TagBytes[3], "stored bytes without the bit");
        }

        public static void TestNonPrintableTagIsEscaped()
        {
            byte[] tag = new byte[] { 0x01, (byte)'a', 0xFF, (byte)'\\' };
            byte[] buf = Buffers.Build(false, new Row(tag, 0, 0, 0, 1, 0, 16));
            PoolTagEntry e = PoolTagParser.Parse(buf, buf.Length, PoolTagLayout.X86)[0];
            Check.Equal("\\x01a\\xFF\\x5C", e.Tag, "escaped rendering");
            Check.Equal(false, e.Protected, "high bit of byte 2 is not the protected bit");
            byte[] back = PoolTagParser.TagToBytes(e.Tag);
            Check.Equal(Convert.ToBase64String(tag), Convert.ToBase64String(back), "round trip");
        }

        public static void TestTagToBytesPadsShortTags()
        {
            Check.Equal("Irp ", Encoding.ASCII.GetString(PoolTagParser.TagToBytes("Irp")), "padded with a space");
            Check.Throws<ArgumentException>(delegate { PoolTagParser.TagToBytes("TooLong"); }, "5+ bytes");
            Check.Throws<ArgumentException>(delegate { PoolTagParser.TagToBytes(""); }, "empty");
        }

        // ------------------------------------------------------------------ bad buffers

        public static void TestTruncatedBufferNamesTheNumbers()
        {
            byte[] buf = Buffers.Build(true,
                new Row("AAAA", 1, 0, 0, 0, 0, 0), new Row("BBBB", 1, 0, 0, 0, 0, 0), new Row("CCCC", 1, 0, 0, 0, 0, 0));
            PoolTagFormatException e = Check.Throws<PoolTagFormatException>(
                delegate { PoolTagParser.Parse(buf, buf.Length - 1, PoolTagLayout.X64); }, "one byte short");
            Check.Contains(e.Message, "truncated", "message");
            Check.Contains(e.Message, "Count is 3", "message names the count");
            Check.Contains(e.Message, "128 bytes", "message names the needed size");
            Check.Contains(e.Message, "127 bytes", "message names the returned size");
        }

        public static void TestBufferShorterThanCount()
        {
            PoolTagFormatException e = Check.Throws<PoolTagFormatException>(
                delegate { PoolTagParser.Parse(new byte[3], 3, PoolTagLayout.X86); }, "3 bytes");
            Check.Contains(e.Message, "Count field alone needs 4", "message");
            Check.Throws<PoolTagFormatException>(
                delegate { PoolTagParser.Parse(new byte[4], 5, PoolTagLayout.X86); }, "length beyond the array");
        }

        public static void TestX86BufferReadAsX64IsRejected()
        {
            byte[] buf = Buffers.Build(false, new Row("AAAA", 1, 0, 0, 0, 0, 0), new Row("BBBB", 1, 0, 0, 0, 0, 0));
            PoolTagFormatException e = Check.Throws<PoolTagFormatException>(
                delegate { PoolTagParser.Parse(buf, buf.Length, PoolTagLayout.X64); }, "wrong layout");
            Check.Contains(e.Message, "x64 layout", "message names the layout");
        }

        public static void TestHugeCountIsRejected()
        {
            byte[] buf = new byte[64];
            Buffers.Put32(buf, 0, 0xFFFFFFFFu);
            Check.Throws<PoolTagFormatException>(
                delegate { PoolTagParser.Parse(buf, buf.Length, PoolTagLayout.X64); }, "count 2^32-1");
        }

        // ------------------------------------------------------------------ live query loop

        public static void TestQueryGrowsBufferOnLengthMismatch()
        {
            byte[] table = Buffers.Build(true, new Row("Grow", 2, 1, 0, 0, 0, 0));
            List<int> asked = new List<int>();
            int calls = 0;
            SystemInformationCall fake = delegate(IntPtr buffer, int length, out int returned)
            {
                asked.Add(length);
                calls++;
                if (calls < 3)
                {
                    returned = 300000;
                    return PoolTagQuery.StatusInfoLengthMismatch;
                }
                System.Runtime.InteropServices.Marshal.Copy(table, 0, buffer, table.Length);
                returned = table.Length;
                return PoolTagQuery.StatusSuccess;
            };
            byte[] data = PoolTagQuery.QueryRaw(fake, 4096, 5);
            Check.Equal(3, calls, "calls");
            Check.Equal(4096, asked[0], "first size");
            Check.True(asked[1] >= 300000, "second try at least what the kernel asked: " + asked[1]);
            Check.True(asked[2] > asked[1], "third try larger again");
            Check.Equal(table.Length, data.Length, "returned length used");
            Check.Equal("Grow", PoolTagParser.Parse(data, data.Length, PoolTagLayout.X64)[0].Tag, "parsed");
        }

        public static void TestQueryGivesUpAfterBoundedAttempts()
        {
            int calls = 0;
            SystemInformationCall always = delegate(IntPtr buffer, int length, out int returned)
            {
                calls++;
                returned = length + 1;
                return PoolTagQuery.StatusInfoLengthMismatch;
            };
            PoolTagQueryException e = Check.Throws<PoolTagQueryException>(
                delegate { PoolTagQuery.QueryRaw(always, 1024, 3); }, "never fits");
            Check.Equal(3, calls, "bounded attempts");
            Check.Contains(e.Message, "after 3 attempts", "message");
            Check.Equal(PoolTagQuery.StatusInfoLengthMismatch, e.Status, "status kept");
        }

        public static void TestQueryReportsOtherStatus()
        {
            SystemInformationCall denied = delegate(IntPtr buffer, int length, out int returned)
            {
                returned = 0;
                return 0xC0000022u;
            };
            PoolTagQueryException e = Check.Throws<PoolTagQueryException>(
                delegate { PoolTagQuery.QueryRaw(denied, 1024, 5); }, "access denied");
            Check.Contains(e.Message, "0xC0000022", "NTSTATUS in message");
        }

        public static void TestNextSizeIsBounded()
        {
            Check.Equal(PoolTagQuery.MaxBufferSize, PoolTagQuery.NextSize(PoolTagQuery.MaxBufferSize, int.MaxValue), "cap");
            Check.True(PoolTagQuery.NextSize(1024, 0) >= 2048, "at least double");
        }

        // ------------------------------------------------------------------ sampling

        public static void TestSelectTagsKeepsGrowingSmallTag()
        {
            List<List<PoolTagEntry>> samples = new List<List<PoolTagEntry>>();
            samples.Add(Parse(new Row("Big1", 0, 0, 0, 10, 0, 900000), new Row("Big2", 0, 0, 0, 10, 0, 800000),
                              new Row("Tiny", 0, 0, 0, 1, 0, 100)));
            samples.Add(Parse(new Row("Big1", 0, 0, 0, 10, 0, 900000), new Row("Big2", 0, 0, 0, 10, 0, 800000),
                              new Row("Tiny", 0, 0, 0, 50, 0, 5000)));
            List<string> one = PoolTagSampler.SelectTags(samples.GetRange(1, 1), 1);
            Check.Equal(1, one.Count, "single sample: top 1 only");
            Check.Equal("Big1", one[0], "largest");
            List<string> two = PoolTagSampler.SelectTags(samples, 1);
            Check.Equal(2, two.Count, "largest + growing");
            Check.Equal("Big1", two[0], "ordered by bytes");
            Check.Equal("Tiny", two[1], "growing tag kept");
        }

        public static void TestCompactSampleSeriesNames()
        {
            List<PoolTagEntry> sample = Parse(new Row("Keep", 7, 2, 640, 4294967290u, 4294967000u, 4096),
                                              new Row("Drop", 1, 0, 10, 0, 0, 0));
            Dictionary<string, object> compact = PoolTagSampler.CompactSample("2024-03-11T09:00:07Z", "2024-03-04T01:12:40Z",
                sample, new List<string>(new string[] { "Keep", "Gone" }), 1000L, 300L, null, 800L, 50L, 60L);
            Check.Equal("v,t,boot,s", String.Join(",", new List<string>(compact.Keys).ToArray()), "sample keys in order");
            Check.Equal((object)1L, compact["v"], "format version");
            Check.Equal((object)"2024-03-11T09:00:07Z", compact["t"], "time");
            Check.Equal((object)"2024-03-04T01:12:40Z", compact["boot"], "boot id");
            Dictionary<string, object> s = (Dictionary<string, object>)compact["s"];
            string names = String.Join(",", new List<string>(s.Keys).ToArray());
            Check.Equal("mem.available,mem.used,mem.commit_used,pool.paged,pool.nonpaged," +
                        "tag.p:Keep,tag.p_out:Keep,tag.np:Keep,tag.np_out:Keep", names, "series in order, unknown free left out");
            Check.Equal((object)700L, s["mem.used"], "used = total - available");
            Check.Equal((object)5L, s["tag.p_out:Keep"], "outstanding paged");
            Check.Equal((object)290L, s["tag.np_out:Keep"], "outstanding nonpaged");
            Check.Equal((object)4096L, s["tag.np:Keep"], "nonpaged bytes");
        }

        public static void TestCompactSampleAcrossCounterWrap()
        {
            // allocs wrapped past 2^32 (5 after 4294967295), frees did not: outstanding stays right
            List<PoolTagEntry> sample = Parse(new Row("Wrap", 0, 0, 0, 5u, 4294967290u, 1100));
            Dictionary<string, object> s = (Dictionary<string, object>)PoolTagSampler.CompactSample(
                "t", null, sample, new List<string>(new string[] { "Wrap" }), null, null, null, null, null, null)["s"];
            Check.Equal((object)11L, s["tag.np_out:Wrap"], "(5 - 4294967290) mod 2^32");
            Check.Equal(4, s.Count, "no memory series when the counters are unknown");
        }

        public static void TestCompactSampleWithoutPoolTable()
        {
            Dictionary<string, object> compact = PoolTagSampler.CompactSample("t", "b", null, null, null, 5L, 6L, 7L, 8L, 9L);
            Dictionary<string, object> s = (Dictionary<string, object>)compact["s"];
            Check.Equal("mem.available,mem.free,mem.commit_used,pool.paged,pool.nonpaged",
                        String.Join(",", new List<string>(s.Keys).ToArray()), "memory series only");
            Check.Equal(0, PoolTagSampler.NewSampleList().Count, "empty sample list");
        }

        public static void TestToSnapshotKeys()
        {
            PoolTagEntry e = Parse(new Row("Leak", 3, 1, 4096, 0, 0, 0))[0];
            Dictionary<string, object> d = e.ToSnapshot();
            string[] keys = { "tag", "protected", "paged_allocs", "paged_frees", "paged_bytes",
                              "nonpaged_allocs", "nonpaged_frees", "nonpaged_bytes", "description" };
            Check.Equal(keys.Length, d.Count, "key count");
            foreach (string k in keys)
                Check.True(d.ContainsKey(k), "key " + k);
            Check.Equal((object)4096L, d["paged_bytes"], "bytes as Int64");
        }

        // ------------------------------------------------------------------ driver image scan

        private static byte[] FakeDriverImage(byte[] immediate, int at, int size)
        {
            // An "MZ" image of pseudo-random code bytes with a "mov ecx, imm32" (B9 + 4 bytes) holding the tag.
            byte[] image = new byte[size];
            Random rng = new Random(1234);
            rng.NextBytes(image);
            image[0] = (byte)'M';
            image[1] = (byte)'Z';
            if (immediate != null)
            {
                image[at - 1] = 0xB9;
                Array.Copy(immediate, 0, image, at, 4);
            }
            return image;
        }

        public static void TestScanFindsTagInDriverImage()
        {
            byte[] image = FakeDriverImage(Encoding.ASCII.GetBytes("VFil"), 0x1234, 64 * 1024);
            List<byte[]> tags = new List<byte[]>();
            tags.Add(PoolTagParser.TagToBytes("VFil"));
            tags.Add(PoolTagParser.TagToBytes("VNet"));
            int[] counts = DriverScan.CountTags(image, image.Length, tags);
            Check.Equal(1, counts[0], "VFil found once");
            Check.Equal(0, counts[1], "VNet absent");
        }

        public static void TestScanCountsProtectedForm()
        {
            byte[] imm = new byte[] { (byte)'O', (byte)'b', (byte)'j', (byte)('T' | 0x80) };
            byte[] image = FakeDriverImage(imm, 100, 4096);
            List<byte[]> tags = new List<byte[]>();
            tags.Add(PoolTagParser.TagToBytes("ObjT"));
            Check.Equal(1, DriverScan.CountTags(image, image.Length, tags)[0], "protected immediate matches");
        }

        public static void TestScanBoundaries()
        {
            byte[] image = new byte[16];
            Array.Copy(Encoding.ASCII.GetBytes("Leak"), 0, image, 0, 4);
            Array.Copy(Encoding.ASCII.GetBytes("Tail"), 0, image, 12, 4);
            List<byte[]> tags = new List<byte[]>();
            tags.Add(PoolTagParser.TagToBytes("Leak"));
            tags.Add(PoolTagParser.TagToBytes("Tail"));
            int[] all = DriverScan.CountTags(image, image.Length, tags);
            Check.Equal(1, all[0], "tag at offset 0");
            Check.Equal(1, all[1], "tag in the last 4 bytes");
            int[] cut = DriverScan.CountTags(image, 15, tags);
            Check.Equal(0, cut[1], "tag crossing the length is not counted");
            Check.Equal(0, DriverScan.CountTags(new byte[3], 3, tags)[0], "image shorter than a tag");
        }

        public static void TestScanFilesReportsMatchesAndErrors()
        {
            string dir = Path.Combine(Path.GetTempPath(), "memleak-scan-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            try
            {
                string hit = Path.Combine(dir, "vfilter.sys");
                string miss = Path.Combine(dir, "other.sys");
                string gone = Path.Combine(dir, "missing.sys");
                File.WriteAllBytes(hit, FakeDriverImage(Encoding.ASCII.GetBytes("VFil"), 500, 8192));
                File.WriteAllBytes(miss, FakeDriverImage(null, 0, 8192));
                DriverScanResult r = DriverScan.ScanFiles(new string[] { hit, miss, gone }, new string[] { "VFil", "AfdE" }, 0);
                Check.Equal(2, r.FilesScanned, "files read");
                Check.Equal(1, r.Matches["VFil"].Count, "one file holds VFil");
                Check.Equal(hit, r.Matches["VFil"][0], "the right file");
                Check.Equal(0, r.Matches["AfdE"].Count, "AfdE nowhere");
                Check.Equal(1, r.Errors.Count, "missing file reported");
                Check.Contains(r.Errors[0], "missing.sys", "error names the file");
                DriverScanResult capped = DriverScan.ScanFiles(new string[] { hit }, new string[] { "VFil" }, 100);
                Check.Equal(0, capped.FilesScanned, "file over the size limit skipped");
                Check.Contains(capped.Errors[0], "scan limit", "skip explained");
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        // ------------------------------------------------------------------ pooltag.txt

        // Lines written for this test in the documented "<PoolTag> - <binary-name> - <Description>" layout.
        private const string TagFileText =
            "rem\r\n" +
            "rem    <PoolTag> - <binary-name> - <Description>\r\n" +
            "\r\n" +
            "Tst? - test.sys     - test objects (any)\r\n" +
            "TstA - test.sys     -     test allocation A\r\n" +
            "Tz*  - tz.sys       - tz family\r\n" +
            "Ab   - <unknown>    - two-letter tag\r\n" +
            "NoSp - nt!xx        -no space after the dash\r\n" +
            "       <unknown>\r\n" +
            "// a comment\r\n";

        public static void TestPoolTagFileParse()
        {
            List<PoolTagDescription> entries = PoolTagFile.Parse(TagFileText);
            Check.Equal(5, entries.Count, "entries");
            Check.Equal("Tst?", entries[0].Pattern, "pattern");
            Check.Equal("test.sys", entries[0].Binary, "binary");
            Check.Equal(4, entries[0].Line, "line number");
            Check.Equal("test allocation A", entries[1].Description, "description trimmed");
            Check.Equal("Ab  ", entries[3].Pattern, "short tag padded");
            Check.Equal("no space after the dash", entries[4].Description, "dash without space");
        }

        public static void TestPoolTagFileLookup()
        {
            List<PoolTagDescription> entries = PoolTagFile.Parse(TagFileText);
            Check.Equal("test allocation A", PoolTagFile.Lookup(entries, "TstA").Description, "exact wins");
            Check.Equal("test objects (any)", PoolTagFile.Lookup(entries, "TstB").Description, "? wildcard");
            Check.Equal("tz family", PoolTagFile.Lookup(entries, "Tzqq").Description, "* wildcard");
            Check.Equal("two-letter tag", PoolTagFile.Lookup(entries, "Ab  ").Description, "padded tag");
            Check.Equal("two-letter tag", PoolTagFile.Lookup(entries, "Ab").Description, "unpadded tag");
            Check.True(PoolTagFile.Lookup(entries, "Zzzz") == null, "unknown tag -> null");
        }

        // ------------------------------------------------------------------ host text

        public static void TestToolsVersion()
        {
            Check.Equal("12.0.0.19345655", HostText.ParseToolsVersion("12.0.0.19345655 (build-19345655)\r\n"), "toolbox -v");
            Check.Equal("10.0.8", HostText.ParseToolsVersion("10.0.8"), "three parts");
            Check.True(HostText.ParseToolsVersion("") == null, "empty");
            Check.True(HostText.ParseToolsVersion("not installed") == null, "no version");
        }

        public static void TestNetstatStates()
        {
            string text =
                "\r\nActive Connections\r\n\r\n" +
                "  Proto  Local Address          Foreign Address        State\r\n" +
                "  TCP    0.0.0.0:80             0.0.0.0:0              LISTENING\r\n" +
                "  TCP    10.0.0.5:80            192.0.2.7:51000        SYN_RECEIVED\r\n" +
                "  TCP    10.0.0.5:80            192.0.2.8:51001        SYN_RECEIVED\r\n" +
                "  TCP    10.0.0.5:80            192.0.2.9:51002        TIME_WAIT\r\n" +
                "  TCP    10.0.0.5:49700         198.51.100.1:443       ESTABLISHED     4242\r\n" +
                "  TCP    [::]:445               [::]:0                 LISTENING\r\n" +
                "  UDP    0.0.0.0:123            *:*\r\n";
            Dictionary<string, int> s = HostText.CountNetstatStates(text);
            Check.Equal(2, s["Listen"], "listening (v4 + v6)");
            Check.Equal(2, s["SynReceived"], "half-open");
            Check.Equal(1, s["TimeWait"], "time wait");
            Check.Equal(1, s["Established"], "with -o pid column");
            Check.Equal(4, s.Count, "no UDP, no header");
        }

        public static void TestBugcheckText()
        {
            string[] b = HostText.ParseBugcheck(
                "The computer has rebooted from a bugcheck.  The bugcheck was: 0x0000009f " +
                "(0x0000000000000005, 0xffff950d5f4cc060, 0xffff950d7c5f0920, 0x0000000000000000). " +
                "A dump was saved in: C:\\WINDOWS\\MEMORY.DMP.");
            Check.Equal("0x0000009F", b[0], "code");
            Check.Equal("0xFFFF950D5F4CC060", b[2], "parameter 2");
            string[] old = HostText.ParseBugcheck("The bugcheck was : 0xc00000E2 (0xffffffffffffffff, 0x0000000000000001, 0x0000000000000000, 0x0000000000000000).");
            Check.Equal("0xC00000E2", old[0], "space before the colon");
            Check.True(HostText.ParseBugcheck("no code here") == null, "absent");
            Check.Equal("0x0000009F", HostText.NormalizeHex("159", 8), "Kernel-Power 41 stores decimal");
        }

        public static void TestDetectPlatform()
        {
            Check.Equal("vmware", HostText.DetectPlatform("VMware, Inc.", "VMware7,1", true), "vmware");
            Check.Equal("hyperv", HostText.DetectPlatform("Microsoft Corporation", "Virtual Machine", true), "hyper-v");
            Check.Equal("kvm", HostText.DetectPlatform("QEMU", "Standard PC (Q35 + ICH9, 2009)", true), "qemu");
            Check.Equal("xen", HostText.DetectPlatform("Xen", "HVM domU", true), "xen");
            Check.Equal("none", HostText.DetectPlatform("Dell Inc.", "PowerEdge R740", false), "bare metal");
            Check.Equal("unknown", HostText.DetectPlatform("Dell Inc.", "PowerEdge R740", true), "hypervisor, unnamed");
            Check.Equal("unknown", HostText.DetectPlatform(null, null, null), "nothing known");
        }

        // ------------------------------------------------------------------ issue: scan speed, bounds, no-match

        public static void TestScanFirstByteCheckKeepsEveryMatch()
        {
            // Tags sharing a first byte, overlapping occurrences and a match in the last 4 bytes:
            // the first-byte table must not drop any of them.
            byte[] image = Encoding.ASCII.GetBytes("xxFilexFileFilFFilFFFile" + "Fil");
            byte[] tail = new byte[image.Length + 4];
            Array.Copy(image, tail, image.Length);
            Array.Copy(Encoding.ASCII.GetBytes("File"), 0, tail, image.Length, 4);
            List<byte[]> tags = new List<byte[]>();
            tags.Add(PoolTagParser.TagToBytes("File"));
            tags.Add(PoolTagParser.TagToBytes("FilF"));
            tags.Add(PoolTagParser.TagToBytes("Fxxx"));
            int[] counts = DriverScan.CountTags(tail, tail.Length, tags);
            Check.Equal(4, counts[0], "File three times inside + once at the very end");
            Check.Equal(3, counts[1], "FilF three times (the last across the appended File), sharing the first byte");
            Check.Equal(0, counts[2], "Fxxx absent");
        }

        public static void TestScanMatchesNaiveCountOnRandomImage()
        {
            // Cross-check against a plain 4-byte comparison at every offset.
            byte[] image = new byte[200000];
            new Random(77).NextBytes(image);
            for (int i = 0; i < image.Length; i += 997)
                image[i] = (byte)'I';
            byte[] irp = PoolTagParser.TagToBytes("Irp");
            for (int i = 5000; i < image.Length - 4; i += 15013)
                Array.Copy(irp, 0, image, i, 4);
            image[120003] = (byte)(' ' | 0x80);
            List<byte[]> tags = new List<byte[]>();
            tags.Add(irp);
            int naive = 0;
            for (int i = 0; i + 4 <= image.Length; i++)
                if (image[i] == irp[0] && image[i + 1] == irp[1] && image[i + 2] == irp[2] &&
                    (image[i + 3] & 0x7F) == irp[3])
                    naive++;
            Check.True(naive >= 13, "the image holds the tag: " + naive);
            Check.Equal(naive, DriverScan.CountTags(image, image.Length, tags)[0], "same as the naive count");
        }

        public static void TestScanFilesBudgetsAndUnmatched()
        {
            string dir = Path.Combine(Path.GetTempPath(), "memleak-budget-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            try
            {
                string a = Path.Combine(dir, "a.sys");
                string b = Path.Combine(dir, "b.sys");
                string c = Path.Combine(dir, "c.sys");
                File.WriteAllBytes(a, FakeDriverImage(Encoding.ASCII.GetBytes("VFil"), 300, 4096));
                File.WriteAllBytes(b, FakeDriverImage(null, 0, 4096));
                File.WriteAllBytes(c, FakeDriverImage(Encoding.ASCII.GetBytes("AfdE"), 300, 4096));
                string[] tags = { "VFil", "AfdE", "Nope" };
                DriverScanResult full = DriverScan.ScanFiles(new string[] { a, b, c, a }, tags, 0, 0, 0);
                Check.Equal(3, full.FilesScanned, "a path listed twice is read once");
                Check.Equal(3 * 4096L, full.BytesScanned, "bytes counted");
                Check.True(full.StoppedBecause == null, "not stopped");
                Check.Equal("Nope", String.Join(",", full.Unmatched(tags).ToArray()), "tag found nowhere is named");

                DriverScanResult bytes = DriverScan.ScanFiles(new string[] { a, b, c }, tags, 0, 8192, 0);
                Check.Equal(2, bytes.FilesScanned, "stops before the file that passes the byte budget");
                Check.Equal(1, bytes.FilesNotReached, "one file not reached");
                Check.Contains(bytes.StoppedBecause, "byte budget of 8192 bytes", "reason");
                Check.Equal("AfdE,Nope", String.Join(",", bytes.Unmatched(tags).ToArray()), "AfdE was in the unread file");

                DriverScanResult time = DriverScan.ScanFiles(new string[] { a, b, c }, tags, 0, 0, 1);
                System.Threading.Thread.Sleep(5);
                Check.True(time.FilesScanned + time.FilesNotReached == 3, "every file scanned or counted as not reached");
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        public static void TestSelectTagsIsBoundedByMaxSelected()
        {
            // 40 tags; 10 largest are steady, 10 others grow in bytes, 10 more grow in count only.
            List<Row> first = new List<Row>();
            List<Row> last = new List<Row>();
            for (int i = 0; i < 40; i++)
            {
                string tag = "T" + i.ToString("D3");
                ulong big = i < 10 ? 1000000UL + (ulong)i : 1000UL;
                first.Add(new Row(tag, 0, 0, 0, 10, 0, big));
                ulong grownBytes = i >= 10 && i < 20 ? big + 5000UL * (ulong)i : big;
                uint grownCount = i >= 20 && i < 30 ? 10u + (uint)i : 10u;
                last.Add(new Row(tag, 0, 0, 0, grownCount, 0, grownBytes));
            }
            List<List<PoolTagEntry>> samples = new List<List<PoolTagEntry>>();
            samples.Add(Parse(first.ToArray()));
            samples.Add(Parse(last.ToArray()));
            List<string> chosen = PoolTagSampler.SelectTags(samples, 10);
            Check.Equal(30, chosen.Count, "largest + growing in bytes + growing in count");
            Check.Equal(PoolTagSampler.MaxSelected(10, 2), chosen.Count, "the documented bound is reached, not passed");
            Check.Equal(10, PoolTagSampler.MaxSelected(10, 1), "one sample: top only");
        }

        public static void TestCompactSampleEmptyBootIsNull()
        {
            // PowerShell passes $null to a string parameter as ""; the stored boot must stay unknown (null).
            Dictionary<string, object> compact = PoolTagSampler.CompactSample("t", "", null, null, null, null, null, null, null, null);
            Check.True(compact["boot"] == null, "\"\" -> null");
        }

        public static void TestNetstatGermanStates()
        {
            // Lines of the German "netstat -ano" form; ABH\u2122REN as saved text shows the OEM byte of \u00D6.
            string text =
                "  Proto  Lokale Adresse         Remoteadresse          Status           PID\r\n" +
                "  TCP    0.0.0.0:135            0.0.0.0:0              ABH\u00D6REN         1060\r\n" +
                "  TCP    127.0.0.1:49186        0.0.0.0:0              ABH\u2122REN         2000\r\n" +
                "  TCP    127.0.0.1:49181        127.0.0.1:49210        HERGESTELLT     2000\r\n" +
                "  TCP    127.0.0.1:49186        127.0.0.1:49273        SCHLIESSEN_WARTEN  2000\r\n" +
                "  TCP    127.0.0.1:9222         127.0.0.1:50124        WARTEND         0\r\n" +
                "  TCP    10.0.0.5:50000         192.0.2.1:443          SYN_GESENDET    88\r\n" +
                "  TCP    10.0.0.5:50001         192.0.2.1:443          LETZTES_ACK     88\r\n";
            Dictionary<string, int> s = HostText.CountNetstatStates(text);
            Check.Equal(2, s["Listen"], "both spellings of ABHOEREN");
            Check.Equal(1, s["Established"], "HERGESTELLT");
            Check.Equal(1, s["CloseWait"], "SCHLIESSEN_WARTEN");
            Check.Equal(1, s["TimeWait"], "WARTEND");
            Check.Equal(1, s["SynSent"], "SYN_GESENDET");
            List<string> unknown = HostText.UnknownNetstatStates(s);
            Check.Equal("LETZTES_ACK", String.Join(",", unknown.ToArray()), "an unsourced word is kept and listed");
        }

        // ------------------------------------------------------------------ helpers and runner

        private static List<PoolTagEntry> Parse(params Row[] rows)
        {
            byte[] buf = Buffers.Build(true, rows);
            return PoolTagParser.Parse(buf, buf.Length, PoolTagLayout.X64);
        }

        /// <summary>--types NAME...: check that each type exists in the util assembly (TypeAccelerator targets).</summary>
        public static int Main(string[] args)
        {
            if (args.Length > 0 && args[0] == "--types")
            {
                Assembly util = typeof(PoolTagParser).Assembly;
                int missing = 0;
                for (int i = 1; i < args.Length; i++)
                {
                    bool ok = util.GetType(args[i], false) != null;
                    Console.WriteLine("{0} type {1}", ok ? "PASS" : "FAIL", args[i]);
                    if (!ok)
                        missing++;
                }
                return missing == 0 ? 0 : 1;
            }
            if (args.Length > 0 && args[0] == "--compact-sample")
                return HistoryTests.PrintContractSample();
            int failed = 0;
            List<MethodInfo> tests = new List<MethodInfo>();
            foreach (Type type in typeof(PoolTagTests).Assembly.GetTypes())
                if (type.Name.EndsWith("Tests", StringComparison.Ordinal))
                    tests.AddRange(type.GetMethods(BindingFlags.Public | BindingFlags.Static));
            foreach (MethodInfo m in tests)
            {
                if (!m.Name.StartsWith("Test", StringComparison.Ordinal))
                    continue;
                try
                {
                    m.Invoke(null, null);
                    Console.WriteLine("PASS " + m.Name);
                }
                catch (TargetInvocationException e)
                {
                    failed++;
                    Exception inner = e.InnerException ?? e;
                    Console.WriteLine("FAIL {0}: {1}: {2}", m.Name, inner.GetType().Name,
                        inner.Message.Replace("\r", " ").Replace("\n", " "));
                }
            }
            return failed == 0 ? 0 : 1;
        }
    }
}
