#!/usr/bin/env python3
"""Seed model `prefork`: 20 multiprocessing workers all calling accept() on one listening socket.

Mirrors: seed-python-network-servers.txt, section "Multiprocessing" (the heading itself was lost in
the scrape; the program with `num_workers = 20` and `# With modifications for echo server`).

Seed text, as printed (restored lines marked; the program is the well-known multiprocessing
pre-fork gist -- `client.send("OK")`, `bind(('', 9090))`, `listen(5)` -- "with modifications for
echo server": the recv(1024) line is the visible modification):
    logger = mp.log_to_stderr(logging.DEBUG)

    # With modifications for echo server
    def worker(socket):
        while True:
            client, address = socket.accept()
            data = client.recv(1024)
            logger.debug("{u} connected".format(u=address))
            client.send(data)                    # [lost; the gist's client.send("OK") with data]
            client.close()                       # [lost; as in the gist]
    if __name__ == '__main__':
        num_workers = 20

        serversocket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        serversocket.bind(('', 9090))            # [lost; as in the gist]
        serversocket.listen(5)                   # [lost; as in the gist]

        workers = [mp.Process(target=worker, args=(serversocket,)) for i in
                range(num_workers)]              # [second line lost]

        for p in workers:
            p.daemon = True
            p.start()                            # [lost]

        while True:
            try:                                 # [lost]
                time.sleep(10)                   # [lost]
            except:                              # [lost]
                break                            # [lost]

Reconstruction notes: the backlog (5), the port line and the reply line are not in the text; they are
taken from the gist the code is a modification of. `client.send(data)` (not sendall) as in the gist;
for replies <= 1024 B on loopback the two are indistinguishable to a client.

Behaviour kept on purpose: each worker serves one recv(1024), one reply, close (unread input ->
the kernel sends RST); a worker has no try/except, so a client reset that makes recv()/send() raise
(ConnectionResetError / BrokenPipeError) kills that worker for good -- the parent never restarts
workers and never notices, so the pool shrinks and, after 20 such deaths, connections are queued by
the kernel and never accepted. Workers are fork()ed (Linux default start method) daemon processes;
the parent sleeps. No SO_REUSEADDR. multiprocessing's DEBUG logging goes to stderr.

Deviations from the seed (and nothing else):
  1. PORT comes from the command line (`--port N`, or a bare positional N) instead of 9090.
  2. HOST is '127.0.0.1' (loopback only) instead of '' (all interfaces).

Launch: python3 seed-servers/prefork.py --port {port}
"""
import multiprocessing as mp
import logging
import socket
import sys
import time


def _port():
    args = sys.argv[1:]
    if args[:1] == ["--port"]:
        args = args[1:]
    elif args and args[0].startswith("--port="):
        args = [args[0].split("=", 1)[1]]
    if len(args) != 1 or not args[0].isdigit():
        sys.exit("usage: prefork.py --port N")
    return int(args[0])


logger = mp.log_to_stderr(logging.DEBUG)


# With modifications for echo server
def worker(socket):
    while True:
        client, address = socket.accept()
        data = client.recv(1024)
        logger.debug("{u} connected".format(u=address))
        client.send(data)
        client.close()


if __name__ == '__main__':
    PORT = _port()   # seed: 9090; deviation 1
    num_workers = 20

    serversocket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    serversocket.bind(('127.0.0.1', PORT))   # seed: ('', 9090); deviations 1 and 2
    serversocket.listen(5)

    workers = [mp.Process(target=worker, args=(serversocket,)) for i in
               range(num_workers)]

    for p in workers:
        p.daemon = True
        p.start()

    while True:
        try:
            time.sleep(10)
        except:
            break
