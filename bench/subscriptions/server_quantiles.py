#!/usr/bin/env python3
"""Server-side latency quantiles from a Prometheus text scrape (stdin), for the histograms named
on the command line: p50/p90/p99 interpolated linearly inside the bucket (as Prometheus'
histogram_quantile does), so a quantile is only as fine as the metric's buckets.
  curl -s http://127.0.0.1:PORT/metrics | server_quantiles.py NAME [NAME...]
"""
import re
import sys

SAMPLE = re.compile(r'^(\w+)_bucket\{(.*)\} (\S+)$')


def quantile(buckets, q):
    total = buckets[-1][1]
    if total == 0:
        return float('nan')
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= rank:
            if bound == float('inf'):
                return lower
            inside = cumulative - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, cumulative
    return lower


def main():
    wanted = sys.argv[1:]
    series = {}
    for line in sys.stdin:
        m = SAMPLE.match(line.strip())
        if not m or m.group(1) not in wanted:
            continue
        labels = m.group(2)
        le = re.search(r'le="([^"]+)"', labels).group(1)
        rest = re.sub(r',?le="[^"]+"', '', labels)
        key = m.group(1) + ('{' + rest + '}' if rest else '')
        series.setdefault(key, []).append((float(le), float(m.group(3))))
    for key, buckets in series.items():
        buckets.sort()
        n = int(buckets[-1][1])
        parts = ' '.join(f'p{int(q * 100)}={quantile(buckets, q) * 1000:.1f} ms' for q in (0.5, 0.9, 0.99))
        print(f'   {key}: n={n} {parts}')


if __name__ == '__main__':
    main()
