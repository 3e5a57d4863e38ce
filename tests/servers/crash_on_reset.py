"""An echo server that dies when a client resets, in the style of the seed's loop.

The seed's sequential loop has no handler for ConnectionResetError, so the first client that
resets kills the whole server. This one serves each client in a thread (so cases can run side by
side against it) and keeps that flaw: a reset ends the process with status 1.

Usage: python3 crash_on_reset.py PORT
"""
import os
import socket
import sys
import threading


def serve(conn):
    try:
        while True:
            data = conn.recv(1024)
            if not data:
                break
            conn.sendall(data)
    except (ConnectionResetError, BrokenPipeError) as e:
        print(f"crash_on_reset: {e!r}; exiting", flush=True)
        os._exit(1)
    conn.close()


def main():
    port = int(sys.argv[1])
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(128)
    print(f"crash_on_reset listening on 127.0.0.1:{port}", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


main()
