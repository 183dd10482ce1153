// Copyright: memleak.remediation contributors
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Unit tests of plugins/module_utils/History.cs, run under Mono by tests/unit/plugins/module_utils/test_csharp_utils.py
// with the runner in PoolTagTests.cs. The expected JSON strings are what Python's
// json.dumps(value, sort_keys=True, separators=(",", ":")) prints for the same value (history.py
// writes the Linux history that way); tests/unit/plugins/module_utils/test_history_format.py checks the shared
// fixture from the Python side.

using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using ansible_collections.memleak.remediation.plugins.module_utils.History;
using ansible_collections.memleak.remediation.plugins.module_utils.PoolTag;

namespace MemLeak.Tests
{
    public static class HistoryTests
    {
        // ------------------------------------------------------------------ JSON

        public static void TestSerializeSortsKeysCompactly()
        {
            Dictionary<string, object> values = new Dictionary<string, object>();
            values["tag.np:VFil"] = 9663676416L;
            values["pool.nonpaged"] = 16489906176L;
            values["mem.available"] = 1L;
            Dictionary<string, object> sample = new Dictionary<string, object>();
            sample["v"] = 1L;
            sample["t"] = "2024-03-11T09:00:07Z";
            sample["boot"] = null;
            sample["s"] = values;
            Check.Equal("{\"boot\":null,\"s\":{\"mem.available\":1,\"pool.nonpaged\":16489906176,\"tag.np:VFil\":9663676416}," +
                        "\"t\":\"2024-03-11T09:00:07Z\",\"v\":1}", SampleJson.Serialize(sample), "sorted, no spaces");
        }

        public static void TestSerializeEscapesLikePython()
        {
            Dictionary<string, object> value = new Dictionary<string, object>();
            value["k"] = "q\"b\\n\nt\t\u0001\u007f\u00e9\U0001F600 ~";
            Check.Equal("{\"k\":\"q\\\"b\\\\n\\nt\\t\\u0001\\u007f\\u00e9\\ud83d\\ude00 ~\"}", SampleJson.Serialize(value),
                        "ensure_ascii escapes");
        }

        public static void TestSerializeNumbersLikePython()
        {
            Dictionary<string, object> value = new Dictionary<string, object>();
            value["b"] = new List<object>(new object[] { 1, -2L, 1.5, 2.0, null, true, false, Int64.MaxValue, 1e16, 1.5e-7 });
            value["a"] = new Dictionary<string, object>();
            Check.Equal("{\"a\":{},\"b\":[1,-2,1.5,2.0,null,true,false,9223372036854775807,1e+16,1.5e-07]}",
                        SampleJson.Serialize(value), "numbers");
            Check.Throws<SampleJsonException>(delegate { SampleJson.Serialize(Double.NaN); }, "NaN");
            Check.Throws<SampleJsonException>(delegate { SampleJson.Serialize(new object()); }, "unknown type");
        }

        public static void TestParseRoundTrip()
        {
            string line = "{\"boot\":\"2024-03-04T01:12:40Z\",\"s\":{\"tag.np:\\\\x01Ab\":5,\"tag.np_out:Irp \":4294967295}," +
                          "\"t\":\"2024-03-11T09:00:07Z\",\"v\":1}";
            Dictionary<string, object> parsed = (Dictionary<string, object>)SampleJson.Parse(line);
            Dictionary<string, object> s = (Dictionary<string, object>)parsed["s"];
            Check.Equal((object)5L, s["tag.np:\\x01Ab"], "escaped backslash in a key");
            Check.Equal((object)4294967295L, s["tag.np_out:Irp "], "trailing space kept");
            Check.Equal(line, SampleJson.Serialize(parsed), "round trip");
            object spaced = SampleJson.Parse(" { \"a\" : [ 1 , 2.5e1 , \"\\u00e9\\/\" ] , \"b\" : -0 } ");
            Check.Equal("{\"a\":[1,25.0,\"\\u00e9/\"],\"b\":0}", SampleJson.Serialize(spaced), "whitespace and escapes");
            Check.Equal((object)1e20, SampleJson.Parse("100000000000000000000"), "integer too large for long");
        }

        public static void TestParseRejectsBadText()
        {
            string[] bad = {
                "{\"v\": 1, \"t\": \"2026-01-02T0", "{\"a\":1} x", "[1,]", "{\"a\" 1}", "01", "1.", "-", "\"a\\q\"",
                "\"tab\there\"", "nul", "{\"a\":1,}", "", "\"\\u12\"",
            };
            foreach (string text in bad)
                Check.Throws<SampleJsonException>(delegate { SampleJson.Parse(text); }, "rejects <" + text + ">");
            string deep = new string('[', 100) + new string(']', 100);
            Check.Contains(Check.Throws<SampleJsonException>(delegate { SampleJson.Parse(deep); }, "deep").Message,
                           "nested deeper", "depth limit");
        }

        // ------------------------------------------------------------------ lines, time, bounds

        public static void TestParseLinesSkipsTornAndForeignLines()
        {
            string good = "{\"boot\":\"b1\",\"s\":{\"mem.used\":1},\"t\":\"2026-01-01T00:00:00Z\",\"v\":1}";
            string text = good + "\r\n{\"v\": 1, \"t\": \"2026-01-02T0\n[1, 2]\n\n{\"t\":5,\"s\":{}}\n" + good + "\n";
            List<string> warnings = new List<string>();
            List<object> samples = HistoryStore.ParseLines(text, "C:\\ProgramData\\memleak\\history.jsonl", warnings);
            Check.Equal(2, samples.Count, "two good lines");
            Check.Equal(3, warnings.Count, "three bad lines");
            Check.Equal("C:\\ProgramData\\memleak\\history.jsonl line 2: not JSON (torn or corrupt), skipped", warnings[0], "torn");
            Check.Equal("C:\\ProgramData\\memleak\\history.jsonl line 3: not a sample (needs 't' and 's'), skipped", warnings[1], "array");
            Check.Equal("C:\\ProgramData\\memleak\\history.jsonl line 5: not a sample (needs 't' and 's'), skipped", warnings[2], "t not text");
            Check.Equal(0, HistoryStore.ParseLines("", "h", warnings).Count, "empty text");
        }

        public static void TestToHours()
        {
            Near(1.0, HistoryStore.ToHours("1970-01-01T01:00:00Z"), "Z");
            Near(0.0, HistoryStore.ToHours("1970-01-01T01:00:00+01:00"), "offset");
            Near(0.5, HistoryStore.ToHours("1970-01-01T00:30:00"), "no offset is UTC");
            Near(1.0 / 7200, HistoryStore.ToHours("1970-01-01T00:00:00.5Z"), "fraction");
            Near(475035.0, HistoryStore.ToHours("2024-03-11T03:00:00Z"), "a 2024 time");
            foreach (string bad in new string[] { "2024-06-01T12:60:00Z", "yesterday", "", null, "5/1/2024 10:00" })
                Check.Throws<FormatException>(delegate { HistoryStore.ToHours(bad); }, "rejects <" + bad + ">");
        }

        public static void TestKeepBoundsByCountAndAge()
        {
            List<object> samples = new List<object>();
            for (int day = 1; day <= 10; day++)
                samples.Add(Sample(day, day));
            samples.Insert(3, Sample(0, 0, "not a time"));
            List<object> kept = HistoryStore.Keep(samples, HistoryStore.ToHours("2026-01-10T00:00:00Z"), 4, 1000);
            Check.Equal(4, kept.Count, "newest 4");
            Check.Equal("2026-01-07T00:00:00Z", Time(kept[0]), "oldest kept");
            kept = HistoryStore.Keep(samples, HistoryStore.ToHours("2026-01-10T00:00:00Z"), 100, 48);
            Check.Equal("2026-01-08T00:00:00Z", Time(kept[0]), "two days back");
            Check.Equal(3, kept.Count, "age bound; the bad time is dropped");
        }

        public static void TestWindowReplacesTheStoredNewestByTheInRunSamples()
        {
            List<object> stored = new List<object>(new object[] { Sample(1, 1), Sample(2, 2), Sample(3, 3) });
            List<object> inRun = new List<object>(new object[] { Sample(3, 5), Sample(3, 6) });
            List<object> window = HistoryStore.Window(stored, inRun);
            Check.Equal(4, window.Count, "2 stored + 2 in-run");
            Check.True(window[2] == inRun[0] && window[3] == inRun[1], "in-run samples last");
        }

        // ------------------------------------------------------------------ the file

        public static void TestAppendCreatesTheDirectoryAndAppendsLines()
        {
            string dir = TempDir();
            try
            {
                string path = Path.Combine(Path.Combine(dir, "memleak"), "history.jsonl");
                HistoryResult first = HistoryStore.Append(path, Sample(1, 1), 100, 1000 * 24, 1000);
                Check.Equal(1, first.Samples.Count, "window after the first append");
                HistoryResult second = HistoryStore.Append(path, Sample(2, 5), 100, 1000 * 24, 1000);
                Check.Equal(2, second.Samples.Count, "window after the second");
                Check.Equal(0, second.Warnings.Count, "no warnings");
                Check.Equal(HistoryStore.FormatLine(Sample(1, 1)) + HistoryStore.FormatLine(Sample(2, 5)),
                            File.ReadAllText(path), "two whole lines, nothing else");
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        public static void TestAppendBoundsAndCompacts()
        {
            string dir = TempDir();
            try
            {
                string path = Path.Combine(dir, "history.jsonl");
                for (int day = 1; day <= 10; day++)
                    HistoryStore.Append(path, Sample(day, day), 4, 1000 * 24, 1000);
                string[] lines = File.ReadAllText(path).TrimEnd('\n').Split('\n');
                Check.Equal(4, lines.Length, "bounded by count");
                Check.Contains(lines[0], "2026-01-07", "oldest kept");
                File.AppendAllText(path, "{\"v\": 1, \"t\": \"2026-01-1");
                HistoryResult result = HistoryStore.Append(path, Sample(11, 11), 100, 1000 * 24, 1000);
                Check.Equal(1, result.Warnings.Count, "torn tail reported");
                Check.Contains(result.Warnings[0], "line 5: not JSON (torn or corrupt), skipped", "torn line named");
                lines = File.ReadAllText(path).TrimEnd('\n').Split('\n');
                Check.Equal(5, lines.Length, "torn line compacted away, new sample on its own line");
                Check.Contains(lines[4], "2026-01-11", "new sample last");
                Check.Equal(0, Directory.GetFiles(dir, ".history.*").Length, "no temporary file left");
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        public static void TestLockHeldByAnotherRunWaitsThenFails()
        {
            string dir = TempDir();
            try
            {
                string path = Path.Combine(dir, "history.jsonl");
                using (FileStream held = HistoryStore.Lock(path + ".lock", 1000))
                {
                    IOException e = Check.Throws<IOException>(delegate {
                        HistoryStore.Append(path, Sample(1, 1), 100, 1000 * 24, 300);
                    }, "second run");
                    Check.Contains(e.Message, "held by another run for more than 300 ms", "says why");
                    Check.True(!File.Exists(path), "nothing written without the lock");
                }
                HistoryStore.Append(path, Sample(1, 1), 100, 1000 * 24, 300);
                Check.True(File.Exists(path), "written once the lock is free");
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        public static void TestRecordStoresTheNewestAndReturnsHistoryThenInRun()
        {
            string dir = TempDir();
            try
            {
                string path = Path.Combine(dir, "history.jsonl");
                File.WriteAllText(path, HistoryStore.FormatLine(Sample(1, 1)) + HistoryStore.FormatLine(Sample(2, 2)));
                List<object> inRun = new List<object>(new object[] { Sample(3, 3), Sample(3, 4), Sample(3, 5) });
                HistoryResult result = HistoryStore.Record(path, inRun, 100, 1000 * 24, false);
                Check.Equal(path, result.Path, "path used");
                Check.Equal(5, result.Samples.Count, "2 stored + 3 in-run");
                Check.True(result.Samples[4] == inRun[2], "in-run last");
                string[] lines = File.ReadAllText(path).TrimEnd('\n').Split('\n');
                Check.Equal(3, lines.Length, "only the newest in-run sample is stored");
                Check.Equal(HistoryStore.FormatLine(inRun[2]).TrimEnd('\n'), lines[2], "stored line");
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        public static void TestRecordInCheckModeWritesNothing()
        {
            string dir = TempDir();
            try
            {
                string path = Path.Combine(Path.Combine(dir, "memleak"), "history.jsonl");
                List<object> inRun = new List<object>(new object[] { Sample(3, 3), Sample(3, 4) });
                HistoryResult result = HistoryStore.Record(path, inRun, 100, 1000 * 24, true);
                Check.Equal(2, result.Samples.Count, "the in-run samples");
                Check.True(!Directory.Exists(Path.GetDirectoryName(path)), "no directory created");
                Directory.CreateDirectory(Path.GetDirectoryName(path));
                string before = HistoryStore.FormatLine(Sample(1, 1)) + "torn";
                File.WriteAllText(path, before);
                result = HistoryStore.Record(path, inRun, 100, 1000 * 24, true);
                Check.Equal(3, result.Samples.Count, "history read");
                Check.Equal(1, result.Warnings.Count, "corrupt line reported");
                Check.Equal(before, File.ReadAllText(path), "file untouched, not even compacted");
                Check.True(!File.Exists(path + ".lock"), "no lock file");
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        public static void TestRecordOnAnUnwritablePathIsAWarning()
        {
            string dir = TempDir();
            try
            {
                string blocker = Path.Combine(dir, "file");
                File.WriteAllText(blocker, "not a directory");
                string path = Path.Combine(Path.Combine(blocker, "memleak"), "history.jsonl");
                List<object> inRun = new List<object>(new object[] { Sample(3, 3), Sample(3, 4) });
                HistoryResult result = HistoryStore.Record(path, inRun, 100, 1000 * 24, false);
                Check.Equal(null, result.Path, "no path");
                Check.Equal(2, result.Samples.Count, "in-run samples still fitted");
                Check.Equal(1, result.Warnings.Count, "one warning");
                Check.Contains(result.Warnings[0], "history: cannot write " + path + ": ", "names the file");
                Check.Contains(result.Warnings[0], "; trend limited to this run", "says the consequence");
                Check.Equal(0, HistoryStore.Record(path, new List<object>(), 100, 1, false).Samples.Count, "no samples");
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        public static void TestDefaultPath()
        {
            string path = HistoryStore.DefaultPath();
            Check.True(path.EndsWith(Path.Combine("memleak", "history.jsonl"), StringComparison.Ordinal), path);
            Check.True(Path.IsPathRooted(path), "absolute");
        }

        public static void TestHistoryFixtureLinesAreWrittenByteForByte()
        {
            string fixtures = Environment.GetEnvironmentVariable("MEMLEAK_FIXTURES");
            Check.True(!String.IsNullOrEmpty(fixtures), "MEMLEAK_FIXTURES is set by test_csharp.py");
            string path = Path.Combine(Path.Combine(fixtures, "windows"), "history_seed000.jsonl");
            HistoryResult read = HistoryStore.Read(path);
            Check.Equal(0, read.Warnings.Count, "fixture is clean");
            string[] lines = File.ReadAllText(path).TrimEnd('\n').Split('\n');
            Check.Equal(lines.Length, read.Samples.Count, "every line a sample");
            for (int i = 0; i < lines.Length; i++)
                Check.Equal(lines[i] + "\n", HistoryStore.FormatLine(read.Samples[i]), "line " + (i + 1));
        }

        // ------------------------------------------------------------------ helpers

        /// <summary>For test_csharp.py: one compact in-run sample of a synthetic table, as a history line,
        /// compared there with series.compact_sample of the same snapshot.</summary>
        public static int PrintContractSample()
        {
            List<PoolTagEntry> table = new List<PoolTagEntry>();
            table.Add(Entry(new byte[] { (byte)'V', (byte)'F', (byte)'i', (byte)'l' }, 0, 0, 0, 40221000, 10103500, 9666076416));
            table.Add(Entry(new byte[] { (byte)'I', (byte)'r', (byte)'p', (byte)' ' }, 0, 0, 0, 5u, 4294967290u, 3145728));
            table.Add(Entry(new byte[] { 1, (byte)'A', (byte)'b', (byte)'"' }, 7, 3, 4096, 0, 0, 0));
            table.Add(Entry(new byte[] { (byte)'D', (byte)'r', (byte)'o', (byte)'p' }, 1, 0, 64, 0, 0, 0));
            List<string> chosen = new List<string>(new string[] { "VFil", "Irp ", "\\x01Ab\"" });
            Dictionary<string, object> sample = PoolTagSampler.CompactSample("2024-03-11T09:05:07Z", "2024-03-04T01:12:40Z",
                table, chosen, 17179332608L, 389021696L, 54525952L, 19818086400L, 658505728L, 16494066176L);
            Console.Out.Write(HistoryStore.FormatLine(sample));
            return 0;
        }

        private static void Near(double expected, double actual, string what)
        {
            Check.True(Math.Abs(expected - actual) < 1e-9, String.Format("{0}: expected {1}, got {2}", what, expected, actual));
        }

        private static PoolTagEntry Entry(byte[] tag, uint pa, uint pf, ulong pu, uint na, uint nf, ulong nu)
        {
            PoolTagEntry e = new PoolTagEntry();
            e.TagBytes = tag;
            e.Tag = PoolTagParser.RenderTag(tag);
            e.PagedAllocs = pa;
            e.PagedFrees = pf;
            e.PagedUsed = pu;
            e.NonPagedAllocs = na;
            e.NonPagedFrees = nf;
            e.NonPagedUsed = nu;
            return e;
        }

        private static Dictionary<string, object> Sample(int day, long value)
        {
            return Sample(day, value, String.Format("2026-01-{0:00}T00:00:00Z", day));
        }

        private static Dictionary<string, object> Sample(int day, long value, string time)
        {
            Dictionary<string, object> values = new Dictionary<string, object>();
            values["mem.used"] = value;
            Dictionary<string, object> sample = new Dictionary<string, object>();
            sample["v"] = 1L;
            sample["t"] = time;
            sample["boot"] = "b1";
            sample["s"] = values;
            return sample;
        }

        private static string Time(object sample)
        {
            return (string)((Dictionary<string, object>)sample)["t"];
        }

        private static string TempDir()
        {
            string dir = Path.Combine(Path.GetTempPath(), "memleak-history-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            return dir;
        }
    }
}
