// Copyright: memleak.remediation contributors
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The sample history a Windows host keeps about itself (docs/trend.md), the Windows twin of
// plugins/module_utils/history.py: the same file format, the same bounds, the same warnings.
//
// One compact sample per line, {"v":1,"t":...,"boot":...,"s":{series: integer}}, written as Python's
// json.dumps(sample, sort_keys=True, separators=(",", ":")) writes it, so a file written on one side
// reads identically on the other. Appends hold an exclusive lock (a ".lock" file opened with
// FileShare.None, retried while another run holds it) and write the whole line in one call; the file
// is compacted through a temporary file and File.Replace, so a killed run never leaves it half
// written. A line that is not a sample is skipped with a warning, never fatal.
//
// Parsing, serialising and bounding are pure static functions tested under Mono; only
// HistoryStore.Read/Append/Record touch the file system. Written for C# 5.

using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Threading;

//TypeAccelerator -Name MemLeak.History.HistoryStore -TypeName HistoryStore
//TypeAccelerator -Name MemLeak.History.SampleJson -TypeName SampleJson

namespace ansible_collections.memleak.remediation.plugins.module_utils.History
{
    /// <summary>Text that is not the JSON the history holds.</summary>
    public class SampleJsonException : Exception
    {
        public SampleJsonException(string message) : base(message) { }
    }

    /// <summary>The small JSON reader and writer the history needs (no JSON library ships with
    /// Windows PowerShell 5.1 that writes keys sorted and compact like Python does).</summary>
    public static class SampleJson
    {
        private const int MaxDepth = 64;

        /// <summary>Compact JSON with object keys in ordinal order and non-ASCII escaped as \uXXXX:
        /// byte for byte what Python's json.dumps(value, sort_keys=True, separators=(",", ":")) writes.</summary>
        public static string Serialize(object value)
        {
            StringBuilder sb = new StringBuilder();
            Write(sb, value, 0);
            return sb.ToString();
        }

        private static void Write(StringBuilder sb, object value, int depth)
        {
            if (depth > MaxDepth)
                throw new SampleJsonException("value nested deeper than " + MaxDepth.ToString(CultureInfo.InvariantCulture));
            if (value == null)
            {
                sb.Append("null");
            }
            else if (value is string)
            {
                WriteString(sb, (string)value);
            }
            else if (value is bool)
            {
                sb.Append((bool)value ? "true" : "false");
            }
            else if (value is int || value is long || value is short || value is sbyte ||
                     value is uint || value is ulong || value is ushort || value is byte)
            {
                sb.Append(Convert.ToString(value, CultureInfo.InvariantCulture));
            }
            else if (value is double || value is float || value is decimal)
            {
                sb.Append(FormatReal(Convert.ToDouble(value, CultureInfo.InvariantCulture)));
            }
            else if (value is IDictionary)
            {
                IDictionary map = (IDictionary)value;
                List<string> keys = new List<string>();
                foreach (object key in map.Keys)
                    keys.Add(Convert.ToString(key, CultureInfo.InvariantCulture));
                keys.Sort(String.CompareOrdinal);
                Dictionary<string, object> byText = new Dictionary<string, object>(StringComparer.Ordinal);
                foreach (DictionaryEntry entry in map)
                    byText[Convert.ToString(entry.Key, CultureInfo.InvariantCulture)] = entry.Value;
                sb.Append('{');
                for (int i = 0; i < keys.Count; i++)
                {
                    if (i > 0)
                        sb.Append(',');
                    WriteString(sb, keys[i]);
                    sb.Append(':');
                    Write(sb, byText[keys[i]], depth + 1);
                }
                sb.Append('}');
            }
            else if (value is IEnumerable)
            {
                sb.Append('[');
                bool first = true;
                foreach (object item in (IEnumerable)value)
                {
                    if (!first)
                        sb.Append(',');
                    first = false;
                    Write(sb, item, depth + 1);
                }
                sb.Append(']');
            }
            else
            {
                throw new SampleJsonException("cannot write a " + value.GetType().FullName + " as JSON");
            }
        }

        /// <summary>Python's repr of a float: "1.5", "2.0", "1e+16", "1.5e-07".</summary>
        private static string FormatReal(double value)
        {
            if (Double.IsNaN(value) || Double.IsInfinity(value))
                throw new SampleJsonException("NaN and infinity are not JSON");
            if (value == Math.Floor(value) && Math.Abs(value) < 1e16)
                return value.ToString("0", CultureInfo.InvariantCulture) + ".0";
            return value.ToString("R", CultureInfo.InvariantCulture).Replace("E", "e");
        }

        private static void WriteString(StringBuilder sb, string text)
        {
            sb.Append('"');
            foreach (char c in text)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    case '\b': sb.Append("\\b"); break;
                    case '\f': sb.Append("\\f"); break;
                    default:
                        if (c < 0x20 || c > 0x7E)
                            sb.AppendFormat(CultureInfo.InvariantCulture, "\\u{0:x4}", (int)c);
                        else
                            sb.Append(c);
                        break;
                }
            }
            sb.Append('"');
        }

        /// <summary>One JSON value: objects become Dictionary&lt;string, object&gt; (keys in text order),
        /// arrays List&lt;object&gt;, integers long (double when too large), other numbers double.</summary>
        public static object Parse(string text)
        {
            if (text == null)
                throw new ArgumentNullException("text");
            int at = 0;
            object value = ParseValue(text, ref at, 0);
            SkipSpace(text, ref at);
            if (at != text.Length)
                throw Error(text, at, "unexpected text after the value");
            return value;
        }

        private static SampleJsonException Error(string text, int at, string what)
        {
            return new SampleJsonException(String.Format(CultureInfo.InvariantCulture, "{0} at character {1}", what, at + 1));
        }

        private static void SkipSpace(string text, ref int at)
        {
            while (at < text.Length && (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' || text[at] == '\r'))
                at++;
        }

        private static object ParseValue(string text, ref int at, int depth)
        {
            if (depth > MaxDepth)
                throw Error(text, at, "nested deeper than " + MaxDepth.ToString(CultureInfo.InvariantCulture));
            SkipSpace(text, ref at);
            if (at >= text.Length)
                throw Error(text, at, "unexpected end");
            char c = text[at];
            if (c == '{')
                return ParseObject(text, ref at, depth);
            if (c == '[')
                return ParseArray(text, ref at, depth);
            if (c == '"')
                return ParseString(text, ref at);
            if (c == '-' || (c >= '0' && c <= '9'))
                return ParseNumber(text, ref at);
            if (Literal(text, ref at, "true"))
                return true;
            if (Literal(text, ref at, "false"))
                return false;
            if (Literal(text, ref at, "null"))
                return null;
            throw Error(text, at, "unexpected character '" + c + "'");
        }

        private static bool Literal(string text, ref int at, string word)
        {
            if (String.CompareOrdinal(text, at, word, 0, word.Length) != 0)
                return false;
            at += word.Length;
            return true;
        }

        private static Dictionary<string, object> ParseObject(string text, ref int at, int depth)
        {
            Dictionary<string, object> result = new Dictionary<string, object>(StringComparer.Ordinal);
            at++;
            SkipSpace(text, ref at);
            if (at < text.Length && text[at] == '}')
            {
                at++;
                return result;
            }
            while (true)
            {
                SkipSpace(text, ref at);
                if (at >= text.Length || text[at] != '"')
                    throw Error(text, at, "expected a key");
                string key = ParseString(text, ref at);
                SkipSpace(text, ref at);
                if (at >= text.Length || text[at] != ':')
                    throw Error(text, at, "expected ':'");
                at++;
                result[key] = ParseValue(text, ref at, depth + 1);
                SkipSpace(text, ref at);
                if (at < text.Length && text[at] == ',')
                {
                    at++;
                    continue;
                }
                if (at < text.Length && text[at] == '}')
                {
                    at++;
                    return result;
                }
                throw Error(text, at, "expected ',' or '}'");
            }
        }

        private static List<object> ParseArray(string text, ref int at, int depth)
        {
            List<object> result = new List<object>();
            at++;
            SkipSpace(text, ref at);
            if (at < text.Length && text[at] == ']')
            {
                at++;
                return result;
            }
            while (true)
            {
                result.Add(ParseValue(text, ref at, depth + 1));
                SkipSpace(text, ref at);
                if (at < text.Length && text[at] == ',')
                {
                    at++;
                    continue;
                }
                if (at < text.Length && text[at] == ']')
                {
                    at++;
                    return result;
                }
                throw Error(text, at, "expected ',' or ']'");
            }
        }

        private static string ParseString(string text, ref int at)
        {
            StringBuilder sb = new StringBuilder();
            at++;
            while (at < text.Length)
            {
                char c = text[at++];
                if (c == '"')
                    return sb.ToString();
                if (c < 0x20)
                    throw Error(text, at - 1, "control character in a string");
                if (c != '\\')
                {
                    sb.Append(c);
                    continue;
                }
                if (at >= text.Length)
                    break;
                char e = text[at++];
                switch (e)
                {
                    case '"': sb.Append('"'); break;
                    case '\\': sb.Append('\\'); break;
                    case '/': sb.Append('/'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case 'u':
                        int code;
                        if (at + 4 > text.Length || !Int32.TryParse(text.Substring(at, 4), NumberStyles.AllowHexSpecifier,
                                CultureInfo.InvariantCulture, out code))
                            throw Error(text, at, "bad \\u escape");
                        sb.Append((char)code);
                        at += 4;
                        break;
                    default:
                        throw Error(text, at - 1, "bad escape '\\" + e + "'");
                }
            }
            throw Error(text, at, "unterminated string");
        }

        private static object ParseNumber(string text, ref int at)
        {
            int start = at;
            if (text[at] == '-')
                at++;
            int digits = at;
            while (at < text.Length && text[at] >= '0' && text[at] <= '9')
                at++;
            if (at == digits || (text[digits] == '0' && at - digits > 1))
                throw Error(text, start, "bad number");
            bool real = false;
            if (at < text.Length && text[at] == '.')
            {
                real = true;
                at++;
                int fraction = at;
                while (at < text.Length && text[at] >= '0' && text[at] <= '9')
                    at++;
                if (at == fraction)
                    throw Error(text, start, "bad number");
            }
            if (at < text.Length && (text[at] == 'e' || text[at] == 'E'))
            {
                real = true;
                at++;
                if (at < text.Length && (text[at] == '+' || text[at] == '-'))
                    at++;
                int exponent = at;
                while (at < text.Length && text[at] >= '0' && text[at] <= '9')
                    at++;
                if (at == exponent)
                    throw Error(text, start, "bad number");
            }
            string token = text.Substring(start, at - start);
            long whole;
            if (!real && Int64.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out whole))
                return whole;
            return Double.Parse(token, NumberStyles.Float, CultureInfo.InvariantCulture);
        }
    }

    /// <summary>What a read, an append or a record gives back.</summary>
    public class HistoryResult
    {
        /// <summary>Samples, oldest first.</summary>
        public List<object> Samples { get; set; }
        /// <summary>One sentence per skipped line or failed file operation.</summary>
        public List<string> Warnings { get; set; }
        /// <summary>The history file used; null when it could not be used.</summary>
        public string Path { get; set; }

        public HistoryResult()
        {
            Samples = new List<object>();
            Warnings = new List<string>();
        }
    }

    /// <summary>The history file: %ProgramData%\memleak\history.jsonl by default.</summary>
    public static class HistoryStore
    {
        public const int FormatVersion = 1;
        /// <summary>A year of 6-hourly runs is 1460.</summary>
        public const int MaxSamples = 1500;
        public const int MaxAgeDays = 400;
        public const int DefaultLockTimeoutMs = 30000;
        private const int LockRetryMs = 100;
        private const int SharingViolation = 32;
        private const int LockViolation = 33;
        private static readonly string[] IsoFormats = {
            "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
            "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF",
            "yyyy-MM-dd HH:mm:ssK", "yyyy-MM-dd HH:mm:ss.FFFFFFFK",
            "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.FFFFFFF",
        };

        public static string DefaultPath()
        {
            string data = Environment.GetFolderPath(Environment.SpecialFolder.CommonApplicationData);
            return System.IO.Path.Combine(System.IO.Path.Combine(data, "memleak"), "history.jsonl");
        }

        /// <summary>ISO-8601 time ("2026-11-23T12:00:00Z", offsets and fractions allowed) as hours since
        /// 1970-01-01 UTC; a time without an offset is UTC. Throws FormatException for anything else.</summary>
        public static double ToHours(string stamp)
        {
            if (String.IsNullOrEmpty(stamp))
                throw new FormatException("empty time");
            DateTimeOffset moment;
            if (!DateTimeOffset.TryParseExact(stamp.Trim(), IsoFormats, CultureInfo.InvariantCulture,
                    DateTimeStyles.AssumeUniversal, out moment))
                throw new FormatException("not an ISO-8601 time: " + stamp);
            DateTimeOffset epoch = new DateTimeOffset(1970, 1, 1, 0, 0, 0, TimeSpan.Zero);
            return (moment - epoch).TotalHours;
        }

        /// <summary>The valid samples of <paramref name="text"/> in file order; each other non-blank line
        /// adds one warning naming <paramref name="source"/> and the line number, as history.py words it.</summary>
        public static List<object> ParseLines(string text, string source, IList<string> warnings)
        {
            List<object> samples = new List<object>();
            if (String.IsNullOrEmpty(text))
                return samples;
            string[] lines = text.Split('\n');
            for (int n = 0; n < lines.Length; n++)
            {
                string line = lines[n].TrimEnd('\r');
                if (line.Trim().Length == 0)
                    continue;
                object parsed;
                try
                {
                    parsed = SampleJson.Parse(line);
                }
                catch (SampleJsonException)
                {
                    warnings.Add(String.Format(CultureInfo.InvariantCulture,
                        "{0} line {1}: not JSON (torn or corrupt), skipped", source, n + 1));
                    continue;
                }
                Dictionary<string, object> sample = parsed as Dictionary<string, object>;
                if (sample == null || !(Get(sample, "t") is string) || !(Get(sample, "s") is Dictionary<string, object>))
                {
                    warnings.Add(String.Format(CultureInfo.InvariantCulture,
                        "{0} line {1}: not a sample (needs 't' and 's'), skipped", source, n + 1));
                    continue;
                }
                samples.Add(sample);
            }
            return samples;
        }

        /// <summary>Samples not older than <paramref name="maxAgeHours"/> before <paramref name="nowHours"/>
        /// (a sample whose time cannot be read is dropped), then the newest <paramref name="maxSamples"/>.</summary>
        public static List<object> Keep(IList<object> samples, double nowHours, int maxSamples, double maxAgeHours)
        {
            List<object> kept = new List<object>();
            foreach (object item in samples)
            {
                IDictionary<string, object> sample = item as IDictionary<string, object>;
                if (sample == null)
                    continue;
                double hours;
                try
                {
                    hours = ToHours(Get(sample, "t") as string);
                }
                catch (FormatException)
                {
                    continue;
                }
                if (nowHours - hours <= maxAgeHours)
                    kept.Add(sample);
            }
            if (maxSamples < 0)
                maxSamples = 0;
            if (kept.Count > maxSamples)
                kept.RemoveRange(0, kept.Count - maxSamples);
            return kept;
        }

        /// <summary>One history line, newline included.</summary>
        public static string FormatLine(object sample)
        {
            return SampleJson.Serialize(sample) + "\n";
        }

        /// <summary>The history after this run: the stored window without its newest entry (this run's
        /// last sample, stored) followed by every in-run sample, which are fitted but not stored.</summary>
        public static List<object> Window(IList<object> stored, IList<object> inRun)
        {
            List<object> result = new List<object>(stored);
            if (result.Count > 0 && inRun.Count > 0)
                result.RemoveAt(result.Count - 1);
            result.AddRange(inRun);
            return result;
        }

        /// <summary>Samples and warnings from the file; a missing file is an empty history.</summary>
        public static HistoryResult Read(string path)
        {
            HistoryResult result = new HistoryResult();
            result.Path = path;
            string text;
            try
            {
                using (FileStream stream = new FileStream(path, FileMode.Open, FileAccess.Read,
                           FileShare.ReadWrite | FileShare.Delete))
                using (StreamReader reader = new StreamReader(stream, new UTF8Encoding(false, false), false))
                {
                    text = reader.ReadToEnd();
                }
            }
            catch (FileNotFoundException)
            {
                return result;
            }
            catch (DirectoryNotFoundException)
            {
                return result;
            }
            catch (Exception e)
            {
                if (!(e is IOException || e is UnauthorizedAccessException || e is System.Security.SecurityException))
                    throw;
                result.Warnings.Add(String.Format("history: cannot read {0}: {1}", path, e.Message));
                return result;
            }
            result.Samples = ParseLines(text, path, result.Warnings);
            return result;
        }

        /// <summary>Append <paramref name="sample"/> under the lock; the result holds the bounded window
        /// after the append (what the trend fits) and the warnings of the read. Rewrites the file when
        /// something must go (too many, too old, corrupt lines), appends one line otherwise.
        /// Throws IOException / UnauthorizedAccessException when the file cannot be written.</summary>
        public static HistoryResult Append(string path, IDictionary<string, object> sample, int maxSamples,
                                           double maxAgeHours, int lockTimeoutMs)
        {
            if (sample == null)
                throw new ArgumentNullException("sample");
            string directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
            Directory.CreateDirectory(directory);
            using (FileStream lockStream = Lock(path + ".lock", lockTimeoutMs))
            {
                HistoryResult read = Read(path);
                List<object> all = new List<object>(read.Samples);
                all.Add(sample);
                double now = ToHours(Get(sample, "t") as string);
                List<object> window = Keep(all, now, maxSamples, maxAgeHours);
                if (window.Count < all.Count || read.Warnings.Count > 0)
                {
                    Replace(path, window);
                }
                else
                {
                    byte[] line = new UTF8Encoding(false).GetBytes(FormatLine(sample));
                    using (FileStream stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read))
                    {
                        stream.Write(line, 0, line.Length);
                        stream.Flush(true);
                    }
                }
                read.Samples = window;
                return read;
            }
        }

        /// <summary>What win_pool_facts calls: store the newest in-run sample (only read in check mode) and
        /// return Window(history, in-run samples). Never throws for file problems: they become a warning
        /// and the trend is limited to this run.</summary>
        public static HistoryResult Record(string path, IList<object> inRun, int maxSamples, double maxAgeHours,
                                           bool checkMode)
        {
            HistoryResult result = new HistoryResult();
            if (inRun == null || inRun.Count == 0)
                return result;
            IDictionary<string, object> newest = inRun[inRun.Count - 1] as IDictionary<string, object>;
            if (newest == null)
                throw new ArgumentException("in-run samples must be dictionaries", "inRun");
            HistoryResult stored;
            try
            {
                if (checkMode)
                {
                    stored = Read(path);
                    List<object> all = new List<object>(stored.Samples);
                    all.Add(newest);
                    stored.Samples = Keep(all, ToHours(Get(newest, "t") as string), maxSamples, maxAgeHours);
                }
                else
                {
                    stored = Append(path, newest, maxSamples, maxAgeHours, DefaultLockTimeoutMs);
                }
            }
            catch (Exception e)
            {
                if (!(e is IOException || e is UnauthorizedAccessException || e is System.Security.SecurityException ||
                      e is FormatException || e is NotSupportedException || e is ArgumentException))
                    throw;
                result.Samples = new List<object>(inRun);
                result.Warnings.Add(String.Format("history: cannot write {0}: {1}; trend limited to this run",
                    path, e.Message));
                return result;
            }
            result.Path = path;
            result.Warnings.AddRange(stored.Warnings);
            result.Samples = Window(stored.Samples, inRun);
            return result;
        }

        /// <summary>Open <paramref name="lockPath"/> exclusively, retrying while another run holds it.</summary>
        public static FileStream Lock(string lockPath, int timeoutMs)
        {
            DateTime deadline = DateTime.UtcNow.AddMilliseconds(Math.Max(0, timeoutMs));
            while (true)
            {
                try
                {
                    return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                }
                catch (IOException e)
                {
                    int code = e.HResult & 0xFFFF;
                    if (code != SharingViolation && code != LockViolation)
                        throw;
                    if (DateTime.UtcNow >= deadline)
                        throw new IOException(String.Format(CultureInfo.InvariantCulture,
                            "{0} is held by another run for more than {1} ms", lockPath, timeoutMs), e);
                }
                Thread.Sleep(LockRetryMs);
            }
        }

        private static void Replace(string path, IList<object> samples)
        {
            string directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
            string temp = System.IO.Path.Combine(directory, ".history." + Guid.NewGuid().ToString("N") + ".tmp");
            try
            {
                UTF8Encoding utf8 = new UTF8Encoding(false);
                using (FileStream stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                {
                    foreach (object sample in samples)
                    {
                        byte[] line = utf8.GetBytes(FormatLine(sample));
                        stream.Write(line, 0, line.Length);
                    }
                    stream.Flush(true);
                }
                if (File.Exists(path))
                    File.Replace(temp, path, null);
                else
                    File.Move(temp, path);
            }
            finally
            {
                if (File.Exists(temp))
                    File.Delete(temp);
            }
        }

        private static object Get(IDictionary<string, object> map, string key)
        {
            object value;
            return map.TryGetValue(key, out value) ? value : null;
        }
    }
}
