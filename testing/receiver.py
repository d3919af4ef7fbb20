"""A real HTTP server on loopback that records every webhook POST and answers as told (or misbehaves)."""

import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """How to answer one request: a status, headers and body, after ``delay`` seconds; ``close``: hang up instead."""

    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0
    close: bool = False
    stream: int = 0  # send this many bytes of body (in 64 KiB chunks) instead of ``body``


CLOSE = Reply(close=True)


@dataclass
class Received:
    """One request as it arrived (recorded before it is answered)."""

    headers: dict
    body: bytes
    path: str
    at: float = field(default_factory=time.time)

    @property
    def id(self):
        return self.headers.get("webhook-id")


class Receiver:
    """``Receiver().start()``; ``answer(Reply(500), Reply(500))`` queues answers (then ``default``); ``received``."""

    def __init__(self):
        self.received = []
        self.script = deque()
        self.default = Reply()
        self.lock = threading.Lock()
        self.streamed = 0  # bytes of streamed bodies the server managed to send
        self.arrived = threading.Event()

    def answer(self, *replies):
        with self.lock:
            self.script.extend(replies)
        return self

    def _next(self, received):
        with self.lock:
            self.received.append(received)
            self.arrived.set()
            return self.script.popleft() if self.script else self.default

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                # Headers and body are two writes: without this, Nagle holds the body for the client's delayed ACK.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = receiver._next(Received(headers, body, self.path))
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.close:
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                size = reply.stream or len(reply.body)
                self.send_header("content-length", str(size))
                self.end_headers()
                if not reply.stream:
                    try:
                        self.wfile.write(reply.body)
                    except OSError:
                        self.close_connection = True  # the client gave up first (its read timeout): as scripted
                    return
                chunk = b"x" * 65536
                try:
                    while receiver.streamed < reply.stream:
                        self.wfile.write(chunk)
                        receiver.streamed += len(chunk)
                except OSError:
                    self.close_connection = True  # the client stopped reading and hung up

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        return self

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def ids(self):
        """The webhook-id of each request, in arrival order."""
        return [r.id for r in self.received]
