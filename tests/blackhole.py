"""A TCP proxy on a loopback port that forwards, or blackholes: it takes every byte and
answers nothing, as a link whose far end vanished does."""

from __future__ import annotations

import socket
import threading


class BlackholeProxy:
    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.blackhole = False
        self._stop = threading.Event()
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def __enter__(self) -> BlackholeProxy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def cut(self) -> None:
        """From now on, swallow everything, on old and new connections alike."""
        self.blackhole = True

    def restore(self) -> None:
        """Forward again; the connections caught in the blackhole are reset."""
        self.blackhole = False
        self._drop_clients()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()
        self._drop_clients()

    def _drop_clients(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            client.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _addr = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._clients.append(client)
            upstream = None
            if not self.blackhole:
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                except OSError:
                    client.close()
                    continue
                with self._lock:
                    self._clients.append(upstream)
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            if upstream is not None:
                threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket | None) -> None:
        source.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            if self.blackhole or sink is None:
                continue  # swallowed
            try:
                sink.sendall(data)
            except OSError:
                return
