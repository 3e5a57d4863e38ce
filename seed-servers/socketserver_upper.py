#!/usr/bin/env python3
"""Seed model `socketserver`: socketserver.TCPServer with a handler that upper-cases one message.

Mirrors: seed-python-network-servers.txt, section "Socket Server", the second program
("The python docs also have an example for a socket server", MyTCPHandler, HOST, PORT =
"localhost", 9999).

Seed text, as printed (the scrape lost or merged lines; restored from the Python documentation's
socketserver.TCPServer example, which the section says it quotes):
    class MyTCPHandler(socketserver.BaseRequestHandler):
        def handle(self):
            # self.request is the TCP socket connected to the client
            self.data = self.request.recv(1024).strip()     # [merged into the comment by the scrape]
            print("{} wrote:".format(self.client_address[0]))
            print(self.data)                                # [lost; restored]
            # just send back the same data, but upper-cased
            self.request.sendall(self.data.upper())         # [lost; restored]

    if __name__ == "__main__":
        HOST, PORT = "localhost", 9999
        with socketserver.TCPServer((HOST, PORT), MyTCPHandler) as server:
            server.serve_forever()                          # [lost; restored]

Behaviour that comes from the standard library, unchanged: listen backlog = TCPServer's
request_queue_size (5); allow_reuse_address = False (no SO_REUSEADDR); after handle() the server
calls shutdown(SHUT_WR) then close() on the connection (socketserver.TCPServer.shutdown_request);
an exception in handle() is printed by handle_error() and the server goes on; one connection at a
time (no mixin).

Deviations from the seed (and nothing else):
  1. PORT comes from the command line (`--port N`, or a bare positional N) instead of 9999.
  2. HOST is '127.0.0.1' instead of "localhost" (the same address, without a resolver lookup).
  3. stdout is line-buffered so the seed's own print() lines reach the runner's log promptly.
Kept on purpose: recv(1024) once; `.strip()`; `.upper()` (ASCII letters only, bytes.upper); close
with any unread input (the kernel sends RST).

Launch: python3 seed-servers/socketserver_upper.py --port {port}
"""
import socketserver
import sys


def _port():
    args = sys.argv[1:]
    if args[:1] == ["--port"]:
        args = args[1:]
    elif args and args[0].startswith("--port="):
        args = [args[0].split("=", 1)[1]]
    if len(args) != 1 or not args[0].isdigit():
        sys.exit("usage: socketserver_upper.py --port N")
    return int(args[0])


class MyTCPHandler(socketserver.BaseRequestHandler):
    """
    The request handler class for our server.

    It is instantiated once per connection to the server, and must
    override the handle() method to implement communication to the
    client.
    """

    def handle(self):
        # self.request is the TCP socket connected to the client
        self.data = self.request.recv(1024).strip()
        print("{} wrote:".format(self.client_address[0]))
        print(self.data)
        # just send back the same data, but upper-cased
        self.request.sendall(self.data.upper())


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    HOST, PORT = "127.0.0.1", _port()   # seed: "localhost", 9999; deviations 1 and 2

    # Create the server, binding to localhost on port 9999
    with socketserver.TCPServer((HOST, PORT), MyTCPHandler) as server:
        # Activate the server; this will keep running until you
        # interrupt the program with Ctrl-C
        server.serve_forever()
