// Copyright: memleak.remediation contributors
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Internal use only: the list of kernel images actually loaded (ntoskrnl, the HAL and every driver,
// wherever it was loaded from, DriverStore included), so that win_pool_facts scans the images that
// can own a pool tag instead of one folder. Read with
// NtQuerySystemInformation(SystemModuleInformation = 11), which returns RTL_PROCESS_MODULES.
//
// Layout (phnt ntldr.h, github.com/winsiderss/phnt @ 7c1adb8a7391939dfd684f27a37e31f18d303944,
// RTL_PROCESS_MODULES / RTL_PROCESS_MODULE_INFORMATION):
//   ULONG NumberOfModules; then the array, aligned to a pointer (offset 4 on x86, 8 on x64).
//   Each entry: HANDLE Section; PVOID MappedBase; PVOID ImageBase; ULONG ImageSize; ULONG Flags;
//   USHORT LoadOrderIndex; USHORT InitOrderIndex; USHORT LoadCount; USHORT OffsetToFileName;
//   UCHAR FullPathName[256]  ->  0x11C bytes on x86, 0x128 on x64.
// The information class number 11 is SystemModuleInformation in phnt ntexapi.h (SYSTEM_INFORMATION_CLASS).
//
// Parsing is a pure function over a byte buffer, unit-tested under Mono with buffers laid out
// independently (tests/unit/plugins/module_utils/csharp/ModuleListTests.cs); only Query touches the
// system. Written for C# 5.

using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
using ansible_collections.memleak.remediation.plugins.module_utils.PoolTag;

//TypeAccelerator -Name MemLeak.ModuleList -TypeName ModuleList

namespace ansible_collections.memleak.remediation.plugins.module_utils._ModuleList
{
    /// <summary>One loaded kernel image.</summary>
    public class LoadedModule
    {
        /// <summary>FullPathName as the kernel wrote it (\SystemRoot\..., \??\C:\...).</summary>
        public string RawPath { get; set; }
        /// <summary>A Win32 path a file API can open, or null when the form is not known.</summary>
        public string Path { get; set; }
        /// <summary>The file name, from OffsetToFileName.</summary>
        public string Name { get; set; }
        public UInt64 ImageBase { get; set; }
        public UInt32 ImageSize { get; set; }
        public int LoadOrderIndex { get; set; }
    }

    /// <summary>A buffer that is not an RTL_PROCESS_MODULES of the stated layout.</summary>
    public class ModuleListFormatException : Exception
    {
        public ModuleListFormatException(string message) : base(message) { }
    }

    /// <summary>Decodes and resolves the loaded module list.</summary>
    public static class ModuleList
    {
        public const int SystemModuleInformation = 11;
        public const int FullPathNameLength = 256;
        public const int InitialSize = 64 * 1024;

        public static int HeaderSize(PoolTagLayout layout)
        {
            return layout == PoolTagLayout.X64 ? 8 : 4;
        }

        /// <summary>sizeof(RTL_PROCESS_MODULE_INFORMATION): three pointers, 2 ULONGs, 4 USHORTs, 256 chars.</summary>
        public static int EntrySize(PoolTagLayout layout)
        {
            return 3 * (int)layout + 8 + 8 + FullPathNameLength;
        }

        /// <summary>Parse the first <paramref name="length"/> bytes of <paramref name="buffer"/>.</summary>
        public static List<LoadedModule> Parse(byte[] buffer, int length, PoolTagLayout layout, string systemRoot)
        {
            if (buffer == null)
                throw new ArgumentNullException("buffer");
            if (layout != PoolTagLayout.X86 && layout != PoolTagLayout.X64)
                throw new ArgumentException("unknown layout " + layout.ToString(), "layout");
            if (length < 0 || length > buffer.Length)
                throw new ModuleListFormatException(String.Format(
                    "module list buffer: length {0} outside the {1}-byte array", length, buffer.Length));
            if (length < 4)
                throw new ModuleListFormatException(String.Format(
                    "module list buffer truncated: {0} bytes, NumberOfModules alone needs 4", length));
            int pointer = (int)layout;
            int header = HeaderSize(layout);
            int entrySize = EntrySize(layout);
            UInt32 count = BitConverter.ToUInt32(buffer, 0);
            long needed = header + (long)count * entrySize;
            if (count > 0 && needed > length)
                throw new ModuleListFormatException(String.Format(
                    "module list buffer truncated: NumberOfModules is {0}, which needs {1} bytes with the {2} layout " +
                    "({3}-byte header + {4} bytes per entry), but only {5} bytes were returned",
                    count, needed, layout == PoolTagLayout.X64 ? "x64" : "x86", header, entrySize, length));
            List<LoadedModule> result = new List<LoadedModule>((int)count);
            for (int i = 0; i < (int)count; i++)
            {
                int at = header + i * entrySize;
                int imageBase = at + 2 * pointer;
                int ulongs = at + 3 * pointer;
                int ushorts = ulongs + 8;
                int name = ushorts + 8;
                LoadedModule module = new LoadedModule();
                module.ImageBase = pointer == 8 ? BitConverter.ToUInt64(buffer, imageBase) : BitConverter.ToUInt32(buffer, imageBase);
                module.ImageSize = BitConverter.ToUInt32(buffer, ulongs);
                module.LoadOrderIndex = BitConverter.ToUInt16(buffer, ushorts);
                int offsetToFileName = BitConverter.ToUInt16(buffer, ushorts + 6);
                int end = 0;
                while (end < FullPathNameLength && buffer[name + end] != 0)
                    end++;
                // FullPathName is ANSI; file names of drivers are ASCII in practice, anything else is kept as Latin-1.
                StringBuilder text = new StringBuilder(end);
                for (int c = 0; c < end; c++)
                    text.Append((char)buffer[name + c]);
                string raw = text.ToString();
                module.RawPath = raw;
                module.Name = offsetToFileName > 0 && offsetToFileName < raw.Length ? raw.Substring(offsetToFileName) : FileName(raw);
                module.Path = ResolvePath(raw, systemRoot);
                result.Add(module);
            }
            return result;
        }

        private static string FileName(string path)
        {
            int slash = path.LastIndexOf('\\');
            return slash >= 0 ? path.Substring(slash + 1) : path;
        }

        /// <summary>Win32 path of a kernel FullPathName: "\SystemRoot\x" -> systemRoot\x; "\??\C:\x" and
        /// "\DosDevices\C:\x" -> C:\x; "\Windows\x" (rooted, no drive) -> the system drive + \Windows\x;
        /// "System32\x" (relative, as early boot drivers are listed) -> systemRoot\System32\x; a plain
        /// "C:\x" as is. Anything else (\Device\HarddiskVolumeN\...) gives null: not guessed.</summary>
        public static string ResolvePath(string raw, string systemRoot)
        {
            if (String.IsNullOrEmpty(raw))
                return null;
            string root = (systemRoot ?? "").TrimEnd('\\');
            if (StartsWith(raw, "\\SystemRoot\\"))
                return root.Length > 0 ? root + raw.Substring("\\SystemRoot".Length) : null;
            if (StartsWith(raw, "\\??\\"))
                return DrivePath(raw.Substring(4));
            if (StartsWith(raw, "\\DosDevices\\"))
                return DrivePath(raw.Substring("\\DosDevices\\".Length));
            if (DrivePath(raw) != null)
                return raw;
            if (StartsWith(raw, "\\Device\\") || StartsWith(raw, "\\\\"))
                return null;
            if (raw[0] == '\\')
                return root.Length >= 2 && root[1] == ':' ? root.Substring(0, 2) + raw : null;
            return root.Length > 0 ? root + "\\" + raw : null;
        }

        private static string DrivePath(string path)
        {
            if (path.Length >= 3 && Char.IsLetter(path[0]) && path[1] == ':' && path[2] == '\\')
                return path;
            return null;
        }

        private static bool StartsWith(string text, string prefix)
        {
            return text.StartsWith(prefix, StringComparison.OrdinalIgnoreCase);
        }

        /// <summary>Distinct resolved paths, in load order (ntoskrnl first), for DriverScan.ScanFiles.</summary>
        public static List<string> Paths(IEnumerable<LoadedModule> modules)
        {
            List<string> result = new List<string>();
            HashSet<string> seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (LoadedModule module in modules)
                if (module.Path != null && seen.Add(module.Path))
                    result.Add(module.Path);
            return result;
        }

        /// <summary>Raw paths that could not be turned into a Win32 path.</summary>
        public static List<string> Unresolved(IEnumerable<LoadedModule> modules)
        {
            List<string> result = new List<string>();
            foreach (LoadedModule module in modules)
                if (module.Path == null)
                    result.Add(module.RawPath);
            return result;
        }

        [DllImport("ntdll.dll")]
        private static extern UInt32 NtQuerySystemInformation(
            int SystemInformationClass,
            IntPtr SystemInformation,
            int SystemInformationLength,
            out int ReturnLength);

        private static UInt32 NativeCall(IntPtr buffer, int length, out int returnLength)
        {
            return NtQuerySystemInformation(SystemModuleInformation, buffer, length, out returnLength);
        }

        /// <summary>The images loaded in this kernel, paths resolved against <paramref name="systemRoot"/>.</summary>
        public static List<LoadedModule> Query(string systemRoot)
        {
            byte[] data = PoolTagQuery.QueryRaw(NativeCall, InitialSize, PoolTagQuery.DefaultMaxAttempts, "SystemModuleInformation");
            return Parse(data, data.Length, PoolTagParser.CurrentLayout(), systemRoot);
        }
    }
}
