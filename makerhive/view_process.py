"""The live view in a child process, so that drawing never holds the trading process's GIL.

A rich frame costs milliseconds of GIL (reference/runtime.md §10); at 4 Hz in-process that
shows up as actor latency. The trading process therefore only encodes a ``ViewSnapshot``
(msgspec, microseconds) and hands it to a writer thread; the child decodes and draws.

Wire format on the child's stdin: frames of a 4-byte big-endian length followed by a msgpack
``ViewSnapshot``. Closing stdin tells the child to draw the last frame once more and exit 0.
The child ignores SIGINT: on Ctrl-C the parent sends a final snapshot (``stopping=True``) and
closes the pipe itself.
"""
from __future__ import annotations

import signal

if __name__ == "__main__":  # before the heavy imports: Ctrl-C during start-up must not kill us
    signal.signal(signal.SIGINT, signal.SIG_IGN)

import argparse
import os
import pathlib
import struct
import subprocess
import sys
import threading
import time
from typing import IO, BinaryIO, Iterator

import msgspec

from messages.snapshot import ViewSnapshot

_HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024  # a corrupt length prefix must not make the child allocate GBs
_ROOT = pathlib.Path(__file__).resolve().parents[1]  # holds the makerhive and messages packages


class ViewProcess:
    """Parent side: start the view child and feed it snapshots without ever blocking for long."""

    def __init__(self, fps: float = 4.0, stdout: IO | int | None = None) -> None:
        """``stdout``: where the child draws; None (default) inherits the terminal. Tests pass
        a file to capture what the child drew."""
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps!r}")
        self.fps = float(fps)
        self._stdout = stdout
        self._proc: subprocess.Popen[bytes] | None = None
        self._writer: threading.Thread | None = None
        self._cond = threading.Condition()
        self._pending: ViewSnapshot | None = None  # 1-slot, latest wins
        self._closing = False
        self._broken = False  # the pipe failed: the child is gone
        self._encoder = msgspec.msgpack.Encoder()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._proc is not None:
            raise RuntimeError("ViewProcess already started")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH", "")) if p)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "makerhive.view_process", "--fps", repr(self.fps)],
            stdin=subprocess.PIPE, stdout=self._stdout, stderr=None, env=env, close_fds=True,
        )
        self._writer = threading.Thread(target=self._write_loop, name="view-writer", daemon=True)
        self._writer.start()

    def publish(self, snap: ViewSnapshot) -> None:
        """Hand ``snap`` to the writer thread; replaces a snapshot not yet sent. Never blocks on
        the pipe; silently drops if the child is gone or the view is closing."""
        if not self.alive:
            return
        with self._cond:
            if self._closing:
                return
            self._pending = snap
            self._cond.notify()

    def close(self, timeout: float = 3.0) -> None:
        """Send what is pending, close the child's stdin (it draws the last frame and exits),
        wait up to ``timeout`` seconds, then kill it."""
        proc = self._proc
        if proc is None:
            return
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._writer is not None:
            self._writer.join(max(0.0, deadline - time.monotonic()))
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()  # also unblocks a writer stuck on a full pipe (EPIPE)
            proc.wait()
        if self._writer is not None:
            self._writer.join(1.0)
        self._close_stdin()

    @property
    def alive(self) -> bool:
        return self._proc is not None and not self._broken and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.returncode

    # -- writer thread ------------------------------------------------------------------------
    def _write_loop(self) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        stdin = self._proc.stdin
        while True:
            with self._cond:
                while self._pending is None and not self._closing:
                    self._cond.wait()
                snap, self._pending = self._pending, None
                closing = self._closing
            if snap is not None and not self._broken:
                try:
                    payload = self._encoder.encode(snap)
                except (msgspec.EncodeError, TypeError):
                    payload = None  # not a valid snapshot: skip it, keep the view going
                try:
                    if payload is not None:
                        stdin.write(_HEADER.pack(len(payload)))
                        stdin.write(payload)
                        stdin.flush()
                except (OSError, ValueError):  # BrokenPipeError, or closed under us
                    self._broken = True
            if closing:  # publish() adds nothing once closing: what was pending has been sent
                self._close_stdin()
                return

    def _close_stdin(self) -> None:
        stdin = self._proc.stdin if self._proc is not None else None
        if stdin is None:
            return
        try:
            stdin.close()
        except (OSError, ValueError):
            pass


# -- child side ------------------------------------------------------------------------------
def read_frames(stream: BinaryIO) -> Iterator[bytes]:
    """The payloads of the length-prefixed frames on ``stream``, until EOF (a truncated last
    frame ends the stream too)."""
    while True:
        head = stream.read(_HEADER.size)
        if len(head) < _HEADER.size:
            return
        (n,) = _HEADER.unpack(head)
        if n > MAX_FRAME:
            return
        payload = stream.read(n)
        if len(payload) < n:
            return
        yield payload


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parser = argparse.ArgumentParser(prog="python -m makerhive.view_process")
    parser.add_argument("--fps", type=float, default=4.0)
    args = parser.parse_args(argv)

    from rich.live import Live
    from rich.text import Text

    from makerhive.view import render

    decoder = msgspec.msgpack.Decoder(ViewSnapshot)
    latest: list[ViewSnapshot] = []  # written by the reader loop, read by rich's refresh thread

    def frame():  # RenderableType
        if not latest:
            return Text("makerhive: waiting for the first snapshot…", style="dim")
        try:
            return render(latest[-1])
        except Exception as exc:  # a view bug must not kill the view (or spam a traceback)
            return Text(f"makerhive view: cannot render snapshot: {exc!r}", style="red")

    with Live(get_renderable=frame, refresh_per_second=max(args.fps, 0.1), screen=False,
              transient=False, redirect_stdout=False, redirect_stderr=False) as live:
        for payload in read_frames(sys.stdin.buffer):
            try:
                snap = decoder.decode(payload)
            except msgspec.DecodeError:
                continue
            if latest:
                latest[0] = snap
            else:
                latest.append(snap)
        live.refresh()
    if not live.console.is_terminal:
        live.console.line()  # a file gets the final frame only, and a terminal newline
    return 0


if __name__ == "__main__":
    sys.exit(main())
