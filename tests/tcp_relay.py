"""A TCP relay in front of a real server, for tests of what crosses the wire: it counts the
connections clients open through it and can cut every answer short after a number of bytes
(a connection lost in the middle of a body)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from urllib.parse import urlsplit


class Relay:
    """Relays ``127.0.0.1:<port>`` to the server at ``target_url``; use it as a context."""

    def __init__(self, target_url: str, *, cut_after: int | None = None) -> None:
        parts = urlsplit(target_url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._cut_after = cut_after
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.connections = 0
        """How many connections clients opened so far."""

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Relay:
        self._start(self._accept)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _start(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            server = socket.create_connection(self._target)
            with self._lock:
                self.connections += 1
                self._sockets += [client, server]
            self._start(self._pump, client, server, None)
            self._start(self._pump, server, client, self._cut_after)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while limit is None or sent < limit:
                data = source.recv(65536)
                if not data:
                    break
                if limit is not None:
                    data = data[: limit - sent]
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for sock in (source, sink):  # one side ended (or the cut came): both end
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
