"""Echo servers that are hostile to the kit rather than to clients: each serves a correct echo
but does something the runner must survive with a clear grade, a bounded run time and bounded
memory, leaving nothing behind.

Usage: python3 hostile_to_the_kit.py MODE PORT, MODE one of
  chatty       writes to stdout and stderr without pause, as fast as the pipes take it
  escapes      prints invalid UTF-8, terminal escape sequences, HTML, a CDATA end and TAP lines,
               then exits 1 on its first
               connection (so that output is shown as the evidence of its death)
  forks        forks 1000 children that sleep, then serves
  firehose     answers every connection with an endless stream of bytes
  no-stdio     closes stdin, stdout and stderr, then serves
  renamed      changes its process name, then serves
  child-binds  a child binds and serves; the launched parent exits 0 at once
"""
import ctypes
import os
import socket
import sys
import threading
import time


def echo(conn):
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            conn.sendall(data)


def firehose(conn):
    block = b"x" * 65536
    with conn:
        try:
            while True:
                conn.sendall(block)
        except OSError:
            pass


def serve(port, handler=echo, announce=True):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(128)
    if announce:
        print(f"listening on 127.0.0.1:{port}", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handler, args=(conn,), daemon=True).start()


def chatter(stream):
    line = b"chatty: " + b"blah " * 200 + b"\n"
    while True:
        try:
            stream.write(line)
        except OSError:
            time.sleep(0.1)


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "chatty":
        for s in (sys.stdout.buffer, sys.stderr.buffer):
            threading.Thread(target=chatter, args=(s,), daemon=True).start()
        serve(port)
    elif mode == "escapes":
        sys.stdout.buffer.write(b"bad utf-8: \xff\xfe\xc3\x28 escapes: \x1b[2J\x1b[31mRED\x1b]0;title\x07 bell\x07\n")
        # Text that would break a report that pasted it raw: HTML, JUnit's CDATA, a TAP line.
        sys.stdout.buffer.write(b"</pre><script>alert('pwned')</script> ]]> <![CDATA[ &amp;\n")
        sys.stdout.buffer.write(b"not ok 1 - forged by the server\nok 2 - forged too\n")
        sys.stdout.flush()
        serve(port, handler=lambda conn: os._exit(1))
    elif mode == "forks":
        for _ in range(1000):
            if os.fork() == 0:
                time.sleep(3600)
                os._exit(0)
        serve(port)
    elif mode == "firehose":
        serve(port, handler=firehose)
    elif mode == "no-stdio":
        print(f"closing stdio; serving on 127.0.0.1:{port}", flush=True)
        for fd in (0, 1, 2):
            os.close(fd)
        serve(port, announce=False)
    elif mode == "renamed":
        libc = ctypes.CDLL(None)
        libc.prctl(15, b"totally-not-echo", 0, 0, 0)  # PR_SET_NAME
        serve(port)
    elif mode == "child-binds":
        if os.fork() == 0:
            serve(port)
        os._exit(0)
    else:
        sys.exit(f"unknown mode {mode}")


main()
