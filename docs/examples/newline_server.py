"""echo_server.py with one defect a newcomer often writes: every reply ends with a newline."""
import signal
import socketserver
import sys
import threading


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data + b"\n")  # the defect
        except ConnectionResetError:
            pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = False
    request_queue_size = 128


server = Server(("127.0.0.1", int(sys.argv[1])), Echo)
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
with server:
    server.serve_forever()
