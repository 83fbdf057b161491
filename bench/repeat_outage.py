#!/usr/bin/env python3
"""Writes N events to stdout: the shipped outage story (examples/events/outage.jsonl.gz)
repeated, each repetition 90 minutes later, timestamps as epoch seconds.

usage: bench/repeat_outage.py EVENTS [--numbered]   (--numbered adds {"extra": {"n": i}})
"""
import gzip
import json
import os
import sys
from datetime import datetime

STORY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "events",
                     "outage.jsonl.gz")


def main():
    limit = int(sys.argv[1])
    numbered = "--numbered" in sys.argv[2:]
    lines = gzip.open(STORY, "rt").read().splitlines()
    out, n, rep = sys.stdout, 0, 0
    while n < limit:
        for line in lines:
            if n == limit:
                break
            e = json.loads(line)
            ts = e["timestamp"]
            if isinstance(ts, str):
                ts = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
            e["timestamp"] = round(ts + rep * 5400.0, 3)
            if numbered:
                e["extra"] = {"n": n}
            out.write(json.dumps(e, separators=(",", ":")) + "\n")
            n += 1
        rep += 1


if __name__ == "__main__":
    main()
