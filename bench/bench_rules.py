#!/usr/bin/env python3
"""Writes the 100 rules of the service benchmarks to stdout: counts with group by over services,
exception types, levels and environments, over the events of bench/repeat_outage.py, each
notifying a log action into /dev/null."""
services = ["orders-api", "checkout", "payments", "auth", "search"]
types = ["DatabaseError", "ValidationError", "TimeoutError", "KeyError", "CartExpired", "CardDeclined",
         "GatewayTimeout", "LoginFailed", "TokenExpired", "IndexMissing", "QueryTimeout"]
print('action sink = log(path: "/dev/null")')
n = 0
for s in services:
    for t in types:
        for threshold in (50, 500):
            if n == 100:
                break
            print(f"rule r{n} {{\n  when frequency > {threshold}/5m for service:{s} AND exception.type:{t}\n"
                  f"  group by environment\n  then sink\n}}")
            n += 1
while n < 100:
    print(f"rule r{n} {{\n  when frequency > 100/min for level:fatal AND environment:staging AND release:v{n}\n  then sink\n}}")
    n += 1
