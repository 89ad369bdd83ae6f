#!/usr/bin/env python3
"""tcpflood.py: holds many SSH connections that never finish key exchange.

Opens --count TCP connections to ADDR PORT (from --bind ADDR), one after
the other without waiting.  Every --banner-every'th connection sends an SSH
identification line and then nothing more; the others send nothing at
all.  None ever sends KEXINIT.  Loopback only.

When every connection is either established and has the server's
identification line, or was closed by the server, the tool writes one
line to --ready FILE:

    connected=N banner=B closed=C failed=F

(connected: TCP established; banner: got the server's identification;
closed: the server closed it; failed: connect() failed).  It then holds
everything open until SIGTERM or --hold seconds, and prints the same
line, counted again, on stdout: closed then says how many the server cut
while they were held (login grace time).
"""
import argparse
import os
import selectors
import signal
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--bind", default=None)
    ap.add_argument("--banner-every", type=int, default=2)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--ready-timeout", type=float, default=30.0)
    ap.add_argument("--hold", type=float, default=120.0)
    a = ap.parse_args()
    if not (a.addr.startswith("127.") or a.addr == "::1"):
        sys.exit("tcpflood: loopback addresses only")

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    family = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    sel = selectors.DefaultSelector()
    st = {"connected": 0, "banner": 0, "closed": 0, "failed": 0}
    conns = []
    for i in range(a.count):
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            if a.bind:
                s.bind((a.bind, 0))
            s.setblocking(False)
            s.connect_ex((a.addr, a.port))
        except OSError:
            st["failed"] += 1
            s.close()
            continue
        c = {"s": s, "i": i, "up": False, "got": b"", "banner": False,
             "closed": False}
        conns.append(c)
        sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ, c)

    def settled():
        return all(c["closed"] or c["banner"] for c in conns)

    def step(timeout):
        for key, ev in sel.select(timeout):
            c = key.data
            s = c["s"]
            if not c["up"]:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err != 0:
                    st["failed"] += 1
                    c["closed"] = True
                    sel.unregister(s)
                    continue
                c["up"] = True
                st["connected"] += 1
                sel.modify(s, selectors.EVENT_READ, c)
                if a.banner_every > 0 and c["i"] % a.banner_every == 0:
                    try:
                        s.send(b"SSH-2.0-tcpflood_never_kex\r\n")
                    except OSError:
                        pass
                continue
            try:
                data = s.recv(4096)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            except BlockingIOError:
                continue
            if not data:
                c["closed"] = True
                st["closed"] += 1
                sel.unregister(s)
                continue
            # Keep only what is needed to see the identification line.
            if not c["banner"]:
                c["got"] = (c["got"] + data)[:512]
                if b"\n" in c["got"]:
                    c["banner"] = True
                    st["banner"] += 1

    def line():
        return "connected=%d banner=%d closed=%d failed=%d" % (
            st["connected"], st["banner"], st["closed"], st["failed"])

    deadline = time.monotonic() + a.ready_timeout
    while not settled() and time.monotonic() < deadline and not stop:
        step(0.1)
    tmp = a.ready + ".tmp"
    with open(tmp, "w") as f:
        f.write(line() + "\n")
    os.rename(tmp, a.ready)
    st["closed_at_ready"] = st["closed"]
    deadline = time.monotonic() + a.hold
    while not stop and time.monotonic() < deadline:
        step(0.2)
    print(line() + " closed_while_held=%d" % (st["closed"] -
                                                st["closed_at_ready"]))
    sys.stdout.flush()
    for c in conns:
        c["s"].close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
