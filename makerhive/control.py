"""The operator's line into a running hive: a Unix socket in the run directory.

``makerhive unquarantine ASSET`` (or ``status``) connects, sends one line, and prints
the one-line JSON answer. The server runs on a small thread of the running process and
only forwards commands to the meta-supervisor as messages.
"""
from __future__ import annotations

import json
import os
import socket
import socketserver
import threading
from pathlib import Path
from typing import Callable

SOCKET_NAME = "makerhive.sock"


def socket_path(journal_dir: str) -> Path:
    return Path(journal_dir) / SOCKET_NAME


class ControlServer:
    def __init__(self, path: Path, handle: Callable[[list[str]], dict]) -> None:
        self.path = path
        self._handle = handle
        self._server: socketserver.UnixStreamServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            if _alive(self.path):
                raise RuntimeError(f"another makerhive is running here ({self.path})")
            self.path.unlink()
        handle = self._handle

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                line = self.rfile.readline(4096).decode(errors="replace").strip()
                try:
                    answer = handle(line.split())
                except Exception as e:  # the operator sees what went wrong
                    answer = {"ok": False, "error": repr(e)}
                self.wfile.write((json.dumps(answer) + "\n").encode())

        self._server = socketserver.ThreadingUnixStreamServer(str(self.path), Handler)
        self._server.daemon_threads = True
        os.chmod(self.path, 0o600)  # only this user may steer the hive
        self._thread = threading.Thread(target=self._server.serve_forever, name="control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def _alive(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            s.connect(str(path))
        return True
    except OSError:
        return False


def send(path: Path, words: list[str], timeout: float = 10.0) -> dict:
    """Send one command to a running hive; its answer as a dict."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall((" ".join(words) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data.decode())
