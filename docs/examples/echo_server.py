"""An RFC 862 echo server: a thread per connection on 127.0.0.1:PORT (python3 echo_server.py PORT).

The three lines a textbook socketserver echo lacks are marked: each is a case echo-conform checks.
"""
import signal
import socketserver
import sys
import threading


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
        except ConnectionResetError:  # a client that resets must not end the server's thread noisily
            pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # restart on the same port while old connections linger
    daemon_threads = False  # on exit, wait for the connections in flight
    request_queue_size = 128  # the default of 5 drops clients that connect at once


server = Server(("127.0.0.1", int(sys.argv[1])), Echo)
# SIGTERM: stop accepting, let the connections in flight finish, exit 0.
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
with server:
    server.serve_forever()
