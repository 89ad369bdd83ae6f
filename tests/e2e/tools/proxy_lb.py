#!/usr/bin/env python3
"""A tiny TCP load balancer for tests: accepts on 127.0.0.1:LISTEN (its
port is written to PORTFILE), connects to 127.0.0.1:TARGET, sends a PROXY
protocol header claiming CLIENT_ADDR:CLIENT_PORT (v1, v2, v2local or
garbage), then relays bytes both ways.  The claimed address is only text
in a header; no traffic goes to it.
usage: proxy_lb.py PORTFILE TARGET {v1,v2,v2local,garbage} CLIENT_ADDR CLIENT_PORT"""
import ipaddress
import socket
import struct
import sys
import threading

portfile, target, mode, caddr, cport = sys.argv[1], int(sys.argv[2]), \
    sys.argv[3], sys.argv[4], int(sys.argv[5])


def header(dst_port):
    ip = ipaddress.ip_address(caddr)
    if mode == "v1":
        fam = "TCP4" if ip.version == 4 else "TCP6"
        dst = "127.0.0.1" if ip.version == 4 else "::1"
        return f"PROXY {fam} {caddr} {dst} {cport} {dst_port}\r\n".encode()
    if mode == "garbage":
        return b"HELLO THERE\r\n"
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    if mode == "v2local":
        return sig + bytes([0x20, 0x00]) + struct.pack("!H", 0)
    if ip.version == 4:
        body = ip.packed + ipaddress.ip_address("127.0.0.1").packed + \
            struct.pack("!HH", cport, dst_port)
        return sig + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body
    body = ip.packed + ipaddress.ip_address("::1").packed + \
        struct.pack("!HH", cport, dst_port)
    return sig + bytes([0x21, 0x21]) + struct.pack("!H", len(body)) + body


def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(client):
    up = socket.create_connection(("127.0.0.1", target))
    up.sendall(header(target))
    threading.Thread(target=pipe, args=(client, up), daemon=True).start()
    threading.Thread(target=pipe, args=(up, client), daemon=True).start()


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(64)
with open(portfile + ".tmp", "w") as f:
    f.write(str(ls.getsockname()[1]))
import os
os.rename(portfile + ".tmp", portfile)
while True:
    c, _ = ls.accept()
    serve(c)
