// Copyright: memleak.remediation contributors
// GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Internal use only: small parsers for the text that commands and event logs print on a Windows
// host (netstat, bugcheck events, VMware Tools version, platform), used by win_pool_facts.
// Pure static functions, compiled and unit-tested with Mono. Written for C# 5.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

//TypeAccelerator -Name MemLeak.HostText -TypeName HostText

namespace ansible_collections.memleak.remediation.plugins.module_utils._HostText
{
    /// <summary>Small parsers for text that commands and event logs print on the host.</summary>
    public static class HostText
    {
        private static readonly Regex ToolsVersion = new Regex(@"(\d+\.\d+\.\d+(?:\.\d+)?)");
        private static readonly Regex NetstatLine = new Regex(
            @"^\s*TCP\s+\S+\s+\S+\s+(\S+)(?:\s+\d+)?\s*$", RegexOptions.IgnoreCase);
        private static readonly Regex BugcheckText = new Regex(
            @"(0x[0-9A-Fa-f]+)\s*\(\s*(0x[0-9A-Fa-f]+)\s*,\s*(0x[0-9A-Fa-f]+)\s*,\s*(0x[0-9A-Fa-f]+)\s*,\s*(0x[0-9A-Fa-f]+)\s*\)");

        private static readonly Dictionary<string, string> NetstatStates = new Dictionary<string, string>
        {
            { "CLOSED", "Closed" },
            { "LISTENING", "Listen" },
            { "LISTEN", "Listen" },
            { "SYN_SENT", "SynSent" },
            { "SYN_RECEIVED", "SynReceived" },
            { "SYN_RCVD", "SynReceived" },
            { "ESTABLISHED", "Established" },
            { "FIN_WAIT_1", "FinWait1" },
            { "FIN_WAIT1", "FinWait1" },
            { "FIN_WAIT_2", "FinWait2" },
            { "FIN_WAIT2", "FinWait2" },
            { "CLOSE_WAIT", "CloseWait" },
            { "CLOSING", "Closing" },
            { "LAST_ACK", "LastAck" },
            { "TIME_WAIT", "TimeWait" },
            { "DELETE_TCB", "DeleteTCB" },
            { "BOUND", "Bound" },
            // German netstat (de-DE), the only localisation with a public source found: the state words
            // mapped back to English by the npm package "systeminformation" (lib/network.js,
            // networkConnections: HERGESTELLT, ABH*, SCHLIESSEN_WARTEN, WARTEND, SYN_GESENDET) and by
            // the Checkmk Windows agent's tcp_conn_stats / netstat checks (FIN_WARTEN_2, SCHLIESSEND).
            // ABH\u2122REN is ABH\u00D6REN's OEM-850 byte 0x99 read as Windows-1252, as saved netstat text shows it.
            // FIN_WAIT_1, LAST_ACK and SYN_RECEIVED have no sourced German form: they stay as printed
            // and are listed in the module's warning.
            { "ABH\u00D6REN", "Listen" },
            { "ABH\u2122REN", "Listen" },
            { "HERGESTELLT", "Established" },
            { "WARTEND", "TimeWait" },
            { "SCHLIESSEN_WARTEN", "CloseWait" },
            { "SYN_GESENDET", "SynSent" },
            { "SCHLIESSEND", "Closing" },
            { "FIN_WARTEN_2", "FinWait2" },
        };

        /// <summary>Version from "VMwareToolboxCmd.exe -v" output such as "12.0.0.19345655 (build-19345655)".</summary>
        public static string ParseToolsVersion(string output)
        {
            if (String.IsNullOrEmpty(output))
                return null;
            Match m = ToolsVersion.Match(output);
            return m.Success ? m.Groups[1].Value : null;
        }

        /// <summary>TCP connections by state from "netstat -an" text, named as Get-NetTCPConnection names them.
        /// The last resort of win_pool_facts (GetTcpTable2 is read first). English and the German state
        /// words are mapped; UDP and header lines are ignored; any other word is kept as printed and
        /// listed by UnknownNetstatStates so the module can warn.</summary>
        public static Dictionary<string, int> CountNetstatStates(string text)
        {
            Dictionary<string, int> counts = new Dictionary<string, int>(StringComparer.Ordinal);
            if (text == null)
                return counts;
            foreach (string raw in text.Replace("\r\n", "\n").Split('\n'))
            {
                Match m = NetstatLine.Match(raw);
                if (!m.Success)
                    continue;
                string state = m.Groups[1].Value.ToUpperInvariant();
                string name;
                if (!NetstatStates.TryGetValue(state, out name))
                    name = state;
                int current;
                counts.TryGetValue(name, out current);
                counts[name] = current + 1;
            }
            return counts;
        }

        /// <summary>The state words of <paramref name="counts"/> that are not Get-NetTCPConnection names.</summary>
        public static List<string> UnknownNetstatStates(IDictionary<string, int> counts)
        {
            HashSet<string> known = new HashSet<string>(NetstatStates.Values, StringComparer.Ordinal);
            List<string> result = new List<string>();
            foreach (string state in counts.Keys)
                if (!known.Contains(state))
                    result.Add(state);
            result.Sort(StringComparer.Ordinal);
            return result;
        }

        /// <summary>Code and the 4 parameters from the text of System event 1001
        /// ("0x0000009f (0x0000000000000003, 0x..., 0x..., 0x...)"); null when absent.</summary>
        public static string[] ParseBugcheck(string text)
        {
            if (String.IsNullOrEmpty(text))
                return null;
            Match m = BugcheckText.Match(text);
            if (!m.Success)
                return null;
            string[] result = new string[5];
            for (int i = 0; i < 5; i++)
                result[i] = NormalizeHex(m.Groups[i + 1].Value, i == 0 ? 8 : 16);
            return result;
        }

        /// <summary>"0x9f" -> "0x0000009F"; "159" (decimal, as Kernel-Power 41 stores it) -> "0x0000009F".</summary>
        public static string NormalizeHex(string value, int digits)
        {
            if (String.IsNullOrEmpty(value))
                return null;
            UInt64 number;
            string v = value.Trim();
            bool ok;
            if (v.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
                ok = UInt64.TryParse(v.Substring(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out number);
            else
                ok = UInt64.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out number);
            if (!ok)
                return null;
            return "0x" + number.ToString("X" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        }

        /// <summary>Virtualisation platform from Win32_ComputerSystem Manufacturer and Model.
        /// "none" only when no hypervisor is present; "unknown" when one is but is not recognised.</summary>
        public static string DetectPlatform(string manufacturer, string model, bool? hypervisorPresent)
        {
            string text = ((manufacturer ?? "") + " " + (model ?? "")).ToLowerInvariant();
            if (text.Contains("vmware"))
                return "vmware";
            if (text.Contains("xen"))
                return "xen";
            if (text.Contains("qemu") || text.Contains("kvm") || text.Contains("bochs") ||
                text.Contains("red hat") || text.Contains("amazon ec2") || text.Contains("google compute engine") ||
                text.Contains("openstack") || text.Contains("nutanix"))
                return "kvm";
            if (text.Contains("microsoft corporation") && text.Contains("virtual machine"))
                return "hyperv";
            if (hypervisorPresent.HasValue && !hypervisorPresent.Value)
                return "none";
            return "unknown";
        }
    }
}
