"""From a book frame arriving on the socket to the signed batch leaving, on the Hyperliquid venue.

The whole hive runs against the local fake exchange (its own process, 127.0.0.1, real
sockets, real signatures). The fake pushes each coin's l2Book every 0.1 s (five times Hyperliquid's
cadence, for samples) and the quoting config requotes on small moves. A sample is taken
for each placement batch: ``perf_counter_ns`` when the book's frame was read off the
WebSocket, to just after the batch was signed and handed to the HTTP client. It covers
decoding, the book, quoter and order actors (three thread hops), the gateway, batching
and signing; not the network.
"""
from __future__ import annotations

import tomllib
import sys
import time

import msgspec
import numpy as np
from eth_account import Account

import config as config_mod


def _config(base_url: str = "", ws_url: str = "") -> config_mod.Config:
    from bench.latency import ROOT

    raw = tomllib.loads((ROOT / "config.toml").read_text())
    raw["run"]["speed"] = 1.0
    raw["run"]["journal_dir"] = "/tmp/makerhive-bench-runs"
    raw["sim"]["book_interval_s"] = 0.1
    raw["quoting"]["refresh_tolerance_bp"] = 0.0  # every moved book requotes: the path under test
    raw["dead_mans_switch"] = {"enabled": False}
    cfg = config_mod.from_dict(raw)
    if base_url:
        hl = msgspec.structs.replace(cfg.venue.hyperliquid, base_url=base_url, ws_url=ws_url)
        cfg = msgspec.structs.replace(cfg, run=msgspec.structs.replace(cfg.run, venue="hyperliquid"),
                                      venue=msgspec.structs.replace(cfg.venue, hyperliquid=hl))
    return cfg


def _serve_fake(account: str, conn) -> None:  # a multiprocessing Connection
    """The exchange in its own process, on the other core, like the real one is elsewhere."""
    from makerhive.affinity import pin_to_cpu
    from testkit.hyperliquid_fake import FakeHyperliquid

    pin_to_cpu(1)
    with FakeHyperliquid(_config(), seed=3, account=account) as fake:
        conn.send((fake.base_url, fake.ws_url))
        conn.recv()  # until told to stop


def run(quick: bool = False) -> dict:
    import multiprocessing

    from makerhive.affinity import pin_to_cpu
    from actors.context import LatencyRecorder
    from makerhive.app import Hive
    from venues.hyperliquid.signing import Signer

    sys.setswitchinterval(0.0005)
    key = "0x" + "3c" * 32
    account = Account.from_key(key).address.lower()
    seconds = 8.0 if quick else 40.0
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    server = ctx.Process(target=_serve_fake, args=(account, theirs), daemon=True)
    server.start()
    try:
        if not ours.poll(30):
            raise RuntimeError("the fake exchange did not start")
        base_url, ws_url = ours.recv()
        pin_to_cpu(0)  # the trading process's default
        latency = LatencyRecorder()
        hive = Hive(_config(base_url, ws_url), signer=Signer(key), latency=latency)
        hive.start()
        try:
            time.sleep(seconds)
        finally:
            hive.stop()
    finally:
        ours.send("stop")
        server.join(10)
        if server.is_alive():
            server.kill()
    venue = hive.venue
    samples = np.array(list(venue.book_to_wire_ns), dtype=float) / 1e3
    to_send = np.array(latency.samples, dtype=float) / 1e3
    if samples.size == 0:
        raise RuntimeError("no placement batch left: nothing measured")
    return {
        "samples": int(samples.size),
        "book_to_signed_batch_us_p50": round(float(np.percentile(samples, 50)), 1),
        "book_to_signed_batch_us_p99": round(float(np.percentile(samples, 99)), 1),
        # the part up to the order actor handing the batch to the gateway
        "book_to_order_actor_send_us_p50": round(float(np.percentile(to_send, 50)), 1) if to_send.size else None,
        "book_to_order_actor_send_us_p99": round(float(np.percentile(to_send, 99)), 1) if to_send.size else None,
        "orders_sent": venue.stats.orders_sent,
        "modifies_sent": venue.stats.modifies_sent,
        "actions_sent": venue.stats.actions_sent,
        "seconds": seconds,
        "note": "the fake exchange in its own process on the other core, over 127.0.0.1",
    }
