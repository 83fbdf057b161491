#!/usr/bin/env python3
"""Times several `klaxon run` instances working off a backlog of TOTAL input events together,
from their /metrics, and their CPU from /proc/PID/stat (utime + stime, all threads).

usage: bench/scale_out_progress.py TOTAL ADMIN_URL,PID [ADMIN_URL,PID...]

Done is: the instances read TOTAL input records between them (single stage:
klaxon_events_received_total; scale-out: klaxon_scale_out_input_records_total) and, in
scale-out mode, stage 2 took every repartition record stage 1 produced (evaluated, duplicate,
late or invalid: klaxon_scale_out_records_total against klaxon_scale_out_routed_records_total).
The window starts at the first poll that sees any input read (the instances have joined by then
or are joining: that is part of a scale-out's cost) and ends at the first poll that sees done.
Prints one line: events/s, CPU microseconds per event (all instances' CPU over the window divided
by the events read in it), input records, routed records, stage-2 records by result
(evaluated/duplicate/late/invalid), each instance's CPU seconds over the window, the window, the bytes written to the changelog per
input event (klaxon_scale_out_changelog_bytes_total, absent before the changelog: 0) and the
checkpoints committed.
Polls every 50 ms over kept-alive connections; Klaxon publishes its counters every 200 ms.
"""
import http.client
import os
import sys
import time
import urllib.parse

total = int(sys.argv[1])
instances = []
for arg in sys.argv[2:]:
    url, pid = arg.split(",")
    u = urllib.parse.urlparse(url)
    instances.append((http.client.HTTPConnection(u.hostname, u.port, timeout=10), int(pid)))
tick = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick  # utime, stime


def counters(conn):
    conn.request("GET", "/metrics")
    c = {}
    for line in conn.getresponse().read().decode().splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, value = line.rsplit(" ", 1)
        c[name] = float(value)
    return c


def poll():
    sums = {"input": 0, "routed": 0, "evaluated": 0, "duplicate": 0, "late": 0, "invalid": 0,
            "changelog": 0, "checkpoints": 0}
    scale_out = False
    for conn, _ in instances:
        c = counters(conn)
        if "klaxon_scale_out_input_records_total" in c:
            scale_out = True
            sums["input"] += c["klaxon_scale_out_input_records_total"]
            sums["routed"] += c.get("klaxon_scale_out_routed_records_total", 0)
            sums["changelog"] += c.get("klaxon_scale_out_changelog_bytes_total", 0)
            sums["checkpoints"] += c.get("klaxon_scale_out_checkpoints_total", 0)
            for r in ("evaluated", "duplicate", "late", "invalid"):
                sums[r] += c.get(f'klaxon_scale_out_records_total{{result="{r}"}}', 0)
        else:
            sums["input"] += c.get("klaxon_events_received_total", 0)
    taken = sums["evaluated"] + sums["duplicate"] + sums["late"] + sums["invalid"]
    done = sums["input"] >= total and (not scale_out or taken >= sums["routed"])
    return sums, done


deadline = time.monotonic() + 900
start = None
while time.monotonic() < deadline:
    sums, done = poll()
    now = time.monotonic()
    if start is None and sums["input"] > 0:
        start = (now, sums["input"], [cpu_seconds(pid) for _, pid in instances])
    if start is not None and done:
        break
    time.sleep(0.05)
else:
    sys.exit(f"not done after 15 minutes: {sums}")
cpu = [cpu_seconds(pid) - c0 for (_, pid), c0 in zip(instances, start[2])]
events = total - start[1]
window = now - start[0]
print(f"{events / window:.0f} {1e6 * sum(cpu) / events:.1f} {sums['input']:.0f} "
      f"{sums['routed']:.0f} {sums['evaluated']:.0f}/{sums['duplicate']:.0f}/{sums['late']:.0f}/"
      f"{sums['invalid']:.0f} {'/'.join(f'{c:.2f}' for c in cpu)} {window:.2f} "
      f"{sums['changelog'] / total:.0f} {sums['checkpoints']:.0f}")
