#!/usr/bin/env python3
"""tcpprobe.py: a raw TCP client for the front-door tests.

Connects to ADDR PORT (optionally from --bind ADDR), optionally sends an
SSH identification line, then reads until the server closes the
connection or --timeout seconds pass.  Prints one line:

    eof <seconds> <bytes> <local port> <first line received, or "-">
    timeout <seconds> <bytes> <local port> <first line received, or "-">

where <seconds> counts from the moment the connection was established
and <local port> is the probe's own port, as the server logs it.  When
the server sent an SSH_MSG_DISCONNECT before key exchange (so in clear
text), a second line follows:

    disconnect <reason code> <message>

With --ready FILE, the first line received (the server's identification)
is written to FILE as soon as it arrives, so that a test can wait for the
server to have taken the connection while this probe keeps holding it.
Exit status: 0 on eof, 1 on timeout, 2 when the connection failed.
"""
import argparse
import os
import socket
import struct
import sys
import time


def find_disconnect(data):
    """(code, text) of the first clear-text SSH_MSG_DISCONNECT, or None."""
    nl = data.find(b"\n")
    if not data.startswith(b"SSH-") or nl < 0:
        return None
    off = nl + 1
    while off + 5 <= len(data):
        plen, pad = struct.unpack(">IB", data[off:off + 5])
        if plen < 1 + pad or off + 4 + plen > len(data):
            return None
        payload = data[off + 5:off + 4 + plen - pad]
        if payload[:1] == b"\x01" and len(payload) >= 9:
            code, mlen = struct.unpack(">II", payload[1:9])
            return code, payload[9:9 + mlen].decode("utf-8", "replace")
        off += 4 + plen
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("--bind", default=None)
    ap.add_argument("--send-banner", action="store_true")
    ap.add_argument("--ready", default=None)
    ap.add_argument("--timeout", type=float, default=15.0)
    a = ap.parse_args()

    family = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        if a.bind:
            s.bind((a.bind, 0))
        s.settimeout(5)
        s.connect((a.addr, a.port))
    except OSError as e:
        print("connect-failed %s" % e)
        return 2
    start = time.monotonic()
    lport = s.getsockname()[1]
    if a.send_banner:
        s.sendall(b"SSH-2.0-tcpprobe\r\n")
    got = b""
    first = None
    deadline = start + a.timeout
    status = "timeout"
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            status = "eof"
            break
        if not chunk:
            status = "eof"
            break
        got += chunk
        if first is None and b"\n" in got:
            first = got.split(b"\n", 1)[0].rstrip(b"\r").decode(
                "ascii", "replace")
            if a.ready:
                tmp = a.ready + ".tmp"
                with open(tmp, "w") as f:
                    f.write(first + "\n")
                os.rename(tmp, a.ready)
    elapsed = time.monotonic() - start
    s.close()
    print("%s %.2f %d %d %s" % (status, elapsed, len(got), lport,
                                first if first else "-"))
    disc = find_disconnect(got)
    if disc is not None:
        print("disconnect %d %s" % disc)
    sys.stdout.flush()
    return 0 if status == "eof" else 1


if __name__ == "__main__":
    sys.exit(main())
