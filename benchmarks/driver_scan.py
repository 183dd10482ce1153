"""Driver image scan of win_pool_facts (DriverScan.CountTags, PoolTag.cs) under Mono: MB/s.

The image is real machine code: this machine's shared libraries (/usr/lib, ELF), concatenated to
--mb megabytes, searched for 5 tags (scan_drivers' default) as the module does for each loaded
driver. The baseline, measured in the same run and the same assembly, is the scan as it was before
the first-byte check (a rolling 32-bit window looked up in the dictionary at every byte). The C#
utils are compiled as test_csharp_utils.py compiles them (mcs, C# 5, optimised). Best of 3.

Usage: python benchmarks/driver_scan.py [--mb 64]
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import _common

UTILS = sorted(glob.glob(os.path.join(_common.ROOT, "plugins", "module_utils", "*.cs")))
TAGS = ("VFil", "VNet", "Irp ", "File", "MmSt")

BENCH = r"""
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using ansible_collections.memleak.remediation.plugins.module_utils.PoolTag;

public static class Bench
{
    // The scan before the first-byte check, kept here as the baseline.
    static int[] Before(byte[] image, int length, IList<byte[]> tags)
    {
        int[] counts = new int[tags.Count];
        Dictionary<UInt32, List<int>> wanted = new Dictionary<UInt32, List<int>>();
        for (int t = 0; t < tags.Count; t++)
        {
            UInt32 plain = BitConverter.ToUInt32(tags[t], 0) & 0x7FFFFFFF;
            foreach (UInt32 key in new UInt32[] { plain, plain | 0x80000000u })
            {
                List<int> list;
                if (!wanted.TryGetValue(key, out list)) { list = new List<int>(); wanted[key] = list; }
                if (!list.Contains(t)) list.Add(t);
            }
        }
        UInt32 window = 0;
        for (int i = 0; i < length; i++)
        {
            window = (window >> 8) | ((UInt32)image[i] << 24);
            if (i < 3) continue;
            List<int> hits;
            if (wanted.TryGetValue(window, out hits))
                foreach (int t in hits) counts[t]++;
        }
        return counts;
    }

    public static int Main(string[] args)
    {
        byte[] image = File.ReadAllBytes(args[0]);
        List<byte[]> tags = new List<byte[]>();
        for (int i = 1; i < args.Length; i++) tags.Add(PoolTagParser.TagToBytes(args[i]));
        double before = double.MaxValue, after = double.MaxValue;
        int[] a = null, b = null;
        for (int round = 0; round < 3; round++)
        {
            Stopwatch w = Stopwatch.StartNew();
            a = Before(image, image.Length, tags);
            before = Math.Min(before, w.Elapsed.TotalSeconds);
            w = Stopwatch.StartNew();
            b = DriverScan.CountTags(image, image.Length, tags);
            after = Math.Min(after, w.Elapsed.TotalSeconds);
        }
        for (int t = 0; t < tags.Count; t++)
            if (a[t] != b[t]) { Console.WriteLine("MISMATCH tag {0}: {1} vs {2}", t, a[t], b[t]); return 1; }
        Console.WriteLine("{0} {1} {2}", before, after, String.Join(",", Array.ConvertAll(b, x => x.ToString())));
        return 0;
    }
}
"""


def _image(path, size):
    libs = sorted(glob.glob("/usr/lib/x86_64-linux-gnu/*.so*") + glob.glob("/usr/lib/*/*.so*"))
    written = 0
    with open(path, "wb") as out:
        while written < size:
            progress = written
            for lib in libs:
                if written >= size or not os.path.isfile(lib):
                    continue
                with open(lib, "rb") as handle:
                    chunk = handle.read(min(size - written, 4 * 1024 * 1024))
                out.write(chunk)
                written += len(chunk)
            if written == progress:
                raise SystemExit("no shared libraries found under /usr/lib to build the image from")
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=64)
    args = parser.parse_args()
    for tool in ("mcs", "mono"):
        if not shutil.which(tool):
            raise SystemExit("%s not found: apt-get install -y mono-mcs mono-runtime" % tool)
    with tempfile.TemporaryDirectory() as tmp:
        dll = os.path.join(tmp, "utils.dll")
        subprocess.run(["mcs", "-target:library", "-langversion:5", "-optimize", "-define:WINDOWS;AMD64",
                        "-r:System.dll", "-r:System.Core.dll", "-out:" + dll] + UTILS, check=True)
        src = os.path.join(tmp, "bench.cs")
        with open(src, "w") as handle:
            handle.write(BENCH)
        exe = os.path.join(tmp, "bench.exe")
        subprocess.run(["mcs", "-langversion:5", "-optimize", "-r:" + dll, "-out:" + exe, src], check=True)
        image = os.path.join(tmp, "image.bin")
        size = _image(image, args.mb * 1024 * 1024)
        proc = subprocess.run(["mono", exe, image] + list(TAGS), stdout=subprocess.PIPE, universal_newlines=True,
                              cwd=tmp, check=False)
        if proc.returncode:
            raise SystemExit("benchmark failed: %s" % proc.stdout)
        before, after, counts = proc.stdout.split()
    mb = size / 1e6
    before, after = float(before), float(after)
    print("| scan of %.0f MB of machine code for %d tags | seconds | MB/s |" % (mb, len(TAGS)))
    print("|---|---|---|")
    print("| baseline: dictionary lookup at every byte (before) | %.3f | %.1f |" % (before, mb / before))
    print("| first-byte check, then the lookup (now) | %.3f | %.1f |" % (after, mb / after))
    print("\nspeed-up %.2fx; matches per tag %s (identical in both)" % (before / after, counts))
    print("machine: %s" % _common.machine())
    return 0


if __name__ == "__main__":
    sys.exit(main())
