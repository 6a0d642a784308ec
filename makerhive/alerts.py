"""Opt-in webhook alerts ([alerts]): Discord, Slack and Telegram, off the hot path.

The board hands every event to ``Alerter.event`` (one ``put_nowait``: never blocks;
a full queue counts the drop). One sender thread picks the events worth an alert
(``alerts.kinds``, and anything about the dead-man's switch), holds back repeats of one
kind and asset for ``min_interval_s`` (the next message says how many were held back),
caps messages per minute, and posts to every channel with retries (backoff, and a 429's
Retry-After). A PnL digest goes out every ``digest_every_s`` and at the end of the run.
Webhook URLs and tokens are secrets: logs name the channel, never the URL.
"""
from __future__ import annotations

import collections
import contextlib
import logging
import os
import queue
import threading
import time
import typing
from typing import Any, Callable

import httpx

from config.schema import AlertsConfig, ConfigError
from messages.control import EventKind

log = logging.getLogger(__name__)

EVENT_KINDS = typing.get_args(EventKind)
MAX_TEXT = 1900  # Discord's limit is 2000 characters a message


def check(cfg: AlertsConfig) -> None:
    """What the config's types cannot say: the kinds must be event kinds; an enabled
    section needs at least one channel."""
    unknown = [k for k in cfg.kinds if k not in EVENT_KINDS]
    if unknown:
        raise ConfigError(f"alerts.kinds = {unknown}: must be event kinds among {list(EVENT_KINDS)}")
    if cfg.enabled and not channels(cfg):
        raise ConfigError("alerts.enabled = true: no channel; set alerts.discord_url, alerts.slack_url or "
                          "alerts.telegram_chat_id (or MAKERHIVE_DISCORD_URL / MAKERHIVE_SLACK_URL / "
                          "MAKERHIVE_TELEGRAM_TOKEN with telegram_chat_id)")


class Channel(typing.NamedTuple):
    name: str  # what logs may say
    url: str  # a secret
    body: Callable[[str], dict]


def channels(cfg: AlertsConfig, env: typing.Mapping[str, str] | None = None) -> list[Channel]:
    env = os.environ if env is None else env
    out = []
    discord = cfg.discord_url or env.get("MAKERHIVE_DISCORD_URL", "")
    if discord:
        out.append(Channel("discord", discord, lambda text: {"content": text[:MAX_TEXT]}))
    slack = cfg.slack_url or env.get("MAKERHIVE_SLACK_URL", "")
    if slack:
        out.append(Channel("slack", slack, lambda text: {"text": text[:MAX_TEXT]}))
    token = env.get("MAKERHIVE_TELEGRAM_TOKEN", "")
    if cfg.telegram_chat_id and token:
        chat = cfg.telegram_chat_id
        out.append(Channel("telegram", f"{cfg.telegram_api.rstrip('/')}/bot{token}/sendMessage",
                           lambda text: {"chat_id": chat, "text": text[:MAX_TEXT]}))
    return out


class Alerter:
    def __init__(self, cfg: AlertsConfig, *, digest: Callable[[], str] | None = None, name: str = "makerhive",
                 env: typing.Mapping[str, str] | None = None, queue_size: int = 1000) -> None:
        self.cfg = cfg
        self.name = name
        self.digest = digest
        self.channels = channels(cfg, env)
        self.dropped = 0  # events the queue had no room for
        self.sent = 0  # messages delivered (per channel)
        self.failed = 0  # messages given up on (per channel)
        self.held = 0  # alerts held back by the rate limits
        self._q: queue.Queue = queue.Queue(maxsize=queue_size)
        self._last: dict[tuple[str, str], float] = {}  # (kind, asset) -> when last sent
        self._pending: collections.Counter[tuple[str, str]] = collections.Counter()  # held back since
        self._window: collections.deque[float] = collections.deque()  # send times in the last minute
        self._over_cap = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._client = httpx.Client(timeout=cfg.timeout_s)
        self._redact = _Redact([c.url for c in self.channels])
        for name in ("httpx", "httpcore"):  # httpx logs every request's URL at INFO
            logging.getLogger(name).addFilter(self._redact)

    # -- producers: any thread, never block ---------------------------------------------------
    def event(self, ts: float, kind: str, asset: str, text: str) -> None:
        if kind in self.cfg.kinds or "dead-man" in text:
            try:
                self._q.put_nowait((kind, asset, text))
            except queue.Full:
                self.dropped += 1

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "Alerter":
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)
        self._thread.start()
        return self

    def close(self, final: str | None = None, timeout: float = 10.0) -> None:
        """Send what is queued (and ``final``, e.g. the run's last digest) within
        ``timeout``; then stop, giving up on whatever is left."""
        if self._thread is None:
            return
        while True:
            try:
                self._q.put_nowait(("__final__", "", final or ""))
                break
            except queue.Full:  # a backlog: the last word matters more than the oldest
                with contextlib.suppress(queue.Empty):
                    self._q.get_nowait()
                    self.dropped += 1
        self._thread.join(timeout)
        self._stop.set()  # ends retry waits and the loop
        self._thread.join(self.cfg.timeout_s + 1.0)
        self._thread = None
        self._client.close()
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).removeFilter(self._redact)

    # -- the sender -------------------------------------------------------------------------------
    def _run(self) -> None:
        every = self.cfg.digest_every_s
        next_digest = time.monotonic() + every if every > 0 else float("inf")
        while not self._stop.is_set():
            try:
                item = self._q.get(timeout=min(1.0, max(0.01, next_digest - time.monotonic())))
            except queue.Empty:
                item = None
            try:
                if item is not None and item[0] == "__final__":
                    self._flush_held(float("inf"))
                    if item[2]:
                        self._send(item[2], force=True)
                    return
                if item is not None:
                    self._on_event(*item)
                now = time.monotonic()
                self._flush_held(now)
                if now >= next_digest:
                    next_digest = now + every
                    if self.digest is not None:
                        self._send(self.digest())
            except Exception:
                log.exception("alerts: sender failed on one message; going on")

    def _on_event(self, kind: str, asset: str, text: str) -> None:
        key, now = (kind, asset), time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.cfg.min_interval_s:
            self._pending[key] += 1
            self.held += 1
            return
        more = self._pending.pop(key, 0)
        self._last[key] = now
        suffix = f" (+{more} more since the last alert)" if more else ""
        self._send(f"[{self.name}] {kind.upper()} {asset}: {text}{suffix}")

    def _flush_held(self, now: float) -> None:
        """Repeats held back past their interval go out as one line with their count."""
        for key in [k for k in self._pending if now - self._last.get(k, 0.0) >= self.cfg.min_interval_s]:
            n = self._pending.pop(key)
            self._last[key] = now
            self._send(f"[{self.name}] {key[0].upper()} {key[1]}: {n} more since the last alert")

    def _send(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        while self._window and now - self._window[0] > 60.0:
            self._window.popleft()
        if not force and len(self._window) >= self.cfg.max_per_minute:
            self._over_cap += 1
            self.held += 1
            return
        if self._over_cap:
            text = f"{text}\n({self._over_cap} alert(s) not sent: more than {self.cfg.max_per_minute} a minute)"
            self._over_cap = 0
        self._window.append(now)
        for ch in self.channels:
            if self._post(ch, text):
                self.sent += 1
            else:
                self.failed += 1

    def _post(self, ch: Channel, text: str) -> bool:
        delay = 0.5
        for attempt in range(self.cfg.retries + 1):
            why = ""
            try:
                r = self._client.post(ch.url, json=ch.body(text))
                if r.status_code < 300:
                    return True
                why = f"HTTP {r.status_code}"
                if r.status_code == 429:
                    delay = _retry_after(r, delay)
                elif r.status_code < 500:
                    break  # a request the service refuses will not get better
            except httpx.HTTPError as e:
                why = type(e).__name__  # its text may hold the URL: a secret
            if attempt < self.cfg.retries:
                if self._stop.wait(min(delay, 30.0)):
                    break
                delay *= 2
        log.warning("alerts: %s gave up on a message (%s)", ch.name, why)
        return False


class _Redact(logging.Filter):
    """Takes our webhook URLs out of any log record (a library's request log included)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            if any(s in text for s in self.secrets):
                for s in self.secrets:
                    text = text.replace(s, "<webhook URL>")
                record.msg, record.args = text, ()
        return True


def _retry_after(r: httpx.Response, default: float) -> float:
    try:
        v = float(r.headers.get("retry-after", ""))
    except ValueError:
        try:  # Discord's JSON body says retry_after (seconds)
            v = float(r.json().get("retry_after", default))
        except Exception:
            return default
    return v if 0 <= v <= 60 else default


def digest_text(snapshot: Any, name: str = "makerhive") -> str:
    """The PnL digest: portfolio and per-asset net PnL, inventory and fills."""
    lines = [f"[{name}] PnL digest at t={snapshot.sim_time_s:,.0f}s: net ${snapshot.portfolio_pnl:,.2f}"]
    for r in snapshot.assets:
        lines.append(f"  {r.asset}: net ${r.net_pnl:,.2f}, inventory ${r.inventory_usd:,.0f} "
                     f"({r.inventory_pct:.0f}% of limit), fills {r.fills_buy}/{r.fills_sell}, {r.phase}")
    return "\n".join(lines)
