"""An ASGI app on a socket of its own, served by uvicorn (httptools and uvloop where installed):
`serve_forever()` in the foreground, or `start()` in a thread (tests, embedding) and `shutdown()`.
The gateway and the web app both serve this way."""

from __future__ import annotations

import importlib.util
import socket
import threading
import time

from . import idle
from .errors import need_extra


class Server:
    what = "serving HTTP"  # who needs uvicorn, in the one line that says it is missing

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, lifespan: str = "off"):
        need_extra("web", self.what, "uvicorn")
        import uvicorn

        idle.few_arenas()  # before its threads start: a long-lived server gives idle memory back

        if not 0 <= port <= 65535:
            raise OSError(f"port {port} is not between 0 and 65535")
        self.app = app
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host, port))
            self.socket.listen(2048)
        except OSError:
            self.socket.close()
            raise
        self.server_address = self.socket.getsockname()
        loop = "uvloop" if _has("uvloop") else "asyncio"
        http = "httptools" if _has("httptools") else "h11"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, lifespan=lifespan, access_log=False, log_level="warning", loop=loop, http=http, timeout_keep_alive=30, backlog=2048
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    def serve_forever(self) -> None:
        self.server.run(sockets=[self.socket])

    def serve_until_interrupted(self) -> None:
        """The foreground server of a command: Ctrl-C ends it quietly and frees the socket."""
        try:
            self.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.server_close()

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.serve_forever, name="tether-server", daemon=True)
        self._thread.start()
        while not self.server.started and self._thread.is_alive():
            time.sleep(0.005)
        return self._thread

    def shutdown(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)

    def server_close(self) -> None:
        self.socket.close()


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
