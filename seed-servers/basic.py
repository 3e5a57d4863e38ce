#!/usr/bin/env python3
"""Seed model `basic`: one connection, echo until the client closes, then exit.

Mirrors: seed-python-network-servers.txt, section "Basic Server", the program headed
"# Echo server program" (the Python documentation's echo server, PORT = 50007).

Seed text, as printed (the scrape lost two lines, restored here from the Python documentation the
section quotes; the scrape of the same page keeps `s.listen(1)`):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, PORT))
        s.listen(1)                      # [lost in the scrape; restored]
        conn, addr = s.accept()
        with conn:
            print('Connected by', addr)
            while True:
                data = conn.recv(1024)
                if not data: break
                conn.sendall(data)       # [lost in the scrape; restored]

Deviations from the seed (and nothing else):
  1. PORT comes from the command line (`--port N`, or a bare positional N) instead of 50007.
  2. HOST is '127.0.0.1' (loopback only) instead of '' (all interfaces).
  3. stdout is line-buffered so the seed's own print() lines reach the runner's log promptly.
Kept on purpose: listen(1); recv(1024); no SO_REUSEADDR; a client reset raises ConnectionResetError
out of recv and ends the program with a traceback and status 1, as the seed would.

Launch: python3 seed-servers/basic.py --port {port}
"""
import socket
import sys


def _port():
    args = sys.argv[1:]
    if args[:1] == ["--port"]:
        args = args[1:]
    elif args and args[0].startswith("--port="):
        args = [args[0].split("=", 1)[1]]
    if len(args) != 1 or not args[0].isdigit():
        sys.exit("usage: basic.py --port N")
    return int(args[0])


sys.stdout.reconfigure(line_buffering=True)

# Echo server program
HOST = '127.0.0.1'        # seed: '' (all interfaces); deviation 2
PORT = _port()            # seed: 50007; deviation 1
with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind((HOST, PORT))
    s.listen(1)
    conn, addr = s.accept()
    with conn:
        print('Connected by', addr)
        while True:
            data = conn.recv(1024)
            if not data: break
            conn.sendall(data)
