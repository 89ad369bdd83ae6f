#!/usr/bin/env python3
"""Starts a program the way systemd socket activation does: binds and
listens on ADDR:PORT, passes the socket as fd 3 with LISTEN_FDS=1 and
LISTEN_PID set to the program's own pid, then execs it.
usage: socket_activate.py ADDR PORT PROGRAM [ARGS...]"""
import os
import socket
import sys

addr, port, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(128)
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())  # exec keeps the pid
os.execvp(argv[0], argv)
