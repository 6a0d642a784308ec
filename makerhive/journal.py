"""The run's journal: one SQLite database (WAL) written by one thread off the hot path.

Producers (actors, the hive's ticker, the backtester's result) call the sink methods
from any thread; each call is one ``put_nowait`` on a bounded queue, so trading never
waits on the disk: when the queue is full the row is dropped and counted
(``dropped``). The writer thread commits at least every ``flush_s`` (WAL, synchronous
NORMAL: a committed row survives ``kill -9``), so a killed process loses at most that.
Markouts (bp, + = the mid moved our way since the fill, from the fair price at the
fill, as the backtester measures them) are filled in later from the mids the ticker
reports (``mark``).
"""
from __future__ import annotations

import collections
import logging
import math
import queue
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable

log = logging.getLogger(__name__)

FILE_NAME = "journal.sqlite"
MARKOUT_HORIZONS_S = (1.0, 5.0, 30.0, 300.0)
MARKOUT_COLUMNS = ("markout_1s_bp", "markout_5s_bp", "markout_30s_bp", "markout_300s_bp")
MAX_PENDING_MARKOUTS = 100_000  # per asset and horizon: memory stays bounded

# Each entry migrates the schema from the version before it; the journal's
# ``PRAGMA user_version`` says how many have run.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE runs (
            run_id INTEGER PRIMARY KEY, started_utc TEXT, kind TEXT, venue TEXT, scope TEXT, seed INTEGER,
            assets TEXT, capital_usd REAL, info TEXT)""",
        """CREATE TABLE fills (
            id INTEGER PRIMARY KEY, run_id INTEGER, scope TEXT NOT NULL, tid INTEGER NOT NULL, ts REAL NOT NULL,
            asset TEXT NOT NULL, cloid TEXT, oid INTEGER,
            side TEXT NOT NULL, px REAL NOT NULL, sz REAL NOT NULL, fee REAL NOT NULL, liquidity TEXT,
            fair_px REAL, markout_1s_bp REAL, markout_5s_bp REAL, markout_30s_bp REAL, markout_300s_bp REAL,
            UNIQUE(scope, tid))""",
        "CREATE INDEX fills_asset_ts ON fills(asset, ts)",
        """CREATE TABLE orders (
            id INTEGER PRIMARY KEY, run_id INTEGER, ts REAL NOT NULL, asset TEXT NOT NULL, action TEXT NOT NULL,
            cloid TEXT, side TEXT, px REAL, sz REAL, text TEXT, latency_s REAL)""",
        "CREATE INDEX orders_asset_ts ON orders(asset, ts)",
        """CREATE TABLE positions (
            id INTEGER PRIMARY KEY, run_id INTEGER, ts REAL NOT NULL, asset TEXT NOT NULL, position REAL, mid REAL,
            inventory_usd REAL, limit_usd REAL, realized_pnl REAL, unrealized_pnl REAL, fees REAL,
            funding REAL, net_pnl REAL, capital REAL)""",
        "CREATE INDEX positions_asset_ts ON positions(asset, ts)",
        """CREATE TABLE funding (
            id INTEGER PRIMARY KEY, run_id INTEGER, ts REAL NOT NULL, asset TEXT NOT NULL, rate REAL, position REAL, usd REAL,
            UNIQUE(run_id, asset, ts))""",
        """CREATE TABLE allocations (
            id INTEGER PRIMARY KEY, run_id INTEGER, ts REAL NOT NULL, asset TEXT NOT NULL, capital REAL, zone TEXT,
            state TEXT, score REAL)""",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY, run_id INTEGER, ts REAL NOT NULL, kind TEXT NOT NULL, asset TEXT, text TEXT)""",
        "CREATE INDEX events_kind ON events(kind, ts)",
    ),
    (  # v2: a modify names the order it replaced, and its price and size
        "ALTER TABLE orders ADD COLUMN old_cloid TEXT",
        "ALTER TABLE orders ADD COLUMN old_px REAL",
        "ALTER TABLE orders ADD COLUMN old_sz REAL",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating and migrating) a journal; WAL so readers never block the writer."""
    con = sqlite3.connect(str(path), timeout=30.0, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    migrate(con)
    return con


def migrate(con: sqlite3.Connection) -> int:
    """Run the migrations the journal has not seen (under a write lock, so two processes
    opening one journal migrate it once); refuse a journal from a newer makerhive."""
    con.isolation_level = None  # we say where transactions begin
    try:
        con.execute("BEGIN IMMEDIATE")
        have = con.execute("PRAGMA user_version").fetchone()[0]
        if have > SCHEMA_VERSION:
            raise RuntimeError(f"journal schema v{have} is newer than this makerhive's (v{SCHEMA_VERSION})")
        for version in range(have, SCHEMA_VERSION):
            for stmt in MIGRATIONS[version]:
                con.execute(stmt)
            con.execute(f"PRAGMA user_version = {version + 1}")
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    finally:
        con.isolation_level = ""
    return SCHEMA_VERSION


def _num(x: Any) -> float | None:
    """A finite float, or None (SQL NULL): a NaN from outside is stored as unknown."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


class _Markouts:
    """Fills waiting for the mid ``h`` seconds later, per asset and horizon."""

    def __init__(self) -> None:
        self.pending: dict[str, list[collections.deque]] = {}

    def add(self, asset: str, tid: int, ts: float, px: float, side: str) -> None:
        """``px``: the fair price at the fill (mid-to-mid markouts, as the backtester's)."""
        queues = self.pending.setdefault(
            asset, [collections.deque(maxlen=MAX_PENDING_MARKOUTS) for _ in MARKOUT_HORIZONS_S])
        sign = 1.0 if side == "B" else -1.0
        for q in queues:
            q.append((ts, tid, px, sign))

    def resolve(self, asset: str, ts: float, mid: float) -> list[tuple[str, float | None, int]]:
        """Updates (column, markout in bp, tid) due at a mid seen at ``ts``; a mid seen
        long after the horizon would lie about it, so those stay unknown (NULL)."""
        out = []
        for col, h, q in zip(MARKOUT_COLUMNS, MARKOUT_HORIZONS_S, self.pending.get(asset, ())):
            while q and q[0][0] + h <= ts:
                fts, tid, px, sign = q.popleft()
                late = ts - (fts + h)
                value = sign * (mid - px) / px * 1e4 if late <= max(1.0, 0.2 * h) and px > 0 else None
                out.append((col, value, tid))
        return out


class Journal:
    """The sink producers call, and the thread that writes what they give it."""

    def __init__(self, path: str | Path, *, queue_size: int = 100_000, flush_s: float = 0.2) -> None:
        self.path = Path(path)
        self.flush_s = flush_s
        self.dropped = 0
        self.written = 0
        self._q: queue.Queue = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        # cloid -> (when sent, its row), writer-owned: the answer's latency goes on both rows
        self._placed: dict[str, tuple[float, int]] = {}
        self._cancelling: dict[str, tuple[float, int]] = {}
        self._markouts = _Markouts()
        self.run_id = 0
        self.scope = ""
        self.latency_observers: list = []  # f(asset, seconds), called by the writer for each ack/reject
        self.markout_observers: list = []  # f(asset, horizon_s, bp or None), for each markout resolved

    @classmethod
    def in_dir(cls, run_dir: str | Path, **kw: Any) -> "Journal":
        d = Path(run_dir)
        d.mkdir(parents=True, exist_ok=True)
        return cls(d / FILE_NAME, **kw)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, *, kind: str = "live", venue: str = "sim", scope: str | None = None, seed: int | None = None,
              assets: Iterable[str] = (), capital_usd: float | None = None, info: str = "") -> "Journal":
        """Open the journal (failing here, in the caller, if it is unusable), record the
        run and start the writer. ``scope`` is where trade ids are unique: an exchange
        account keeps its ids across runs; a simulated exchange starts afresh (default)."""
        con = connect(self.path)
        try:
            with con:
                cur = con.execute("INSERT INTO runs (started_utc, kind, venue, seed, assets, capital_usd, info) "
                                  "VALUES (?,?,?,?,?,?,?)",
                                  (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), kind, venue, seed,
                                   ",".join(assets), _num(capital_usd), info))
                self.run_id = int(cur.lastrowid or 0)
                self.scope = scope or f"{venue}#{self.run_id}"
                con.execute("UPDATE runs SET scope = ? WHERE run_id = ?", (self.scope, self.run_id))
        finally:
            con.close()
        self._thread = threading.Thread(target=self._run, name="journal", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Write everything queued, then stop the writer."""
        if self._thread is None:
            return
        try:  # waiting here is fine (trading has stopped), but not forever on a dead writer
            self._q.put(None, timeout=timeout)
        except queue.Full:
            log.error("journal: the writer is not draining; closing without it")
        self._thread.join(timeout)
        self._thread = None

    # -- producers (any thread; never block) -------------------------------------------------
    def _put(self, item: tuple) -> None:
        try:
            self._q.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    def fill(self, fill: Any, fair_px: float | None = None, liquidity: str = "maker") -> None:
        """One of our fills (a ``messages.orders.Fill``); repeats of a trade id are ignored."""
        self._put(("fill", (int(fill.tid), _num(fill.ts), fill.asset, fill.cloid, int(fill.oid), fill.side,
                            _num(fill.px), _num(fill.sz), _num(fill.fee), liquidity, _num(fair_px))))

    def order(self, ts: float, asset: str, action: str, cloid: str = "", side: str | None = None,
              px: float | None = None, sz: float | None = None, text: str = "") -> None:
        """An order action: place, cancel (ours), ack, reject (with the venue's text), cancelled."""
        self._put(("order", (_num(ts), asset, action, cloid, side, _num(px), _num(sz), text, None, None, None)))

    def modify(self, ts: float, asset: str, old_cloid: str, cloid: str, side: str | None, old_px: float | None,
               old_sz: float | None, px: float | None, sz: float | None) -> None:
        """One of our quotes replaced: ``old_cloid`` at old_px x old_sz by ``cloid`` at px x sz."""
        self._put(("order", (_num(ts), asset, "modify", cloid, side, _num(px), _num(sz), "", old_cloid,
                             _num(old_px), _num(old_sz))))

    def actions(self, ts: float, asset: str, actions: Iterable[Any]) -> None:
        """What one command did, or the venue's answers (``strategy.order_actions.OrderAction``)."""
        for a in actions:
            if a.action == "modify":
                self.modify(ts, asset, a.old_cloid, a.cloid, a.side, a.old_px, a.old_sz, a.px, a.sz)
            else:
                self.order(ts, asset, a.action, a.cloid, a.side, a.px, a.sz, a.text)

    def event(self, ts: float, kind: str, asset: str, text: str) -> None:
        self._put(("event", (_num(ts), kind, asset, text)))

    def funding(self, asset: str, ts: float, rate: float, position: float, usd: float) -> None:
        self._put(("funding", (_num(ts), asset, _num(rate), _num(position), _num(usd))))

    def allocation(self, ts: float, asset: str, capital: float, zone: str, state: str,
                   score: float | None) -> None:
        self._put(("allocation", (_num(ts), asset, _num(capital), zone, state, _num(score))))

    def position(self, ts: float, asset: str, *, position: float | None = None, mid: float | None = None,
                 inventory_usd: float | None = None, limit_usd: float | None = None,
                 realized_pnl: float | None = None, unrealized_pnl: float | None = None,
                 fees: float | None = None, funding: float | None = None, net_pnl: float | None = None,
                 capital: float | None = None) -> None:
        """A position and PnL snapshot; its mid also resolves markouts."""
        self._put(("position", (_num(ts), asset, _num(position), _num(mid), _num(inventory_usd), _num(limit_usd),
                                _num(realized_pnl), _num(unrealized_pnl), _num(fees), _num(funding),
                                _num(net_pnl), _num(capital))))

    def mark(self, ts: float, asset: str, mid: float) -> None:
        """A mid at ``ts`` (not stored): resolves the markouts that are due."""
        m = _num(mid)
        if m is not None and m > 0:
            self._put(("mark", (_num(ts), asset, m)))

    # -- the writer --------------------------------------------------------------------------
    def _run(self) -> None:
        con = connect(self.path)
        try:
            stop = False
            while not stop:
                deadline = time.monotonic() + self.flush_s
                batch: list[tuple] = []
                while True:
                    left = deadline - time.monotonic()
                    try:
                        item = self._q.get(timeout=max(left, 0.0)) if left > 0 else self._q.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stop = True
                        break
                    batch.append(item)
                    if len(batch) >= 5000:
                        break
                if batch:
                    self._write(con, batch)
        except Exception:
            log.exception("journal writer failed; journaling stops")
        finally:
            con.close()

    def _write(self, con: sqlite3.Connection, batch: list[tuple]) -> None:
        for attempt in range(5):
            try:
                with con:
                    for kind, row in batch:
                        try:
                            self._write_one(con, kind, row)
                        except sqlite3.IntegrityError as e:  # one bad row must not lose the batch
                            log.warning("journal: %s row not written: %s", kind, e)
                self.written += len(batch)
                return
            except sqlite3.OperationalError as e:  # locked by another process: try again
                log.warning("journal: write failed (%s), attempt %d", e, attempt + 1)
                time.sleep(0.2)
        self.dropped += len(batch)

    def _write_one(self, con: sqlite3.Connection, kind: str, row: tuple) -> None:
        run = self.run_id
        if kind == "fill":
            cur = con.execute("INSERT OR IGNORE INTO fills (run_id, scope, tid, ts, asset, cloid, oid, side, px, sz, "
                              "fee, liquidity, fair_px) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", (run, self.scope, *row))
            ref = row[10] or row[6]  # the fair price at the fill, else its price
            if cur.rowcount and row[1] is not None and ref:
                self._markouts.add(row[2], row[0], row[1], ref, row[5])
        elif kind == "order":
            self._write_order(con, row)
        elif kind == "event":
            con.execute("INSERT INTO events (run_id, ts, kind, asset, text) VALUES (?,?,?,?,?)", (run, *row))
        elif kind == "funding":
            con.execute("INSERT OR IGNORE INTO funding (run_id, ts, asset, rate, position, usd) VALUES (?,?,?,?,?,?)",
                        (run, *row))
        elif kind == "allocation":
            con.execute("INSERT INTO allocations (run_id, ts, asset, capital, zone, state, score) "
                        "VALUES (?,?,?,?,?,?,?)", (run, *row))
        elif kind == "position":
            con.execute("INSERT INTO positions (run_id, ts, asset, position, mid, inventory_usd, limit_usd, "
                        "realized_pnl, unrealized_pnl, fees, funding, net_pnl, capital) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", (run, *row))
            if row[3] is not None and row[0] is not None:
                self._resolve(con, row[1], row[0], row[3])
        elif kind == "mark":
            if row[0] is not None:
                self._resolve(con, row[1], row[0], row[2])

    def _write_order(self, con: sqlite3.Connection, row: tuple) -> None:
        """An order row; an answer (ack, reject, cancelled) gets the latency since its
        order was sent, written on the sending row (place, modify, cancel) too."""
        ts, asset, action, cloid = row[0], row[1], row[2], row[3]
        sent, placing = None, False
        if action in ("ack", "reject"):
            sent = self._placed.pop(cloid, None)
            placing = sent is not None
            if sent is None and action == "reject":
                sent = self._cancelling.pop(cloid, None)  # a refused cancel
        elif action == "cancelled":
            sent = self._cancelling.pop(cloid, None)
        latency = ts - sent[0] if sent is not None and ts is not None and sent[0] is not None else None
        if latency is not None and placing:  # the order round trip the metrics histogram shows
            for observe in self.latency_observers:
                observe(asset, latency)
        cur = con.execute("INSERT INTO orders (run_id, ts, asset, action, cloid, side, px, sz, text, old_cloid, "
                          "old_px, old_sz, latency_s) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", (self.run_id, *row, latency))
        if latency is not None and sent is not None:
            con.execute("UPDATE orders SET latency_s = ? WHERE id = ?", (latency, sent[1]))
        if action in ("place", "modify", "cancel"):
            pending = self._cancelling if action == "cancel" else self._placed
            if len(pending) > 50_000:
                pending.clear()  # bounded: a lost answer must not grow it forever
            pending[cloid] = (ts, int(cur.lastrowid or 0))

    def _resolve(self, con: sqlite3.Connection, asset: str, ts: float, mid: float) -> None:
        for col, value, tid in self._markouts.resolve(asset, ts, mid):
            for observe in self.markout_observers:
                observe(asset, MARKOUT_HORIZONS_S[MARKOUT_COLUMNS.index(col)], value)
            con.execute(f"UPDATE fills SET {col} = ? WHERE scope = ? AND tid = ?", (value, self.scope, tid))


def read_rows(path: str | Path, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
    """Rows of a query on a journal (read-only: a live run may be writing it)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no journal at {p}")
    con = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
    try:
        con.row_factory = sqlite3.Row
        return con.execute(sql, tuple(params)).fetchall()
    finally:
        con.close()
