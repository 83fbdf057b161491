#!/usr/bin/env python3
"""A webhook receiver for Klaxon's end-to-end tests, on 127.0.0.1.

Records every POST as one JSON line {"headers": {...}, "body": <parsed JSON or text>} in --out.
Writes its port to --port-file once listening. --delay makes each answer slow; --status picks
the answer's status. --trickle S sends the answer one byte every S seconds (a receiver that
never trips a per-read timeout). Stops on SIGTERM.
"""
import argparse
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--trickle", type=float, default=0.0)
    args = p.parse_args()
    lock = threading.Lock()
    out = open(args.out, "a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            if args.delay:
                time.sleep(args.delay)
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
            with lock:
                out.write(json.dumps({"headers": {k.lower(): v for k, v in self.headers.items()},
                                      "body": body, "raw": raw.decode("utf-8", "replace")}) + "\n")
            reply = b"ok"
            if args.trickle:
                answer = (b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000)
                try:
                    for i in range(len(answer)):
                        self.wfile.write(answer[i:i + 1])
                        self.wfile.flush()
                        time.sleep(args.trickle)
                except OSError:
                    pass
                self.close_connection = True
                return
            self.send_response(args.status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown).start())
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
