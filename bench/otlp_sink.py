#!/usr/bin/env python3
"""A collector stand-in for bench/events.sh --otlp: accepts OTLP/HTTP posts on
/v1/traces and /v1/metrics, answers 200, and counts execution spans by the attribute
key every one of them carries (`gen_ai.prompt.name`, once per span in the protobuf).
Prints its counts when stopped (SIGTERM).

Usage: otlp_sink.py PORT
"""

import http.server
import signal
import sys
import threading

MARKER = b"gen_ai.prompt.name"
counts = {"trace_requests": 0, "metric_requests": 0, "execution_spans": 0, "bytes": 0}
lock = threading.Lock()


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            counts["bytes"] += len(body)
            if self.path == "/v1/traces":
                counts["trace_requests"] += 1
                counts["execution_spans"] += body.count(MARKER)
            else:
                counts["metric_requests"] += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink)

    def stop(*_):
        with lock:
            print(
                f"collector received {counts['execution_spans']} execution spans in "
                f"{counts['trace_requests']} trace requests ({counts['bytes'] / 1e6:.1f} MB), "
                f"{counts['metric_requests']} metric requests",
                flush=True,
            )
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    server.serve_forever()


if __name__ == "__main__":
    main()
