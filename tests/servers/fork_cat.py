"""A fork-per-connection echo server whose children run `cat`, the oldest echo server there is.

Each accepted connection is handed to a child process that makes the socket its standard input
and output and executes `cat`, which copies everything it reads back until the client closes.
The parent reaps its children as they end.

Usage: python3 fork_cat.py PORT
"""
import os
import signal
import socket
import sys


def main():
    port = int(sys.argv[1])
    # Children are reaped by the kernel: no zombies, no SIGCHLD handler racing accept().
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(128)
    print(f"fork_cat listening on 127.0.0.1:{port}", flush=True)
    while True:
        conn, _ = srv.accept()
        if os.fork() == 0:
            srv.close()
            os.dup2(conn.fileno(), 0)
            os.dup2(conn.fileno(), 1)
            conn.close()
            os.execvp("cat", ["cat"])
        conn.close()


main()
