#!/usr/bin/env python3
"""Seed model `selectors`: a single-threaded, non-blocking event loop over the selectors module.
Each connection gets one recv(1024); the data is written back once, then the connection is closed.

Mirrors: seed-python-network-servers.txt, section "Blocking and Polling via Selector" (host =
"localhost", port = 50007; accept_wrapper, service_connection, the `while True` loop), and its
closing list: "You can force a specific selector by changing DefaultSelector to SelectSelector
(select()), PollSelector (poll()), EpollSelector (epoll())". The first argument makes that change.

Seed text, as printed (lines marked [lost] are missing from the scrape and restored; see notes):
    def accept_wrapper(sock):
        conn, addr = sock.accept()
        print('accepted connection from', addr)
        conn.setblocking(False)                                  # [lost; the prose says it is there]
        data = types.SimpleNamespace(addr=addr, inb=b'', outb=BytesIO())
        sel.register(conn, selectors.EVENT_READ, data=data)

    def service_connection(key, mask):
        sock = key.fileobj
        data = key.data                                          # [`key.data` lost]
        if mask & selectors.EVENT_READ:
            try:                                                 # [lost: a line at indent 8]
                recv_data = sock.recv(1024)
                if recv_data:
                    data.outb.write(recv_data)                   # [lost]
                    sel.modify(socket, selectors.EVENT_WRITE, data=data)
            except Exception:                                    # [lost: a line at indent 8]
                print('closing connection to', data.addr)
                sel.unregister(sock)                             # [lost]
                sock.close()                                     # [lost]

        if mask & selectors.EVENT_WRITE:
            print('writing data to ', data.addr)
            sock.sendall(data.outb.getvalue())                   # [lost]
            print('closing connection to', data.addr)
            sel.unregister(sock)                                 # [lost]
            sock.close()                                         # [lost]

    sel = selectors.DefaultSelector()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((host, port))
    lsock.listen()                                               # [lost; "a normal socket bind and listen"]
    print('listening on', (host, port))
    lsock.setblocking(False)                                     # [lost; "set to be non-blocking"]
    sel.register(lsock, selectors.EVENT_READ, data=None)
    while True:
        events = sel.select(timeout=None)                        # [`sel.select(timeout=None)` lost]
        for key, mask in events:
            if key.data is None:                                 # [`key.data` lost]
                accept_wrapper(key.fileobj)                      # [lost]
            else:                                                # [lost]
                service_connection(key, mask)

Reconstruction notes (what the text does not settle, and the choice made):
  * The read branch's indentation shows a lost line at indent 8 before `recv_data = ...` and another
    before `print('closing connection to', ...)` (indent 12). try/except is the only construct that
    fits; the exception class is unknown, `Exception` is used. There is no branch for an empty recv
    (EOF before any data): the text shows none, so a client that connects and closes without sending
    stays registered, readable forever (the loop spins on it and the socket stays in CLOSE_WAIT).
    That behaviour is a consequence of this reconstruction; flag it as such.
  * THE PRINTED TEXT CALLS `sel.modify(socket, ...)` -- the `socket` MODULE, not the connection
    `sock`. selectors raises ValueError("Invalid file object: <module 'socket'>") there, so as
    printed the server never echoes: every message is caught by the except branch, which closes the
    connection without a reply. That is the default here (faithful to the text). The option
    `--fix-modify-typo` passes `sock` instead, the evident intent, so the rest of the model can be
    tested; it is the one deviation beyond port/host, and is off unless given.
  * listen() backlog: the text's call is lost; the realpython guide this code derives from uses
    `lsock.listen()`, i.e. Python's default backlog min(SOMAXCONN, 128).

Behaviour kept on purpose: one recv(1024) per connection, the reply written with sendall, then
close with any unread input (the kernel sends RST); a write-side error (client gone) or an accept()
error (EMFILE) is not caught and ends the server; SelectSelector raises ValueError for descriptors
>= 1024, ending the server (the text itself names select's 1024-socket limit).

Deviations from the seed (and nothing else):
  1. port comes from the command line (`--port N`) instead of 50007.
  2. host is '127.0.0.1' instead of "localhost" (the same address, without a resolver lookup).
  3. the first argument picks the selector class (select|poll|epoll|default), the edit the text
     itself describes; `default` is the text's DefaultSelector (epoll on Linux).
  4. `--fix-modify-typo` (off by default): `sel.modify(sock, ...)` instead of `sel.modify(socket, ...)`.
  5. stdout is line-buffered so the seed's own print() lines reach the runner's log promptly.

Launch: python3 seed-servers/selectors_echo.py {select|poll|epoll|default} --port {port} [--fix-modify-typo]
"""
import socket
import selectors
import sys
import types

from io import BytesIO

SELECTORS = {
    "select": "SelectSelector",
    "poll": "PollSelector",
    "epoll": "EpollSelector",
    "default": "DefaultSelector",
}


def _args():
    args = sys.argv[1:]
    fix = "--fix-modify-typo" in args
    args = [a for a in args if a != "--fix-modify-typo"]
    which, port = None, None
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--port" and i + 1 < len(args):
            port = args[i + 1]
            i += 2
            continue
        if a.startswith("--port="):
            port = a.split("=", 1)[1]
        elif a in SELECTORS and which is None:
            which = a
        elif a.isdigit() and port is None:
            port = a
        else:
            which = None
            break
        i += 1
    if which is None or port is None or not port.isdigit():
        sys.exit("usage: selectors_echo.py {select|poll|epoll|default} --port N [--fix-modify-typo]")
    return which, int(port), fix


WHICH, PORT, FIX_TYPO = _args()
sys.stdout.reconfigure(line_buffering=True)

host = "127.0.0.1"   # seed: "localhost"; deviation 2
port = PORT          # seed: 50007; deviation 1


def accept_wrapper(sock):
    conn, addr = sock.accept()
    print('accepted connection from', addr)
    conn.setblocking(False)
    data = types.SimpleNamespace(addr=addr, inb=b'', outb=BytesIO())
    sel.register(conn, selectors.EVENT_READ, data=data)


def service_connection(key, mask):
    sock = key.fileobj
    data = key.data
    if mask & selectors.EVENT_READ:
        try:
            recv_data = sock.recv(1024)
            if recv_data:
                data.outb.write(recv_data)
                # seed text: sel.modify(socket, ...) -- the module; deviation 4 only with the flag
                sel.modify(sock if FIX_TYPO else socket, selectors.EVENT_WRITE, data=data)
        except Exception:
            print('closing connection to', data.addr)
            sel.unregister(sock)
            sock.close()

    if mask & selectors.EVENT_WRITE:
        print('writing data to ', data.addr)
        sock.sendall(data.outb.getvalue())
        print('closing connection to', data.addr)
        sel.unregister(sock)
        sock.close()


sel = getattr(selectors, SELECTORS[WHICH])()   # deviation 3: the text's "change DefaultSelector to ..."

lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.bind((host, port))
lsock.listen()
print('listening on', (host, port))
lsock.setblocking(False)
sel.register(lsock, selectors.EVENT_READ, data=None)

while True:
    events = sel.select(timeout=None)
    for key, mask in events:
        if key.data is None:
            accept_wrapper(key.fileobj)
        else:
            service_connection(key, mask)
