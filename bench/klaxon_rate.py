#!/usr/bin/env python3
"""Prints `klaxon run`'s event rate over a topic of TOTAL events, read from its /metrics.

usage: bench/klaxon_rate.py ADMIN_URL TOTAL [FRACTION]

With FRACTION (0.9, say) it prints a second rate: from the same start up to the first count of
at least FRACTION x TOTAL, which leaves out the end of a backlog (on several partitions the last
ones are read one after the other, each once the others went idle).

One process polls /metrics every 20 ms over a kept-alive connection: forking curl for each poll
would cost about 13 ms of CPU a time, CPU taken from Klaxon mid-measurement. Klaxon publishes
its counters every 200 ms, so the rate is taken between the first published count above 0 and
the last one below the total, each at the poll that first saw it: both ends are then equally
late (at most one poll), and no end waits for a publication after the last event.
"""
import http.client
import sys
import time
import urllib.parse

url = urllib.parse.urlparse(sys.argv[1])
total = int(sys.argv[2])
fraction = float(sys.argv[3]) if len(sys.argv) > 3 else None
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)


def received():
    conn.request("GET", "/metrics")
    for line in conn.getresponse().read().decode().splitlines():
        if line.startswith("klaxon_events_received_total "):
            return int(float(line.split()[1]))
    return 0


seen = []  # (first time seen, count) of each published count
while True:
    n, now = received(), time.monotonic()
    if n > 0 and (not seen or n != seen[-1][1]):
        seen.append((now, n))
    if n >= total:
        break
    time.sleep(0.02)
inside = [s for s in seen if s[1] < total]
(t0, n0), (t1, n1) = (inside[0], inside[-1]) if len(inside) >= 2 else (seen[0], seen[-1])
if t1 <= t0:
    sys.exit("too few samples of klaxon_events_received_total to time the run")
rate = round((n1 - n0) / (t1 - t0))
if fraction is None:
    print(rate)
else:
    (t2, n2) = next(s for s in seen if s[1] >= fraction * total)
    print(rate, round((n2 - n0) / (t2 - t0)) if t2 > t0 else rate)
