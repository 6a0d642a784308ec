"""Process kill and restart: the trading process SIGKILLed while it quotes on
``--venue remote-sim``, then started again, cycle after cycle.

``makerhive chaos --venue remote-sim --faults K`` runs ``makerhive sim-server`` and a
headless hive as subprocesses on 127.0.0.1 and, K times: waits until every asset quotes
with the dead-man's switch armed, lets it trade a moment, kills it (SIGKILL: no cancel,
no clearing of the switch) and starts it again, either at once (the dead process's
quotes still rest: the new one must cancel them before it quotes) or after the switch
fired. It checks, against the venue's own state:

- no quote of the killed process rests past the switch's window (venue time);
- the restarted process reconciles before its first order on each asset, quotes again,
  and none of the killed process's orders is left resting once it quotes;
- its positions equal the venue's, and no inventory is beyond its limit;
- the last process stops cleanly (exit 0, nothing open, books equal to the venue's).

Every wait is bounded; the summary keeps the chaos run's keys where they apply.
"""
from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np
import tomli_w
import trio
from trio_websocket import open_websocket_url

from exchange_rules.cloid import parse_cloid
from makerhive.control import send, socket_path

RESTART_INVARIANTS = ("orphan_orders", "quotes_past_window", "position_mismatches", "limit_breaches",
                      "reconcile_before_place_failures", "restart_failures", "unclean_exits", "reused_order_epochs")
SLACK_S = 0.5  # venue seconds beyond the window allowed for the switch's own tick


def _admin_state(port: int, timeout: float = 5.0) -> dict:
    async def ask() -> dict:
        with trio.fail_after(timeout):
            async with open_websocket_url(f"ws://127.0.0.1:{port}/admin", connect_timeout=timeout,
                                          max_message_size=64 * 1024 * 1024) as ws:
                await ws.send_message(json.dumps({"admin": "state"}))
                return json.loads(await ws.get_message())
    return trio.run(ask)


def _cloids(state: dict) -> set[tuple[str, int]]:
    """The resting orders as (asset, the venue's oid): a restarted process numbers its
    cloids from the start again, the venue's oids never repeat."""
    return {(a, int(o["oid"])) for a, orders in state["open_orders"].items() for o in orders}


def _epochs(state: dict, oids: set[tuple[str, int]] | None = None) -> set[tuple[str, int]]:
    """(asset, order epoch) of the resting orders (those in ``oids``, if given): a restarted
    process must order under epochs of its own, or its client order ids repeat the killed
    one's (refused as duplicates, or taken for its own current orders)."""
    out = set()
    for a, orders in state["open_orders"].items():
        for o in orders:
            parts = parse_cloid(o.get("cloid") or "")
            if parts is not None and (oids is None or (a, int(o["oid"])) in oids):
                out.add((a, parts.epoch))
    return out


def _wait(pred: Callable[[], bool], timeout: float, poll: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(poll)
    return False


class _Server:
    """``makerhive sim-server`` on a free loopback port."""

    def __init__(self, config: Path, speed: float, seed: int, log: Path) -> None:
        self._log = open(log, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "makerhive.cli", "sim-server", "--config", str(config),
                                      "--host", "127.0.0.1", "--port", "0", "--speed", str(speed), "--seed", str(seed)],
                                     stdout=subprocess.PIPE, stderr=self._log, text=True)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(30)
        if not line or not line[0].startswith("listening on ws://127.0.0.1:"):
            self.close()
            raise RuntimeError(f"the sim server did not start (see {log})")
        self.port = int(line[0].strip().rsplit(":", 1)[1])
        self.url = f"ws://127.0.0.1:{self.port}"

    def state(self) -> dict:
        return _admin_state(self.port)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()


def _limit_breaches(status: dict, max_order_usd: dict[str, float]) -> int:
    return sum(1 for a, r in status["assets"].items()
               if abs(r["inventory_usd"]) > r["limit_usd"] + max_order_usd.get(a, 0.0) + 1e-6)


def run_kill_restart(config: Path, workdir: Path, *, seed: int, cycles: int, speed: float = 4.0,
                     progress: Callable[[str], None] | None = None) -> dict:
    """Kill and restart the hive ``cycles`` times on a remote sim; see the module doc."""
    rng = random.Random(seed)
    workdir.mkdir(parents=True, exist_ok=True)
    raw = tomllib.loads(config.read_text())
    server_cfg = workdir / "server.toml"
    server_cfg.write_text(tomli_w.dumps(raw))
    window = float(raw.get("dead_mans_switch", {}).get("window_s", 15.0))
    assets = tuple(raw.get("portfolio", {}).get("assets", ()))
    max_order = {a: float(q.get("order_size_usd", 0.0)) * max(q.get("level_size_mult", [1.0]))
                 for a in assets for q in [raw.get("assets", {}).get(a, {}).get("quoting", {})]}
    say = progress or (lambda text: None)
    violations: Counter[str] = Counter()
    restart_ms: list[float] = []
    gone_s: list[float] = []
    modes: Counter[str] = Counter()
    report: dict[str, Any] = {"venue": "remote-sim", "seed": seed, "speed": speed, "window_s": window,
                              "cycles": cycles}
    srv = _Server(server_cfg, speed, seed, workdir / "server.log")
    proc: subprocess.Popen | None = None
    try:
        raw.setdefault("remote", {})["url"] = srv.url
        raw.setdefault("run", {})["journal_dir"] = str(workdir / "runs")
        hive_cfg = workdir / "hive.toml"
        hive_cfg.write_text(tomli_w.dumps(raw))
        control = socket_path(str(workdir / "runs"))

        def start(tag: str) -> subprocess.Popen:
            with open(workdir / f"{tag}.out", "w") as out, open(workdir / f"{tag}.err", "w") as err:
                return subprocess.Popen([sys.executable, "-m", "makerhive.cli", "run", "--headless", "--venue",
                                         "remote-sim", "--speed", str(speed), "--config", str(hive_cfg),
                                         "--summary-json", str(workdir / f"{tag}.json")],
                                        stdout=out, stderr=err)

        def quoting(session: int, old: set[tuple[str, int]]) -> bool:
            """This process quotes every asset (orders of its own, not the killed one's), switch armed."""
            st = srv.state()
            if st["sessions"] >= session and session not in inherited:  # it just connected: what it finds
                inherited[session] = len(old & _cloids(st))
            mine = _cloids(st) - old
            return (st["sessions"] >= session and all(any(a == x for x, _ in mine) for a in assets)
                    and st["schedule_cancel"]["at"] is not None)

        def positions_agree() -> tuple[bool, dict | None]:
            try:
                status = send(control, ["status"], timeout=5.0)
            except (OSError, ValueError):
                return False, None
            pos = srv.state()["positions"]
            ok = all(abs(status["assets"][a]["inventory"] - pos[a]) < 1e-9 for a in assets)
            return ok, status

        old: set[tuple[str, int]] = set()
        old_epochs: set[tuple[str, int]] = set()
        inherited: dict[int, int] = {}  # session -> the killed process's orders resting when it connected
        sessions = 0  # the venue's client sessions so far: the next process is the one after
        kill_now = -math.inf
        for cycle in range(cycles + 1):
            t_start = time.monotonic()
            proc = start(f"hive{cycle}")
            if not _wait(lambda: quoting(sessions + 1, old), 60.0):
                violations["restart_failures"] += 1
                say(f"cycle {cycle}: the hive did not quote within 60 s")
                break
            if cycle > 0:
                restart_ms.append((time.monotonic() - t_start) * 1000.0)
                st = srv.state()
                left = old & _cloids(st)  # the killed process's orders, still there once we quote
                violations["orphan_orders"] += len(left)
                violations["reused_order_epochs"] += len(_epochs(st, _cloids(st) - old) & old_epochs)
                log = [(r["kind"], r["asset"]) for r in st["requests"]]
                for a in assets:
                    first = log.index(("place", a)) if ("place", a) in log else len(log)
                    if ("snapshot", a) not in log[:first]:
                        violations["reconcile_before_place_failures"] += 1
                # no quote of the killed one past the window, with the new one renewing the switch
                _wait(lambda: srv.state()["now"] >= kill_now + window + SLACK_S, window / speed + 10.0, poll=0.05)
                violations["quotes_past_window"] += len(old & _cloids(srv.state()))
            status = None
            for _ in range(50):  # fills race the two reads: equal once in a quiet moment
                ok, status = positions_agree()
                if ok:
                    break
                time.sleep(0.1)
            else:
                violations["position_mismatches"] += 1
            if status is not None:
                violations["limit_breaches"] += _limit_breaches(status, max_order)
            if cycle == cycles:
                break
            time.sleep(rng.uniform(0.5, 3.0))  # trade a while
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            st = srv.state()
            kill_now, old, sessions = st["now"], _cloids(st), st["sessions"]
            old_epochs = _epochs(st)
            armed = st["schedule_cancel"]["at"]
            if armed is None or armed - kill_now > window + SLACK_S:
                violations["quotes_past_window"] += 1  # the switch would not fire in time
            mode = "after_switch" if rng.random() < 0.5 else "at_once"
            modes[mode] += 1
            if mode == "after_switch":
                if _wait(lambda: not (old & _cloids(srv.state())), window / speed + 10.0, poll=0.05):
                    gone_s.append(srv.state()["now"] - kill_now)
                else:
                    violations["quotes_past_window"] += len(old & _cloids(srv.state()))
            say(f"cycle {cycle + 1}/{cycles}: killed with {len(old)} quotes resting, restart {mode}")
        # the last one stops cleanly: nothing open, its books equal the venue's
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = -9
            if rc != 0:
                violations["unclean_exits"] += 1
            st = srv.state()
            violations["orphan_orders"] += len(_cloids(st))
            out = workdir / f"hive{cycle}.json"
            if out.exists():
                summary = json.loads(out.read_text())
                for a in assets:
                    if abs(summary["assets"][a]["inventory"] - st["positions"][a]) > 1e-9:
                        violations["position_mismatches"] += 1
            else:
                violations["unclean_exits"] += 1
            final_fired = len(st["dms_fired"])
        else:
            final_fired = -1
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        srv.close()
    report.update({
        "faults_injected": sum(modes.values()),
        "faults_by_kind": {"process_kill": sum(modes.values())},
        "restarts_by_mode": dict(modes),
        "recovery_ms_p99": round(float(np.percentile(restart_ms, 99)), 1) if restart_ms else 0.0,
        "restart_to_quoting_ms_max": round(max(restart_ms), 1) if restart_ms else 0.0,
        "kill_to_quotes_gone_s_max": round(max(gone_s), 2) if gone_s else 0.0,
        "dms_fired": final_fired,
        # restarts that found the killed process's quotes still resting (and had to cancel them)
        "restarts_inheriting_quotes": sum(1 for s, n in inherited.items() if s > 1 and n > 0),
        **{k: violations[k] for k in RESTART_INVARIANTS},
    })
    report["invariants_ok"] = all(report[k] == 0 for k in RESTART_INVARIANTS)
    return report


def restart_table(report: dict):  # rich Table
    from rich.table import Table

    t = Table(title=f"makerhive chaos: process kill and restart on remote-sim (seed {report['seed']})",
              title_justify="left")
    t.add_column("measure")
    t.add_column("value", justify="right")
    for k in ("faults_injected", "restarts_by_mode", "restarts_inheriting_quotes", "recovery_ms_p99", "restart_to_quoting_ms_max",
              "kill_to_quotes_gone_s_max", "window_s"):
        t.add_row(k, str(report[k]))
    for k in RESTART_INVARIANTS:
        v = report[k]
        t.add_row(f"[bold]{k}[/bold] (must be 0)", f"[green]{v}[/green]" if v == 0 else f"[red]{v}[/red]")
    return t
