"""A thread-per-connection echo server (RFC 862) on 127.0.0.1:PORT, for docs/ci.md."""
import socketserver
import sys


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(65536):
            self.request.sendall(data)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 1024  # the default of 5 drops connections under a storm


with Server(("127.0.0.1", int(sys.argv[1])), Echo) as server:
    server.serve_forever()
