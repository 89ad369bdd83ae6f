#!/usr/bin/env python3
"""An HTTPS key server for tests/unit/test_keystore.c (python3 stdlib only).

Serves users' public keys from --dir on 127.0.0.1 with an ephemeral port,
which it writes to --port-file (atomically: temporary file, then rename)
once it is listening.  Every request is appended to <dir>/requests.log
as "<path> <user agent>".

  GET /keys/<user>             <user>.json (application/json) if present,
                               else <user>.keys (text/plain), else 404
  GET /delay/<ms>/<user>       the same, after waiting <ms> milliseconds
  GET /status/<code>/<user>    an empty answer with that HTTP status
  GET /big/<user>              2 MiB of text (more than jumpgate accepts)

Stop it with SIGTERM.
"""
import argparse
import http.server
import os
import ssl
import threading
import time

LOG_LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "keyserver/1"

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def send_body(self, code, ctype, body):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def serve_user(self, user):
        d = self.server.keydir
        if "/" in user or user.startswith("."):
            self.send_body(400, "text/plain", b"bad user\n")
            return
        for ext, ctype in ((".json", "application/json"),
                           (".keys", "text/plain; charset=utf-8")):
            path = os.path.join(d, user + ext)
            if os.path.exists(path):
                with open(path, "rb") as f:
                    self.send_body(200, ctype, f.read())
                return
        self.send_body(404, "text/plain", b"no such user\n")

    def do_GET(self):
        with LOG_LOCK:
            with open(os.path.join(self.server.keydir, "requests.log"),
                      "a") as f:
                f.write("%s %s\n" % (self.path,
                                      self.headers.get("User-Agent", "-")))
        parts = self.path.split("?")[0].strip("/").split("/")
        try:
            if parts[0] == "keys" and len(parts) == 2:
                self.serve_user(parts[1])
            elif parts[0] == "delay" and len(parts) == 3:
                time.sleep(int(parts[1]) / 1000.0)
                self.serve_user(parts[2])
            elif parts[0] == "status" and len(parts) == 3:
                self.send_body(int(parts[1]), "text/plain", b"")
            elif parts[0] == "big" and len(parts) == 2:
                self.send_body(200, "text/plain",
                               b"# filler\n" * (2 * 1024 * 1024 // 9 + 1))
            else:
                self.send_body(404, "text/plain", b"unknown path\n")
        except OSError:  # the client gave up (timeout, body too big)
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    args = ap.parse_args()

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    # Clients that hang up mid-answer are part of the tests: stay quiet.
    srv.handle_error = lambda request, client_address: None
    srv.keydir = args.dir
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)

    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
