#!/usr/bin/env python3
"""Seed model `threading`: socketserver with one thread per connection; the reply is prefixed with the
handling thread's name.

Mirrors: seed-python-network-servers.txt, section "A Thread Story or GIL Steals Your Lunch Money"
(ThreadedTCPRequestHandler; HOST, PORT = "localhost", 50007), which is the Python documentation's
"Asynchronous Mixins" example.

Seed text, as printed (restored lines marked; the scrape dropped `cur_thread.name` from the format call):
    class ThreadedTCPRequestHandler(socketserver.BaseRequestHandler):
        def handle(self):
            print("{} wrote:".format(self.client_address[0]))
            data = str(self.request.recv(1024), 'ascii')
            cur_thread = threading.current_thread()
            response = bytes("{}: {}".format(cur_thread.name, data), 'ascii')
            self.request.sendall(response)                      # [lost; restored]

    if __name__ == "__main__":
        HOST, PORT = "localhost", 50007
        server = socketserver.ThreadedTCPServer((HOST, PORT), ThreadedTCPRequestHandler)
        with server:                                            # [lost; restored]
            server.serve_forever()                              # [lost; restored]

`socketserver.ThreadedTCPServer` does not exist (AttributeError at start-up); the text means the
standard library's `socketserver.ThreadingTCPServer` (ThreadingMixIn + TCPServer), which is what the
docs example defines under its own name. That name fix is needed for the program to run at all.

What a client observes, all from the seed and the standard library:
  * the reply is `<thread name>: <data>`. On Python >= 3.10 a thread created with a target is named
    `Thread-N (process_request_thread)`, so replies look like `Thread-7 (process_request_thread): hi`
    (on Python <= 3.9 it was `Thread-7: hi`). Pass the kit a prefix regex that matches this.
  * one recv(1024), one reply, then shutdown(SHUT_WR) + close (TCPServer.shutdown_request); unread
    input is discarded (the kernel sends RST).
  * `str(..., 'ascii')` raises UnicodeDecodeError on any byte >= 0x80: the handler's thread prints a
    traceback (handle_error) and the connection is closed with no reply. The server lives on.
  * listen backlog 5 (request_queue_size), no SO_REUSEADDR, non-daemon threads (daemon_threads False,
    block_on_close True).

Deviations from the seed (and nothing else):
  1. PORT comes from the command line (`--port N`, or a bare positional N) instead of 50007.
  2. HOST is '127.0.0.1' instead of "localhost" (the same address, without a resolver lookup).
  3. `socketserver.ThreadedTCPServer` -> `socketserver.ThreadingTCPServer` (see above).
  4. stdout is line-buffered so the seed's own print() lines reach the runner's log promptly.

Launch: python3 seed-servers/threading_server.py --port {port}
"""
import socketserver
import sys
import threading


def _port():
    args = sys.argv[1:]
    if args[:1] == ["--port"]:
        args = args[1:]
    elif args and args[0].startswith("--port="):
        args = [args[0].split("=", 1)[1]]
    if len(args) != 1 or not args[0].isdigit():
        sys.exit("usage: threading_server.py --port N")
    return int(args[0])


class ThreadedTCPRequestHandler(socketserver.BaseRequestHandler):

    def handle(self):
        print("{} wrote:".format(self.client_address[0]))
        data = str(self.request.recv(1024), 'ascii')
        cur_thread = threading.current_thread()
        response = bytes("{}: {}".format(cur_thread.name, data), 'ascii')
        self.request.sendall(response)


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    # Port 0 means to select an arbitrary unused port
    HOST, PORT = "127.0.0.1", _port()   # seed: "localhost", 50007; deviations 1 and 2

    server = socketserver.ThreadingTCPServer((HOST, PORT), ThreadedTCPRequestHandler)  # deviation 3
    with server:
        server.serve_forever()
