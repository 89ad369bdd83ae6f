#!/usr/bin/env python3
"""keyserver.py: a slow HTTP key service for the key-source tests.

Serves DIR/<name> for GET /<name> (404 when missing) on 127.0.0.1:PORT,
each answer after --delay seconds, one thread per request.  Writes
"listening PORT" to --ready FILE once bound.  Loopback only; runs until
SIGTERM.
"""
import argparse
import http.server
import os
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("port", type=int)
    ap.add_argument("--delay", type=float, default=0.3)
    ap.add_argument("--ready", required=True)
    a = ap.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            time.sleep(a.delay)
            path = os.path.join(a.dir, os.path.basename(self.path))
            if not os.path.isfile(path):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with open(path, "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    with open(a.ready + ".tmp", "w") as f:
        f.write("listening %d\n" % a.port)
    os.rename(a.ready + ".tmp", a.ready)
    srv.serve_forever()


if __name__ == "__main__":
    main()
