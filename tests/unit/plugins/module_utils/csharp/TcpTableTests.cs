// Copyright: memleak.remediation contributors
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Unit tests of plugins/module_utils/_TcpTable.cs (run by test_csharp_utils.py, see PoolTagTests.cs).
// Rows are written here from the member lists of MIB_TCPROW2 (7 DWORDs, dwState first) and
// MIB_TCP6ROW2 (IN6_ADDR, 2 DWORDs, IN6_ADDR, 2 DWORDs, State, 2 DWORDs: State at 16+4+4+16+4+4 = 48)
// on Microsoft Learn, with every other member filled with a non-zero pattern.

using System;
using System.Collections.Generic;
using ansible_collections.memleak.remediation.plugins.module_utils._TcpTable;

namespace MemLeak.Tests
{
    public static class TcpTableTests
    {
        private static byte[] V4(params uint[] states)
        {
            byte[] b = new byte[4 + states.Length * 28];
            Buffers.Put32(b, 0, (uint)states.Length);
            for (int i = 0; i < states.Length; i++)
            {
                int at = 4 + i * 28;
                Buffers.Put32(b, at, states[i]);                     // dwState
                Buffers.Put32(b, at + 4, 0x0500000Au);               // dwLocalAddr 10.0.0.5
                Buffers.Put32(b, at + 8, 0x5000u);                   // dwLocalPort 80, network order
                Buffers.Put32(b, at + 12, 0x070200C0u);              // dwRemoteAddr 192.0.2.7
                Buffers.Put32(b, at + 16, 0x1BC7u);                  // dwRemotePort
                Buffers.Put32(b, at + 20, 4242u);                    // dwOwningPid
                Buffers.Put32(b, at + 24, 0u);                       // dwOffloadState InHost
            }
            return b;
        }

        private static byte[] V6(params uint[] states)
        {
            byte[] b = new byte[4 + states.Length * 60];
            Buffers.Put32(b, 0, (uint)states.Length);
            for (int i = 0; i < states.Length; i++)
            {
                int at = 4 + i * 60;
                for (int k = 0; k < 16; k++)
                {
                    b[at + k] = 0x20;                               // LocalAddr
                    b[at + 24 + k] = 0x20;                          // RemoteAddr
                }
                Buffers.Put32(b, at + 16, 7u);                      // dwLocalScopeId
                Buffers.Put32(b, at + 20, 0xBB01u);                 // dwLocalPort
                Buffers.Put32(b, at + 40, 9u);                      // dwRemoteScopeId
                Buffers.Put32(b, at + 44, 0x1BC7u);                 // dwRemotePort
                Buffers.Put32(b, at + 48, states[i]);               // State
                Buffers.Put32(b, at + 52, 4242u);                   // dwOwningPid
                Buffers.Put32(b, at + 56, 2u);                      // dwOffloadState
            }
            return b;
        }

        public static void TestTcpV4States()
        {
            Dictionary<string, long> counts = new Dictionary<string, long>();
            int rows = TcpTable.CountStates(V4(2, 4, 4, 4, 5, 11, 8), 4 + 7 * 28, TcpFamily.IPv4, counts);
            Check.Equal(7, rows, "rows");
            Check.Equal(3L, counts["SynReceived"], "half-open");
            Check.Equal(1L, counts["Listen"], "listen");
            Check.Equal(1L, counts["TimeWait"], "time wait");
            Check.Equal(1L, counts["CloseWait"], "close wait");
            Check.Equal(1L, counts["Established"], "established");
            Check.Equal(5, counts.Count, "only states present");
        }

        public static void TestTcpV6StateAt48AndSharedCounts()
        {
            Dictionary<string, long> counts = new Dictionary<string, long>();
            byte[] v4 = V4(5);
            byte[] v6 = V6(5, 2, 12);
            TcpTable.CountStates(v4, v4.Length, TcpFamily.IPv4, counts);
            TcpTable.CountStates(v6, v6.Length, TcpFamily.IPv6, counts);
            Check.Equal(2L, counts["Established"], "v4 + v6 added");
            Check.Equal(1L, counts["DeleteTCB"], "state 12");
            Check.Equal(60, TcpTable.RowSize(TcpFamily.IPv6), "documented v6 row");
            Check.Equal(28, TcpTable.RowSize(TcpFamily.IPv4), "documented v4 row");
        }

        public static void TestTcpLayoutIsTheSameOnX86AndX64()
        {
            // No pointer-sized member: the buffer a 32-bit process gets has the same rows, so the parser
            // takes no layout argument; every documented state value 1..12 is named.
            byte[] b = V4(1, 3, 6, 7, 9, 10);
            Dictionary<string, long> counts = new Dictionary<string, long>();
            TcpTable.CountStates(b, b.Length, TcpFamily.IPv4, counts);
            foreach (string name in new string[] { "Closed", "SynSent", "FinWait1", "FinWait2", "Closing", "LastAck" })
                Check.Equal(1L, counts[name], name);
        }

        public static void TestTcpUnknownStateIsNamed()
        {
            Dictionary<string, long> counts = new Dictionary<string, long>();
            TcpTable.CountStates(V4(100, 0), 4 + 2 * 28, TcpFamily.IPv4, counts);
            Check.Equal(1L, counts["State100"], "MIB_TCP_STATE_RESERVED kept by number");
            Check.Equal(1L, counts["State0"], "zero kept by number");
        }

        public static void TestTcpTruncated()
        {
            byte[] b = V6(5, 5);
            TcpTableFormatException e = Check.Throws<TcpTableFormatException>(
                delegate { TcpTable.CountStates(b, b.Length - 1, TcpFamily.IPv6, new Dictionary<string, long>()); }, "cut");
            Check.Contains(e.Message, "MIB_TCP6TABLE2 truncated", "names the table");
            Check.Contains(e.Message, "dwNumEntries is 2", "names the count");
            byte[] v4 = V4(5, 5);
            Check.Throws<TcpTableFormatException>(
                delegate { TcpTable.CountStates(v4, v4.Length, TcpFamily.IPv6, new Dictionary<string, long>()); },
                "a v4 table read as v6 does not fit");
            Check.Throws<TcpTableFormatException>(
                delegate { TcpTable.CountStates(new byte[3], 3, TcpFamily.IPv4, new Dictionary<string, long>()); }, "no count");
            Check.Equal(0, TcpTable.CountStates(new byte[4], 4, TcpFamily.IPv4, new Dictionary<string, long>()), "empty table");
        }

        public static void TestTcpQueryGrowsBuffer()
        {
            byte[] table = V4(4, 4);
            List<int> sizes = new List<int>();
            TcpTableCall fake = delegate(IntPtr buffer, ref int size)
            {
                sizes.Add(size);
                if (size < 50000)
                {
                    size = 50000;
                    return TcpTable.ErrorInsufficientBuffer;
                }
                System.Runtime.InteropServices.Marshal.Copy(table, 0, buffer, table.Length);
                return TcpTable.NoError;
            };
            byte[] data = TcpTable.QueryRaw(fake, "GetTcpTable2", 4096, 4);
            Check.Equal(2, sizes.Count, "one retry");
            Check.True(sizes[1] >= 50000, "retry at least the size asked: " + sizes[1]);
            Dictionary<string, long> counts = new Dictionary<string, long>();
            TcpTable.CountStates(data, data.Length, TcpFamily.IPv4, counts);
            Check.Equal(2L, counts["SynReceived"], "parsed after the retry");
        }

        public static void TestTcpQueryBoundedAndErrors()
        {
            int calls = 0;
            TcpTableCall grows = delegate(IntPtr buffer, ref int size)
            {
                calls++;
                size = size + 1;
                return TcpTable.ErrorInsufficientBuffer;
            };
            TcpTableQueryException e = Check.Throws<TcpTableQueryException>(
                delegate { TcpTable.QueryRaw(grows, "GetTcp6Table2", 1024, 3); }, "never fits");
            Check.Equal(3, calls, "bounded attempts");
            Check.Contains(e.Message, "GetTcp6Table2", "names the call");
            TcpTableCall fails = delegate(IntPtr buffer, ref int size) { return 87u; };
            TcpTableQueryException bad = Check.Throws<TcpTableQueryException>(
                delegate { TcpTable.QueryRaw(fails, "GetTcpTable2", 1024, 3); }, "invalid parameter");
            Check.Equal(87u, bad.Error, "error kept");
            Check.Equal(TcpTable.MaxBufferSize, TcpTable.NextSize(TcpTable.MaxBufferSize, int.MaxValue), "cap");
        }
    }
}
