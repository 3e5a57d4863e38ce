"""A threaded echo server with two planted flaws, for the attribution tests.

- `crash-pair`: it dies (status 1) when clients that sent the word "alpha" and the word "beta" are
  connected at the same time. Either word alone is harmless.
- `wedge`: once any client has sent the word "wedge", it stops answering every other client (their
  bytes are read and dropped) but stays alive and keeps answering the client that wedged it.

Usage: python3 marker_server.py MODE PORT
"""
import os
import socket
import sys
import threading

lock = threading.Lock()
live_words = {}
wedged_by = None


def serve(conn, mode, me):
    global wedged_by
    try:
        while True:
            data = conn.recv(1024)
            if not data:
                break
            with lock:
                if mode == "crash-pair":
                    for word in (b"alpha", b"beta"):
                        if word in data:
                            live_words[me] = word
                    if set(live_words.values()) == {b"alpha", b"beta"}:
                        print("marker_server: alpha and beta at once; exiting", flush=True)
                        os._exit(1)
                if mode == "wedge" and b"wedge" in data and wedged_by is None:
                    wedged_by = me
                answer = wedged_by is None or wedged_by == me
            if answer:
                conn.sendall(data)
    except OSError:
        pass
    with lock:
        live_words.pop(me, None)
    conn.close()


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(128)
    print(f"marker_server {mode} listening on 127.0.0.1:{port}", flush=True)
    # Connections are numbered here: thread idents are reused once a thread ends.
    for number in range(1 << 30):
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, mode, number), daemon=True).start()


main()
