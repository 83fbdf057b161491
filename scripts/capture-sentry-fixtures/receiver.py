#!/usr/bin/env python3
"""A tiny Sentry ingestion stand-in: answers SDK requests and writes every event they carry.

Usage: receiver.py PORT OUT_DIR PREFIX [ENVELOPE_DIR]
Accepts POST /api/<project>/envelope/ and /api/<project>/store/ (gzip or deflate bodies, chunked or not) and
writes each `event` item (or store body) to OUT_DIR/PREFIX-NN.json, pretty-printed, in arrival
order. Other items (sessions, client reports, transactions) are ignored. With ENVELOPE_DIR,
every envelope that carries an event is also written there as sent (after Content-Encoding is
undone) to PREFIX-NN.envelope, and OUT_DIR gets no .json files.
"""
import json
import sys
import zlib
from http.server import BaseHTTPRequestHandler, HTTPServer

PORT, OUT, PREFIX = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ENVELOPES = sys.argv[4] if len(sys.argv) > 4 else None
count = 0
envelopes = 0


def events_of_envelope(body):
    """Yields the event payloads of a Sentry envelope (header line, then item header + payload)."""
    first = body.find(b"\n")
    pos = len(body) if first < 0 else first + 1
    while pos < len(body):
        nl = body.find(b"\n", pos)
        if nl < 0:
            nl = len(body)
        line = body[pos:nl].strip()
        pos = nl + 1
        if not line:
            continue
        header = json.loads(line)
        if "length" in header:
            payload = body[pos:pos + header["length"]]
            pos += header["length"] + 1
        else:
            end = body.find(b"\n", pos)
            end = len(body) if end < 0 else end
            payload = body[pos:end]
            pos = end + 1
        if header.get("type") == "event":
            yield json.loads(payload)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global count, envelopes
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":  # @sentry/node
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                chunk = self.rfile.read(size + 2)[:size]
                if size == 0:
                    break
                body += chunk
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        events = list(events_of_envelope(body)) if "/envelope/" in self.path else [json.loads(body)]
        event_id = ""
        if ENVELOPES and events and "/envelope/" in self.path:
            envelopes += 1
            with open(f"{ENVELOPES}/{PREFIX}-{envelopes:02d}.envelope", "wb") as f:
                f.write(body)
        for event in ([] if ENVELOPES else events):
            count += 1
            event_id = event.get("event_id", "")
            with open(f"{OUT}/{PREFIX}-{count:02d}.json", "w") as f:
                json.dump(event, f, indent=1, sort_keys=True)
                f.write("\n")
        if events:
            event_id = events[-1].get("event_id", "")
        answer = json.dumps({"id": event_id}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
