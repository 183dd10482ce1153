// Copyright: memleak.remediation contributors
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Unit tests of plugins/module_utils/_ModuleList.cs (run by test_csharp_utils.py, see PoolTagTests.cs).
// The buffers are laid out here from the field offsets of RTL_PROCESS_MODULE_INFORMATION written out
// by hand from phnt ntldr.h (x86: ImageBase 0x08, ImageSize 0x0C, LoadOrderIndex 0x14,
// OffsetToFileName 0x1A, FullPathName 0x1C, entry 0x11C, array at 4; x64: ImageBase 0x10,
// ImageSize 0x18, LoadOrderIndex 0x20, OffsetToFileName 0x26, FullPathName 0x28, entry 0x128,
// array at 8), not computed by the parser's formula.

using System;
using System.Collections.Generic;
using System.Text;
using ansible_collections.memleak.remediation.plugins.module_utils.PoolTag;
using ansible_collections.memleak.remediation.plugins.module_utils._ModuleList;

namespace MemLeak.Tests
{
    public static class ModuleListTests
    {
        private const string Root = "C:\\Windows";

        private static byte[] Build(bool x64, params string[] paths)
        {
            int header = x64 ? 8 : 4;
            int entry = x64 ? 0x128 : 0x11C;
            byte[] b = new byte[header + paths.Length * entry];
            for (int i = 0; i < b.Length; i++)
                b[i] = 0xCC;  // a parser reading a wrong offset sees garbage, not zero
            Buffers.Put32(b, 0, (uint)paths.Length);
            for (int i = 0; i < paths.Length; i++)
            {
                int at = header + i * entry;
                ulong imageBase = 0xFFFFF80000000000UL + (ulong)i * 0x100000UL;
                if (x64)
                {
                    Buffers.Put64(b, at + 0x10, imageBase);
                    Buffers.Put32(b, at + 0x18, 0x10000u + (uint)i);
                    b[at + 0x20] = (byte)i;
                    b[at + 0x21] = 0;
                }
                else
                {
                    Buffers.Put32(b, at + 0x08, (uint)(0x80000000u + (uint)i * 0x100000u));
                    Buffers.Put32(b, at + 0x0C, 0x10000u + (uint)i);
                    b[at + 0x14] = (byte)i;
                    b[at + 0x15] = 0;
                }
                int nameAt = at + (x64 ? 0x28 : 0x1C);
                Array.Clear(b, nameAt, 256);
                byte[] text = Encoding.ASCII.GetBytes(paths[i]);
                Array.Copy(text, 0, b, nameAt, text.Length);
                int slash = paths[i].LastIndexOf('\\') + 1;
                int offsetAt = at + (x64 ? 0x26 : 0x1A);
                b[offsetAt] = (byte)(slash & 0xFF);
                b[offsetAt + 1] = (byte)(slash >> 8);
            }
            return b;
        }

        public static void TestModuleListX64()
        {
            byte[] b = Build(true, "\\SystemRoot\\system32\\ntoskrnl.exe", "\\SystemRoot\\System32\\drivers\\ACPI.sys",
                "\\??\\C:\\Windows\\System32\\DriverStore\\FileRepository\\vm3d.inf_amd64_1\\vm3dmp.sys");
            Check.Equal(8 + 3 * 0x128, b.Length, "buffer size from the documented layout");
            List<LoadedModule> m = ModuleList.Parse(b, b.Length, PoolTagLayout.X64, Root);
            Check.Equal(3, m.Count, "modules");
            Check.Equal("ntoskrnl.exe", m[0].Name, "ntoskrnl is listed first");
            Check.Equal("C:\\Windows\\system32\\ntoskrnl.exe", m[0].Path, "\\SystemRoot\\ resolved");
            Check.Equal(0xFFFFF80000000000UL, m[0].ImageBase, "64-bit image base");
            Check.Equal(0x10001u, m[1].ImageSize, "image size");
            Check.Equal(2, m[2].LoadOrderIndex, "load order");
            Check.Equal("C:\\Windows\\System32\\DriverStore\\FileRepository\\vm3d.inf_amd64_1\\vm3dmp.sys", m[2].Path,
                "\\??\\ resolved, DriverStore kept");
            Check.Equal("vm3dmp.sys", m[2].Name, "name from OffsetToFileName");
        }

        public static void TestModuleListX86()
        {
            byte[] b = Build(false, "\\SystemRoot\\system32\\ntkrnlpa.exe", "\\SystemRoot\\system32\\DRIVERS\\afd.sys");
            Check.Equal(4 + 2 * 0x11C, b.Length, "buffer size from the documented layout");
            List<LoadedModule> m = ModuleList.Parse(b, b.Length, PoolTagLayout.X86, Root);
            Check.Equal(2, m.Count, "modules");
            Check.Equal(0x80100000UL, m[1].ImageBase, "32-bit image base at 0x08");
            Check.Equal("afd.sys", m[1].Name, "name");
            Check.Equal("C:\\Windows\\system32\\DRIVERS\\afd.sys", m[1].Path, "path");
            Check.Equal(0x11C, ModuleList.EntrySize(PoolTagLayout.X86), "x86 entry size");
            Check.Equal(0x128, ModuleList.EntrySize(PoolTagLayout.X64), "x64 entry size");
        }

        public static void TestModuleListX86BufferReadAsX64IsRejected()
        {
            byte[] b = Build(false, "\\SystemRoot\\a.sys", "\\SystemRoot\\b.sys");
            ModuleListFormatException e = Check.Throws<ModuleListFormatException>(
                delegate { ModuleList.Parse(b, b.Length, PoolTagLayout.X64, Root); }, "wrong layout");
            Check.Contains(e.Message, "x64 layout", "names the layout");
        }

        public static void TestModuleListTruncated()
        {
            byte[] b = Build(true, "\\SystemRoot\\a.sys", "\\SystemRoot\\b.sys");
            ModuleListFormatException e = Check.Throws<ModuleListFormatException>(
                delegate { ModuleList.Parse(b, b.Length - 1, PoolTagLayout.X64, Root); }, "one byte short");
            Check.Contains(e.Message, "NumberOfModules is 2", "names the count");
            Check.Contains(e.Message, "only " + (b.Length - 1) + " bytes", "names the length");
            Check.Throws<ModuleListFormatException>(delegate { ModuleList.Parse(new byte[3], 3, PoolTagLayout.X64, Root); },
                "no count");
            Check.Equal(0, ModuleList.Parse(new byte[8], 8, PoolTagLayout.X64, Root).Count, "empty list");
        }

        public static void TestModuleListPathFillsAllBytes()
        {
            string longPath = "\\SystemRoot\\" + new string('a', 256 - 16) + ".sys";
            Check.Equal(256, longPath.Length, "a path with no terminating NUL");
            List<LoadedModule> m = ModuleList.Parse(Build(true, longPath), 8 + 0x128, PoolTagLayout.X64, Root);
            Check.Equal(longPath, m[0].RawPath, "read up to the 256th byte, not past it");
        }

        public static void TestResolvePathForms()
        {
            Check.Equal("C:\\Windows\\System32\\drivers\\x.sys", ModuleList.ResolvePath("\\SystemRoot\\System32\\drivers\\x.sys", "C:\\Windows\\"), "SystemRoot");
            Check.Equal("D:\\drv\\x.sys", ModuleList.ResolvePath("\\??\\D:\\drv\\x.sys", Root), "\\??\\");
            Check.Equal("D:\\drv\\x.sys", ModuleList.ResolvePath("\\DosDevices\\D:\\drv\\x.sys", Root), "DosDevices");
            Check.Equal("C:\\Windows\\System32\\drivers\\x.sys", ModuleList.ResolvePath("\\Windows\\System32\\drivers\\x.sys", Root), "rooted");
            Check.Equal("C:\\Windows\\System32\\Drivers\\x.sys", ModuleList.ResolvePath("System32\\Drivers\\x.sys", Root), "relative");
            Check.Equal("E:\\x.sys", ModuleList.ResolvePath("E:\\x.sys", Root), "already Win32");
            Check.True(ModuleList.ResolvePath("\\Device\\HarddiskVolume3\\x.sys", Root) == null, "device path not guessed");
            Check.True(ModuleList.ResolvePath("", Root) == null, "empty");
        }

        public static void TestModuleListPathsAndUnresolved()
        {
            byte[] b = Build(true, "\\SystemRoot\\system32\\ntoskrnl.exe", "\\SystemRoot\\SYSTEM32\\NTOSKRNL.EXE",
                "\\Device\\HarddiskVolume9\\odd.sys");
            List<LoadedModule> m = ModuleList.Parse(b, b.Length, PoolTagLayout.X64, Root);
            List<string> paths = ModuleList.Paths(m);
            Check.Equal(1, paths.Count, "same file once (case-insensitive)");
            List<string> unresolved = ModuleList.Unresolved(m);
            Check.Equal(1, unresolved.Count, "device path reported");
            Check.Equal("\\Device\\HarddiskVolume9\\odd.sys", unresolved[0], "raw form kept");
        }

        public static void TestModuleListQueryGrowsBuffer()
        {
            byte[] table = Build(true, "\\SystemRoot\\system32\\ntoskrnl.exe");
            int calls = 0;
            SystemInformationCall fake = delegate(IntPtr buffer, int length, out int returned)
            {
                calls++;
                if (length < 100000)
                {
                    returned = 100000;
                    return PoolTagQuery.StatusInfoLengthMismatch;
                }
                System.Runtime.InteropServices.Marshal.Copy(table, 0, buffer, table.Length);
                returned = table.Length;
                return PoolTagQuery.StatusSuccess;
            };
            byte[] data = PoolTagQuery.QueryRaw(fake, 1024, 4, "SystemModuleInformation");
            Check.Equal(2, calls, "one retry at the size asked");
            Check.Equal("ntoskrnl.exe", ModuleList.Parse(data, data.Length, PoolTagLayout.X64, Root)[0].Name, "parsed");
            SystemInformationCall denied = delegate(IntPtr buffer, int length, out int returned)
            {
                returned = 0;
                return 0xC0000022u;
            };
            PoolTagQueryException e = Check.Throws<PoolTagQueryException>(
                delegate { PoolTagQuery.QueryRaw(denied, 1024, 4, "SystemModuleInformation"); }, "denied");
            Check.Contains(e.Message, "SystemModuleInformation", "names the class");
        }
    }
}
