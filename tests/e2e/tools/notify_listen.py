#!/usr/bin/env python3
"""Stands in for systemd's notification socket: binds a unix datagram
socket at argv[1] and appends every message it receives, one per line
(newlines inside a message become '|'), to argv[2].  Runs until killed."""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "a", buffering=1) as f:
    while True:
        data = s.recv(4096)
        f.write(data.decode(errors="replace").replace("\n", "|") + "\n")
