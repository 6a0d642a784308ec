"""One line for why a WebSocket session ended, for logs and events (shared by clients)."""
from __future__ import annotations

import trio
from trio_websocket import ConnectionClosed, HandshakeError


def describe(e: BaseException) -> str:
    if isinstance(e, HandshakeError) and e.__cause__ is not None:
        return f"{type(e).__name__}: {e.__cause__}"
    if isinstance(e, ConnectionClosed):
        return f"connection closed ({e.reason})"
    if isinstance(e, trio.TooSlowError):
        return "connect timed out (TooSlowError)"
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
