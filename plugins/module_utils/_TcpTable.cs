// Copyright: memleak.remediation contributors
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Internal use only: TCP connection counts by state for win_pool_facts, read with GetTcpTable2 and
// GetTcp6Table2 (iphlpapi.dll) and counted in one pass over the returned buffer, without one object
// per connection: the socket-exhaustion case (100k half-open connections) stays a few megabytes.
//
// Layouts (Microsoft Learn, tcpmib.h):
//   MIB_TCPTABLE2  { DWORD dwNumEntries; MIB_TCPROW2 table[ANY_SIZE]; }
//   MIB_TCPROW2    { DWORD dwState; DWORD dwLocalAddr; DWORD dwLocalPort; DWORD dwRemoteAddr;
//                    DWORD dwRemotePort; DWORD dwOwningPid; TCP_CONNECTION_OFFLOAD_STATE dwOffloadState; }
//                  -> 28 bytes, state at 0
//     https://learn.microsoft.com/en-us/windows/win32/api/tcpmib/ns-tcpmib-mib_tcprow2
//   MIB_TCP6TABLE2 { DWORD dwNumEntries; MIB_TCP6ROW2 table[ANY_SIZE]; }
//   MIB_TCP6ROW2   { IN6_ADDR LocalAddr; DWORD dwLocalScopeId; DWORD dwLocalPort; IN6_ADDR RemoteAddr;
//                    DWORD dwRemoteScopeId; DWORD dwRemotePort; MIB_TCP_STATE State; DWORD dwOwningPid;
//                    TCP_CONNECTION_OFFLOAD_STATE dwOffloadState; }
//                  -> 60 bytes, State at 48
//     https://learn.microsoft.com/en-us/windows/win32/api/tcpmib/ns-tcpmib-mib_tcp6row2
// No member is pointer-sized and every member is 4-byte aligned (IN6_ADDR is 16 bytes of 2-byte
// alignment), so x86 and x64 share one layout. MIB_TCP_STATE values 1..12 (CLOSED .. DELETE_TCB) are
// those of the same page; they are named here as Get-NetTCPConnection names its State values.
// GetTcpTable2 returns ERROR_INSUFFICIENT_BUFFER (122) and the size needed when the buffer is short
// (https://learn.microsoft.com/en-us/windows/win32/api/iphlpapi/nf-iphlpapi-gettcptable2).
// Written for C# 5; the parsers are pure and unit-tested under Mono (TcpTableTests.cs).

using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

//TypeAccelerator -Name MemLeak.TcpTable -TypeName TcpTable

namespace ansible_collections.memleak.remediation.plugins.module_utils._TcpTable
{
    public enum TcpFamily
    {
        IPv4 = 4,
        IPv6 = 6,
    }

    /// <summary>A buffer that is not a MIB_TCPTABLE2 / MIB_TCP6TABLE2.</summary>
    public class TcpTableFormatException : Exception
    {
        public TcpTableFormatException(string message) : base(message) { }
    }

    /// <summary>GetTcpTable2 / GetTcp6Table2 failed or never settled on a size.</summary>
    public class TcpTableQueryException : Exception
    {
        public UInt32 Error { get; private set; }

        public TcpTableQueryException(string message, UInt32 error) : base(message)
        {
            Error = error;
        }
    }

    /// <summary>Signature of GetTcpTable2 / GetTcp6Table2 without the sort flag, so the retry can be tested.</summary>
    public delegate UInt32 TcpTableCall(IntPtr buffer, ref int size);

    /// <summary>Counts TCP connections by state.</summary>
    public static class TcpTable
    {
        public const UInt32 NoError = 0;
        public const UInt32 ErrorInsufficientBuffer = 122;
        public const int HeaderSize = 4;
        public const int RowSizeV4 = 28;
        public const int RowSizeV6 = 60;
        public const int StateOffsetV4 = 0;
        public const int StateOffsetV6 = 48;
        public const int DefaultInitialSize = 64 * 1024;
        public const int DefaultMaxAttempts = 6;
        /// <summary>Never ask for more (a million IPv6 rows is 60 MB).</summary>
        public const int MaxBufferSize = 128 * 1024 * 1024;

        private static readonly string[] StateNames = {
            null, "Closed", "Listen", "SynSent", "SynReceived", "Established", "FinWait1", "FinWait2",
            "CloseWait", "Closing", "LastAck", "TimeWait", "DeleteTCB",
        };

        public static int RowSize(TcpFamily family)
        {
            return family == TcpFamily.IPv6 ? RowSizeV6 : RowSizeV4;
        }

        /// <summary>The Get-NetTCPConnection name of a MIB_TCP_STATE value; "State<n>" when unknown.</summary>
        public static string StateName(UInt32 state)
        {
            if (state >= 1 && state < StateNames.Length)
                return StateNames[state];
            return "State" + state.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        /// <summary>Adds the states of the first <paramref name="length"/> bytes of one table to
        /// <paramref name="counts"/> (one pass, no per-row object); returns the number of rows.</summary>
        public static int CountStates(byte[] buffer, int length, TcpFamily family, IDictionary<string, long> counts)
        {
            if (buffer == null)
                throw new ArgumentNullException("buffer");
            if (counts == null)
                throw new ArgumentNullException("counts");
            string what = family == TcpFamily.IPv6 ? "MIB_TCP6TABLE2" : "MIB_TCPTABLE2";
            if (length < 0 || length > buffer.Length)
                throw new TcpTableFormatException(String.Format(
                    "{0}: length {1} outside the {2}-byte array", what, length, buffer.Length));
            if (length < HeaderSize)
                throw new TcpTableFormatException(String.Format(
                    "{0} truncated: {1} bytes, dwNumEntries alone needs 4", what, length));
            UInt32 rows = BitConverter.ToUInt32(buffer, 0);
            int rowSize = RowSize(family);
            int stateAt = family == TcpFamily.IPv6 ? StateOffsetV6 : StateOffsetV4;
            long needed = HeaderSize + (long)rows * rowSize;
            if (needed > length)
                throw new TcpTableFormatException(String.Format(
                    "{0} truncated: dwNumEntries is {1}, which needs {2} bytes ({3} per row), but only {4} were returned",
                    what, rows, needed, rowSize, length));
            long[] byState = new long[StateNames.Length];
            Dictionary<UInt32, long> other = null;
            for (int i = 0; i < (int)rows; i++)
            {
                UInt32 state = BitConverter.ToUInt32(buffer, HeaderSize + i * rowSize + stateAt);
                if (state < byState.Length && state >= 1)
                    byState[state]++;
                else
                {
                    if (other == null)
                        other = new Dictionary<UInt32, long>();
                    long n;
                    other.TryGetValue(state, out n);
                    other[state] = n + 1;
                }
            }
            for (UInt32 s = 1; s < byState.Length; s++)
                if (byState[s] > 0)
                    Add(counts, StateName(s), byState[s]);
            if (other != null)
                foreach (KeyValuePair<UInt32, long> kv in other)
                    Add(counts, StateName(kv.Key), kv.Value);
            return (int)rows;
        }

        private static void Add(IDictionary<string, long> counts, string name, long n)
        {
            long current;
            counts.TryGetValue(name, out current);
            counts[name] = current + n;
        }

        /// <summary>Next size after ERROR_INSUFFICIENT_BUFFER: what was asked for plus a quarter for
        /// connections opened meanwhile, at least double the last try, at most MaxBufferSize.</summary>
        public static int NextSize(int current, int asked)
        {
            long wanted = Math.Max((long)asked + asked / 4 + 4096, (long)current * 2);
            return (int)Math.Min(wanted, (long)MaxBufferSize);
        }

        /// <summary>Calls <paramref name="call"/> with a growing buffer until the table fits; returns its bytes.</summary>
        public static byte[] QueryRaw(TcpTableCall call, string what, int initialSize, int maxAttempts)
        {
            if (call == null)
                throw new ArgumentNullException("call");
            int size = Math.Max(initialSize, HeaderSize);
            UInt32 error = ErrorInsufficientBuffer;
            for (int attempt = 1; attempt <= maxAttempts; attempt++)
            {
                IntPtr buffer = Marshal.AllocHGlobal(size);
                try
                {
                    int asked = size;
                    error = call(buffer, ref asked);
                    if (error == NoError)
                    {
                        byte[] data = new byte[size];
                        Marshal.Copy(buffer, data, 0, size);
                        return data;
                    }
                    if (error != ErrorInsufficientBuffer)
                        throw new TcpTableQueryException(String.Format("{0} failed with error {1}", what, error), error);
                    if (size >= MaxBufferSize)
                        break;
                    size = NextSize(size, asked);
                }
                finally
                {
                    Marshal.FreeHGlobal(buffer);
                }
            }
            throw new TcpTableQueryException(String.Format(
                "{0} still reported ERROR_INSUFFICIENT_BUFFER after {1} attempts; last buffer {2} bytes",
                what, maxAttempts, size), error);
        }

        [DllImport("iphlpapi.dll")]
        private static extern UInt32 GetTcpTable2(IntPtr TcpTable, ref int SizePointer, bool Order);

        [DllImport("iphlpapi.dll")]
        private static extern UInt32 GetTcp6Table2(IntPtr TcpTable, ref int SizePointer, bool Order);

        private static UInt32 CallV4(IntPtr buffer, ref int size)
        {
            return GetTcpTable2(buffer, ref size, false);
        }

        private static UInt32 CallV6(IntPtr buffer, ref int size)
        {
            return GetTcp6Table2(buffer, ref size, false);
        }

        /// <summary>Connection counts by state name, IPv4 and IPv6 together.</summary>
        public static Dictionary<string, long> Query()
        {
            Dictionary<string, long> counts = new Dictionary<string, long>(StringComparer.Ordinal);
            byte[] v4 = QueryRaw(CallV4, "GetTcpTable2", DefaultInitialSize, DefaultMaxAttempts);
            CountStates(v4, v4.Length, TcpFamily.IPv4, counts);
            byte[] v6 = QueryRaw(CallV6, "GetTcp6Table2", DefaultInitialSize, DefaultMaxAttempts);
            CountStates(v6, v6.Length, TcpFamily.IPv6, counts);
            return counts;
        }
    }
}
