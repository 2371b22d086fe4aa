#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Summarize the "# AB ..." lines of bench/ab/run.sh: per variant, the
median over repetitions of each case's median, the best minimum, the
memory per share, sd_same / floor, and the step profile of the prof
variant (mean ns per call, rdtsc overhead subtracted)."""

import collections
import re
import statistics
import sys


def main(path):
    med = collections.defaultdict(lambda: collections.defaultdict(list))
    mins = collections.defaultdict(lambda: collections.defaultdict(list))
    mem = collections.defaultdict(list)
    prof = collections.OrderedDict()
    names = []
    for line in open(path, encoding='utf-8', errors='replace'):
        m = re.match(r'# AB (\S+) (\S+) (.*)', line.rstrip())
        if not m:
            continue
        name, rep, rest = m.groups()
        if name not in names:
            names.append(name)
        if rep.startswith('mem'):
            m2 = re.search(r'= ([\d.]+) B', rest)
            if 'meminfo' in rest and m2:
                mem[name].append('%s pending: %s B' % (rep[3:], m2.group(1)))
            continue
        if rest.startswith('PROF'):
            m2 = re.match(r'PROF (.+?)\s+n=(\d+).*minus_empty_ns=(-?\d+)', rest)
            if m2:
                prof.setdefault(m2.group(1).strip(), []).append(int(m2.group(3)))
            continue
        f = rest.split()
        if len(f) < 6 or 'FAILED' in rest:
            continue
        try:
            lo, mid = float(f[-3]), float(f[-2])
        except ValueError:
            continue
        label = ' '.join(f[1:-4])[:44]
        med[label][name].append(mid)
        mins[label][name].append(lo)

    def table(title, data, agg):
        print('%-45s %s' % (title, ' '.join('%10s' % n[:10] for n in names)))
        for label, per in data.items():
            print('%-45s %s' % (label, ' '.join(
                '%10.0f' % agg(per[n]) if per[n] else '%10s' % '-' for n in names)))
        print()

    table('median of medians, ns/op', med, statistics.median)
    table('best minimum, ns/op', mins, min)
    sd = next((k for k in med if k.startswith('share + redeem + close, same')), None)
    fl = next((k for k in med if k.startswith('FLOOR')), None)
    if sd and fl:
        for title, data, agg in (('sd_same / floor (medians)', med, statistics.median),
                                 ('sd_same / floor (minimums)', mins, min)):
            print('%-45s %s' % (title, ' '.join(
                '%10.2f' % (agg(data[sd][n]) / agg(data[fl][n]))
                if data[sd][n] and data[fl][n] else '%10s' % '-' for n in names)))
        print()
    for n in names:
        if mem[n]:
            print('memory per share, %s: %s' % (n, ', '.join(mem[n])))
    if prof:
        print('\nstep profile (prof variant), ns per call, median over repetitions:')
        for step, v in prof.items():
            print('  %-32s %6d' % (step, statistics.median(v)))


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else 'build/ab/ab.txt')
