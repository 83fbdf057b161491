#!/usr/bin/env python3
"""Writes the two-day event log of tests/scripts/service_kafka_dayrules_test.sh to stdout.

Deterministic (fixed seed, fixed start 2025-12-01T00:00Z): about 4,000 Sentry-style events of
four services, shaped so that every rule of dayrules.rules fires and resolves over the two days,
and so that forgetting state at a restart changes the result:
  - api deploys api@1.1 on day 1 and api@1.2 on day 2 at 09:30, then its error rate jumps
    tenfold from 10:00 to 11:30 (day-over-day change; day 1 is the baseline);
  - web has TimeoutError bursts: 07:10-08:40 on day 1 (pending 30m, then firing across the
    08:00 restart), 11:40-12:50 on day 1 (pending across the 12:00 restart) and 15:00-15:20 on
    day 2 (pending only, never fires);
  - search goes silent from 20:00 on day 1 to 08:00 on day 2 (absence after 6 h, at 02:00,
    with restarts inside the gap) and comes back on its old release, which is not new;
  - fatal storms: api 22:00-22:20 on day 1; billing 13:30-17:10 on day 2 after deploying
    billing@3.1, with a 7-minute lull (keep firing bridges it) and hourly repeats.
No event falls in the first two minutes after a multiple of 4 hours: the test restarts the
service there, and the idle service moves event time on by the wall clock while it waits.
"""
import hashlib
import json
import random
import sys

T0 = 1764547200  # 2025-12-01T00:00:00Z
H = 3600
M = 60
END = T0 + 48 * H
RESTART_EVERY = 4 * H
HOLE = 2 * M

rng = random.Random(20251201)
events = []  # (timestamp, service, level, exception type, message)

RELEASES = {
    "api": [(0, "api@1.0"), (15 * H, "api@1.1"), (24 * H + 9 * H + 30 * M, "api@1.2")],
    "web": [(0, "web@5.2"), (24 * H + 6 * H, "web@5.3")],
    "billing": [(0, "billing@3.0"), (24 * H + 13 * H, "billing@3.1")],
    "search": [(0, "search@0.9"), (24 * H + 12 * H, "search@1.0")],
}
NORMAL_TYPES = ["ValueError", "KeyError", "NotFound", "PermissionDenied"]


def release(service, t):
    current = None
    for start, name in RELEASES[service]:
        if t - T0 >= start:
            current = name
    return current


def poisson(service, start, end, mean_gap, level, types, message):
    t = start + rng.expovariate(1.0 / mean_gap)
    while t < end:
        events.append((t, service, level, rng.choice(types), message))
        t += rng.expovariate(1.0 / mean_gap)


# Background: every service, all two days, an error every 4 minutes on average.
for service in RELEASES:
    gap_from, gap_to = (T0 + 20 * H, T0 + 32 * H) if service == "search" else (END, END)
    poisson(service, T0, gap_from, 4 * M, "error", NORMAL_TYPES, "background error")
    poisson(service, gap_to, END, 4 * M, "error", NORMAL_TYPES, "background error")

# Day-over-day: api errors ten times as often on day 2 from 10:00 to 11:30.
poisson("api", T0 + 34 * H, T0 + 35 * H + 30 * M, 15, "error", ["DatabaseError"],
        "could not obtain connection from pool")
# Pending: TimeoutError bursts of web.
for start, end in [(7 * H + 10 * M, 8 * H + 40 * M), (11 * H + 40 * M, 12 * H + 50 * M),
                   (24 * H + 15 * H, 24 * H + 15 * H + 20 * M)]:
    poisson("web", T0 + start, T0 + end, 40, "error", ["TimeoutError"], "upstream timed out")
# Keep firing and repeats: fatal storms.
poisson("api", T0 + 22 * H, T0 + 22 * H + 20 * M, 20, "fatal", ["SegmentationFault"],
        "worker crashed")
poisson("billing", T0 + 37 * H + 30 * M, T0 + 39 * H, 20, "fatal", ["ProviderDown"],
        "payment provider unreachable")
poisson("billing", T0 + 39 * H + 7 * M, T0 + 41 * H + 10 * M, 20, "fatal", ["ProviderDown"],
        "payment provider unreachable")

events = [e for e in events if (int(e[0]) - T0) % RESTART_EVERY >= HOLE]
events.sort()
for i, (t, service, level, exc_type, message) in enumerate(events):
    rel = release(service, t)
    print(json.dumps({
        "event_id": hashlib.md5(f"dayrules-{i}".encode()).hexdigest(),
        "timestamp": round(t, 3),
        "platform": "python",
        "level": level,
        "release": rel,
        "environment": "production",
        "message": f"{exc_type}: {message}",
        "tags": {"service": service, "environment": "production", "release": rel},
        "exception": {"values": [{"type": exc_type, "value": message}]},
    }, separators=(",", ":")))
