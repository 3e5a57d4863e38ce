#!/usr/bin/env python3
"""Seed model `loop`: the basic server in a `while True` accept loop, one recv(1024) per client.

Mirrors: seed-python-network-servers.txt, section "Socket Server", the first program ("Now we could
make some modifications to have it continually serve connections", PORT = 9999).

Seed text, as printed (the scrape lost three lines; restored as marked):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, PORT))
        s.listen(1)                      # [lost; restored from the Basic Server it modifies]
        while True:
            conn, addr = s.accept()
            print('Connected by', addr)
            with conn:
                data = conn.recv(1024).strip()
                print("{} wrote:".format(addr))
                print(data)              # [lost; as in the socketserver example it imitates]
                conn.sendall(data)       # [lost; "# Echo server program": the reply is the data]

Reconstruction notes: the listen backlog is not in the text. We keep the `s.listen(1)` of the Basic
Server this program is "modifications" of; the Python docs' socketserver default would be 5. The
reply line is not in the text either; the program is headed "# Echo server program", so it sends back
`data`, i.e. the received bytes after `.strip()` (which IS in the text, and is kept).

Deviations from the seed (and nothing else):
  1. PORT comes from the command line (`--port N`, or a bare positional N) instead of 9999.
  2. HOST is '127.0.0.1' (loopback only) instead of '' (all interfaces).
  3. stdout is line-buffered so the seed's own print() lines reach the runner's log promptly.
Kept on purpose: one recv(1024) then close (unread input is discarded: the kernel sends RST); the
`.strip()` of leading/trailing ASCII whitespace; no SO_REUSEADDR; no try/except, so a client whose
reset arrives before recv() (ConnectionResetError) ends the whole server with status 1.

Launch: python3 seed-servers/loop.py --port {port}
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
        sys.exit("usage: loop.py --port N")
    return int(args[0])


sys.stdout.reconfigure(line_buffering=True)

# Echo server program
HOST = '127.0.0.1'     # seed: '' (all interfaces); deviation 2
PORT = _port()         # seed: 9999; deviation 1
with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind((HOST, PORT))
    s.listen(1)
    while True:
        conn, addr = s.accept()
        print('Connected by', addr)
        with conn:
            data = conn.recv(1024).strip()
            print("{} wrote:".format(addr))
            print(data)
            conn.sendall(data)
