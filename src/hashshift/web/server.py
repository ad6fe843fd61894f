"""Run the dashboard in a background thread (tests, notebooks): a real uvicorn server on a free
loopback port.

    with BackgroundServer(create_app()) as srv:
        httpx.get(srv.url + "/api/limits")
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

__all__ = ["BackgroundServer", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class BackgroundServer:
    """uvicorn serving ``app`` on ``host``:``port`` (a free port by default) in a daemon thread;
    ``url`` is its base URL. Stops on exit from the ``with`` block."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int | None = None,
                 start_timeout_s: float = 30.0):
        import uvicorn

        self.host = host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        self._timeout = start_timeout_s
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning",
                                access_log=False, lifespan="on", server_header=False)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, name="hashshift-web",
                                        daemon=True)

    def start(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + self._timeout
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the web server did not start on {self.url}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the web server did not start within {self._timeout} s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
