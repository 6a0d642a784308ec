"""Webhook alerts against a local HTTP server on 127.0.0.1: formats, retries, rate limits,
never blocking, never logging a URL, and a hive that alerts on a restart."""
from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from config.schema import AlertsConfig, ConfigError
from makerhive.alerts import Alerter, check
from makerhive.app import Hive
from messages.control import Crash
from tests.hive_helpers import sim_config, wait_for


class Hook:
    """A webhook receiver: records (path, body) and answers from a script of statuses."""

    def __init__(self) -> None:
        self.got: list[tuple[str, dict]] = []
        self.script: list[tuple[int, dict]] = []  # (status, headers) for the next requests
        self.delay = 0.0
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        hook = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(hook.delay)
                with hook.lock:
                    hook.got.append((self.path, body))
                    status, headers = hook.script.pop(0) if hook.script else (200, {})
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return H


@contextlib.contextmanager
def hook_server() -> Iterator[tuple[Hook, str]]:
    hook = Hook()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), hook.handler())
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield hook, f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def _cfg(**kw) -> AlertsConfig:
    return AlertsConfig(**{"enabled": True, "min_interval_s": 60.0, "retries": 3, "timeout_s": 2.0,
                           "digest_every_s": 0.0, **kw})


def test_discord_slack_and_telegram_each_get_their_format(caplog):
    with hook_server() as (hook, url):
        a = Alerter(_cfg(discord_url=f"{url}/discord/secret1", slack_url=f"{url}/slack/secret2",
                         telegram_chat_id="42", telegram_api=url), env={"MAKERHIVE_TELEGRAM_TOKEN": "T0K"}).start()
        a.event(12.0, "halt", "BTC", "daily loss stop: -2.1% of capital")
        a.event(12.0, "reject", "BTC", "ALO would cross")  # not an alert kind
        a.close()
    by_path = dict(hook.got)
    assert set(by_path) == {"/discord/secret1", "/slack/secret2", "/botT0K/sendMessage"}
    assert by_path["/discord/secret1"] == {"content": "[makerhive] HALT BTC: daily loss stop: -2.1% of capital"}
    assert by_path["/slack/secret2"] == {"text": "[makerhive] HALT BTC: daily loss stop: -2.1% of capital"}
    assert by_path["/botT0K/sendMessage"] == {"chat_id": "42",
                                              "text": "[makerhive] HALT BTC: daily loss stop: -2.1% of capital"}
    assert a.sent == 3 and a.failed == 0


def test_failures_are_retried_a_429_waits_and_no_log_line_holds_a_url(caplog):
    caplog.set_level(logging.DEBUG)
    with hook_server() as (hook, url):
        hook.script = [(500, {}), (429, {"Retry-After": "0.2"}), (200, {})]
        a = Alerter(_cfg(discord_url=f"{url}/hooks/s3cr3t"), env={}).start()
        t0 = time.monotonic()
        a.event(1.0, "quarantine", "SOL", "quarantined after 3 escalations")
        wait_for(lambda: a.sent == 1, timeout=10, what="the alert delivered on the third try")
        assert time.monotonic() - t0 >= 0.2 + 0.5  # the first backoff, then the 429's Retry-After
        hook.script = [(400, {})]  # a request the service refuses is not retried
        a.event(2.0, "restart", "SOL", "restarted")
        wait_for(lambda: a.failed == 1, timeout=10, what="the refused alert given up")
        a.close()
    assert len(hook.got) == 4
    text = caplog.text
    assert "s3cr3t" not in text and url not in text and "gave up" in text


def test_repeats_are_held_back_and_counted_and_a_minute_is_capped():
    with hook_server() as (hook, url):
        a = Alerter(_cfg(discord_url=f"{url}/d", min_interval_s=0.5, max_per_minute=3), env={}).start()
        for _ in range(10):
            a.event(1.0, "restart", "ETH", "restarted after a crash")
        wait_for(lambda: len(hook.got) >= 2, timeout=5, what="the first alert and the held-back count")
        for asset in ("A1", "A2", "A3", "A4"):  # past the cap of 3 a minute
            a.event(2.0, "halt", asset, "halted")
        time.sleep(0.3)
        a.close(final="bye")
    texts = [b["content"] for _, b in hook.got]
    assert texts[0] == "[makerhive] RESTART ETH: restarted after a crash"
    assert texts[1] == "[makerhive] RESTART ETH: 9 more since the last alert"
    assert len([t for t in texts if "HALT" in t]) == 1  # 3 a minute: two were held
    assert texts[-1].startswith("bye") and "not sent: more than 3 a minute" in texts[-1]


def test_a_slow_webhook_never_blocks_the_caller():
    with hook_server() as (hook, url):
        hook.delay = 1.0
        a = Alerter(_cfg(discord_url=f"{url}/d", min_interval_s=0.001), env={}, queue_size=100).start()
        t0 = time.perf_counter()
        for i in range(5000):
            a.event(float(i), "failure", f"X{i}", "boom")
        took = time.perf_counter() - t0
        assert took < 0.5, took
        assert a.dropped > 0
        t0 = time.perf_counter()
        a.close(timeout=2)  # gives up on the backlog rather than holding the exit up
        assert time.perf_counter() - t0 < 2 + 2.0 + 1.5


def test_alert_config_is_checked_and_urls_are_never_echoed():
    with pytest.raises(ConfigError, match="no channel"):
        check(_cfg())
    with pytest.raises(ConfigError, match="must be event kinds"):
        check(_cfg(discord_url="http://x", kinds=("halt", "hlat")))
    with pytest.raises(ConfigError) as e:
        sim_config(alerts={"enabled": True, "discord_url": "ftp://hooks/s3cr3t"})
    assert "alerts.discord_url" in str(e.value) and "s3cr3t" not in str(e.value)


def test_a_hive_alerts_on_a_restart_and_sends_a_digest_at_the_end(tmp_path):
    with hook_server() as (hook, url):
        cfg = sim_config(run={"journal_dir": str(tmp_path)},
                         alerts={"enabled": True, "discord_url": f"{url}/discord", "min_interval_s": 1.0})
        hive = Hive(cfg, seed=3)
        hive.start()
        try:
            wait_for(lambda: hive.board.phase.get("ETH") == "quoting", timeout=30, what="ETH quoting")
            hive.teams["ETH"].tell("quoter", Crash("injected by the test"))
            wait_for(lambda: any("ETH" in b["content"] and ("RESTART" in b["content"] or "FAILURE" in b["content"])
                                 for _, b in hook.got), timeout=30, what="an alert about the ETH crash")
        finally:
            hive.stop()
    last = hook.got[-1][1]["content"]
    assert "PnL digest" in last and "ETH" in last and "open at exit" in last
