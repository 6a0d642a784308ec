"""The meta-supervisor's capital allocation: scores, zones, multipliers and capital steps.

Pure and deterministic: no threads, no clock (time comes in as ``now``), no I/O. The
meta-supervisor actor and the backtester drive the very same ``Allocator``.

**Score** per asset over the rolling window (``allocation.window_s``) of its PnL samples
(``PerformanceReport.pnl``), each sample change taken as a return on the capital the
asset traded with::

    score = w0·sharpe + w1·return + w2·(1 − drawdown) + w3·consistency   (0.40/0.30/0.20/0.10)

- sharpe: mean / std of the sample returns, scaled to one hour (× √(3600 / sample interval));
- return: the window's return on capital, per hour;
- drawdown: the largest fall of the window's cumulative return from its peak;
- consistency: the share of samples (among those that moved) with a gain.

Each part is normalised against a fixed reference range (``*_range``: lo -> 0, hi -> 1,
clipped): absolute, not rank-based, so if every asset does well nobody is punished.
Less than ``min_history_s`` of samples in the window: no score, the asset holds.

**Evidence** (``supervisor/evidence.py``): zones act on a score only when the mean of
the asset's returns is ``min_t_stat`` standard errors from zero; capital only when the
asset is that many standard errors better than the rest (up), or worse than the rest
or losing (down); short of that the asset is treated as neutral (an equal share, zone hold).

**Zones** by score: reward > 0.7 >= hold >= 0.4 > punish >= 0.2 > pause, with hysteresis:
an asset leaves its zone only when its score is ``hysteresis`` past the boundary.

**Risk multipliers** (size, spread, max position) head for the zone's at most
``max_multiplier_step`` (±10%) of themselves per period.

**Capital** (slow): each scored asset's target is ``target_at_zero .. target_at_one``
equal shares, linear in its score (0.25 .. 1.75), clipped to [floor, cap]; targets that
add up to more than the capital left to the scored assets are scaled down pro rata.
Each asset then moves toward its target by at most ``max_capital_step`` (±15%) of its
capital per period, never below the floor (``floor_usd``) nor above the cap
(``cap_pct`` of the portfolio), moves under ``deadband`` are skipped, and if the steps
would add up to more than the portfolio's capital the increases are scaled down: the
total never exceeds the capital. Capital left over stays unallocated (it is not risk).

**Quarantine** (event-driven, not a score move): the asset's capital goes at once to
the healthy assets, pro rata (each up to its cap), or to the first asset on standby
when ``max_concurrent_assets`` kept one waiting. A lifted quarantine gives the asset an
equal share again, taken first from unallocated capital, then pro rata from the others.

**Compound** mode: the asset trades with base + its own PnL; everything here moves
the base only.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable

from config import AllocationConfig, Config, ZoneMultipliers
from messages.allocation import AllocationUpdate, Multipliers, PerformanceReport, ScoreParts, Zone
from strategy.risk import effective_capital
from supervisor.evidence import block_returns, block_s, capital_evidence, evidence_scores, neutral_score, plunged

_EPS = 1e-9


def _clip01(x: float) -> float:
    return 0.0 if x < 0 else 1.0 if x > 1 else x


def _norm(x: float, r: tuple[float, float]) -> float:
    lo, hi = r
    return _clip01((x - lo) / (hi - lo))


# -- scoring ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RawParts:
    sharpe_h: float  # per-hour Sharpe of the sample returns
    return_h: float  # return on capital per hour
    drawdown: float  # share of capital
    consistency: float  # share of moving samples with a gain


def raw_parts(samples: Iterable[tuple[float, float, float]]) -> RawParts | None:
    """The unnormalised parts from (ts, cumulative PnL, capital) samples, oldest first."""
    pts = list(samples)
    if len(pts) < 3:
        return None
    rets: list[float] = []
    dts: list[float] = []
    for (t0, p0, _), (t1, p1, cap) in zip(pts, pts[1:]):
        if t1 <= t0 or cap <= 0:
            continue
        rets.append((p1 - p0) / cap)
        dts.append(t1 - t0)
    if len(rets) < 2:
        return None
    n = len(rets)
    mean = sum(rets) / n
    var = sum((r - mean) ** 2 for r in rets) / (n - 1)
    sd = math.sqrt(var)
    span = sum(dts)
    per_hour = 3600.0 / (span / n)
    if sd > _EPS * max(1.0, abs(mean)) and sd > 1e-15:
        sharpe = mean / sd * math.sqrt(per_hour)
    else:  # nothing moved (or moved the same every sample): no noise to scale by
        sharpe = 0.0 if abs(mean) < 1e-15 else math.copysign(math.inf, mean)
    total = sum(rets)
    cum = peak = dd = 0.0
    for r in rets:
        cum += r
        peak = max(peak, cum)
        dd = max(dd, peak - cum)
    moved = [r for r in rets if abs(r) > 1e-15]
    consistency = sum(1 for r in moved if r > 0) / len(moved) if moved else 0.5
    return RawParts(sharpe, total * 3600.0 / span, dd, consistency)


def score_parts(raw: RawParts, cfg: AllocationConfig) -> ScoreParts:
    w = cfg.weights
    s = _norm(raw.sharpe_h, cfg.sharpe_range)
    r = _norm(raw.return_h, cfg.return_range)
    d = _norm(raw.drawdown, cfg.drawdown_range)
    c = _norm(raw.consistency, cfg.consistency_range)
    score = w[0] * s + w[1] * r + w[2] * (1.0 - d) + w[3] * c
    return ScoreParts(score=_clip01(score), sharpe=s, ret=r, drawdown=d, consistency=c)


# -- zones and multipliers ----------------------------------------------------------------------
def plain_zone(score: float, zones: tuple[float, float, float]) -> Zone:
    pause, punish, hold = zones
    if score > hold:
        return "reward"
    if score >= punish:
        return "hold"
    if score >= pause:
        return "punish"
    return "pause"


def zone_bounds(zone: Zone, zones: tuple[float, float, float]) -> tuple[float, float]:
    pause, punish, hold = zones
    return {"pause": (-math.inf, pause), "punish": (pause, punish), "hold": (punish, hold),
            "reward": (hold, math.inf)}[zone]


def zone_for(score: float, current: Zone, zones: tuple[float, float, float], hysteresis: float) -> Zone:
    """The zone for ``score``; an asset stays in ``current`` until its score is
    ``hysteresis`` past the boundary, so a score near a boundary does not flap."""
    lo, hi = zone_bounds(current, zones)
    if lo - hysteresis <= score <= hi + hysteresis:
        return current
    return plain_zone(score, zones)


def zone_multipliers(zone: Zone, cfg: AllocationConfig) -> Multipliers:
    z: ZoneMultipliers = getattr(cfg, zone)
    return Multipliers(size=z.size, spread=z.spread, max_position=z.max_position)


def step_toward(cur: float, target: float, step: float) -> float:
    return min(max(target, cur * (1.0 - step)), cur * (1.0 + step))


def step_multipliers(cur: Multipliers, target: Multipliers, step: float) -> Multipliers:
    return Multipliers(size=step_toward(cur.size, target.size, step),
                       spread=step_toward(cur.spread, target.spread, step),
                       max_position=step_toward(cur.max_position, target.max_position, step))


# -- capital ------------------------------------------------------------------------------------
def capital_targets(scores: dict[str, float], holding: float, capital: float, share: float,
                    cfg: AllocationConfig) -> dict[str, float]:
    """Targets for the scored assets: equal shares × (target_at_zero .. target_at_one by
    score), within [floor, cap], scaled down pro rata (never below the floor) if they add
    up to more than ``capital - holding`` (the capital of the assets holding)."""
    cap = cfg.cap_pct * capital
    floor = min(cfg.floor_usd, cap)
    t = {a: min(max(share * (cfg.target_at_zero + (cfg.target_at_one - cfg.target_at_zero) * s), floor), cap)
         for a, s in scores.items()}
    room = max(0.0, capital - holding)
    fixed: set[str] = set()
    for _ in range(len(t) + 1):  # each pass fixes at least one asset at the floor, or ends
        free = [a for a in t if a not in fixed]
        excess = sum(t.values()) - room
        if excess <= _EPS * max(1.0, capital) or not free:
            break
        movable = sum(t[a] - floor for a in free)
        if movable <= 0:
            break
        k = max(0.0, 1.0 - excess / movable)
        newly = False
        for a in free:
            t[a] = floor + (t[a] - floor) * k
            if k == 0.0 or t[a] <= floor + _EPS:
                fixed.add(a)
                newly = True
        if not newly:
            break
    return t


def share_out(targets: dict[str, float], to: list[str], room: float, capital: float,
              cfg: AllocationConfig) -> dict[str, float]:
    """``to``'s targets raised equally by ``room`` (capital no target claims, e.g. what a
    proven loser released), each up to the cap."""
    cap = cfg.cap_pct * capital
    each = max(0.0, room) / len(to)
    return {a: min(targets[a] + each, max(cap, targets[a])) for a in to}


def step_capital(bases: dict[str, float], targets: dict[str, float], capital: float,
                 cfg: AllocationConfig) -> dict[str, float]:
    """New bases: each of ``targets``' assets moves toward its target by at most
    ``max_capital_step`` of its base, within [floor, cap], moves under the deadband
    skipped; the others keep theirs. Increases are scaled down if the total would pass
    ``capital``."""
    cap = cfg.cap_pct * capital
    floor = min(cfg.floor_usd, cap)
    step = cfg.max_capital_step
    new = dict(bases)
    for a, target in targets.items():
        b = bases[a]
        if b <= 0:  # nothing yet (a restored asset found no capital free): start at the floor
            x = min(target, floor)
        else:
            x = min(max(step_toward(b, target, step), min(floor, b)), cap)
            if abs(x - b) < cfg.deadband * b:
                x = b
        new[a] = x
    total = sum(new.values())
    if total > capital + _EPS * max(1.0, capital):
        ups = {a: new[a] - bases[a] for a in new if new[a] > bases[a]}
        up_total = sum(ups.values())
        fixed = total - up_total
        k = max(0.0, (capital - fixed) / up_total) if up_total > 0 else 0.0
        for a, d in ups.items():
            new[a] = bases[a] + d * min(1.0, k)
    return new


# -- the allocator --------------------------------------------------------------------------------
@dataclass
class AssetBook:
    """Everything the allocator keeps about one asset."""

    asset: str
    base: float
    compound: bool = False
    state: str = "active"  # active | quarantined | standby
    zone: Zone = "hold"
    multipliers: Multipliers = field(default_factory=Multipliers)
    score: ScoreParts | None = None
    samples: deque = field(default_factory=deque)  # (ts, cumulative PnL, capital)
    net_pnl: float = 0.0
    evidence_t: float = 0.0  # the t-statistic of its block returns (supervisor/evidence.py)
    relative_t: float = 0.0  # ... of its block returns less the other assets' mean

    @property
    def capital(self) -> float:
        """The capital the asset trades with: its base, plus its own PnL in compound mode."""
        return effective_capital(self.base, self.net_pnl, self.compound)


@dataclass(frozen=True)
class Change:
    """One asset's allocation before and after a decision, with why."""

    asset: str
    why: str
    base_before: float
    base_after: float
    zone_before: Zone
    zone_after: Zone
    mult_before: Multipliers
    mult_after: Multipliers
    score_before: ScoreParts | None
    score_after: ScoreParts | None

    @property
    def capital_moved(self) -> bool:
        return abs(self.base_after - self.base_before) > 1e-6

    def describe(self) -> str:
        """The event text: what moved and the score parts before and after."""
        out = []
        if self.capital_moved:
            d = self.base_after - self.base_before
            pct = d / self.base_before * 100 if self.base_before > 0 else 100.0
            out.append(f"capital ${self.base_before:,.0f} -> ${self.base_after:,.0f} ({pct:+.0f}%)")
        if self.zone_after != self.zone_before:
            out.append(f"zone {self.zone_before} -> {self.zone_after}")
        mb, ma = self.mult_before, self.mult_after
        if mb != ma:
            out.append(f"size x{mb.size:.2f}->{ma.size:.2f} spread x{mb.spread:.2f}->{ma.spread:.2f} "
                       f"maxpos x{mb.max_position:.2f}->{ma.max_position:.2f}")
        out.append(self.why)
        if self.score_after is not None or self.score_before is not None:
            out.append(f"score {_fmt_parts(self.score_before)} -> {_fmt_parts(self.score_after)}")
        return "; ".join(out)


def _fmt_parts(p: ScoreParts | None) -> str:
    if p is None:
        return "n/a"
    return (f"{p.score:.2f} (sharpe {p.sharpe:.2f} return {p.ret:.2f} "
            f"drawdown {p.drawdown:.2f} consistency {p.consistency:.2f})")


class Allocator:
    def __init__(self, cfg: AllocationConfig, *, capital: float, assets: Iterable[str],
                 compound: dict[str, bool] | None = None, max_concurrent: int | None = None) -> None:
        self.cfg = cfg
        self.capital = float(capital)
        self.order = tuple(assets)
        self.slots = max(1, min(len(self.order), max_concurrent or len(self.order)))
        self.share = self.capital / self.slots
        start = min(self.share, cfg.cap_pct * self.capital)
        comp = compound or {}
        self.books: dict[str, AssetBook] = {}
        for i, a in enumerate(self.order):
            active = i < self.slots
            self.books[a] = AssetBook(a, start if active else 0.0, compound=bool(comp.get(a, False)),
                                      state="active" if active else "standby")
        self.periods = 0

    @classmethod
    def for_config(cls, cfg: Config, assets: Iterable[str]) -> "Allocator":
        """The allocator of a config's portfolio over ``assets`` (the meta-supervisor's)."""
        names = tuple(assets)
        pf = cfg.portfolio
        return cls(cfg.allocation, capital=pf.capital_usd, assets=names,
                   compound={x: cfg.assets[x].compound for x in names}, max_concurrent=pf.max_concurrent_assets)

    # -- inputs ---------------------------------------------------------------------------
    def on_report(self, r: PerformanceReport) -> None:
        b = self.books.get(r.asset)
        if b is None:
            return
        b.net_pnl = r.net_pnl
        last = b.samples[-1][0] if b.samples else -math.inf
        for i, p in enumerate(r.pnl):
            ts = r.first_ts + i * r.sample_s
            if ts > last + 1e-9:
                b.samples.append((ts, p, r.capital))
                last = ts
        self._trim(b, r.ts)

    def _trim(self, b: AssetBook, now: float) -> None:
        horizon = now - self.cfg.window_s
        while len(b.samples) > 1 and b.samples[1][0] <= horizon:
            b.samples.popleft()  # keep one sample at or before the horizon: the first change's base

    def _history_ok(self, b: AssetBook) -> bool:
        return len(b.samples) >= 3 and b.samples[-1][0] - b.samples[0][0] >= self.cfg.min_history_s - 1e-9

    # -- the period -------------------------------------------------------------------------
    def rebalance(self, now: float) -> list[Change]:
        """One allocation period: rescore, move zones, multipliers and capital. The changes made."""
        cfg = self.cfg
        self.periods += 1
        before = {a: (b.base, b.zone, b.multipliers, b.score) for a, b in self.books.items()}
        scores: dict[str, float] = {}
        blocks: dict[str, list[float]] = {}
        fell: set[str] = set()
        for a, b in self.books.items():
            self._trim(b, now)
            if b.state != "active":
                continue
            raw = raw_parts(b.samples) if self._history_ok(b) else None
            if raw is None:
                continue  # too little data: the asset holds everything
            b.score = score_parts(raw, cfg)
            scores[a] = b.score.score
            blocks[a] = block_returns(b.samples, block_s(cfg))
            if plunged(raw.drawdown, raw.return_h, cfg):
                fell.add(a)
        scored: dict[str, float] = {}
        neutral: list[str] = []
        for a, (t_rel, evidence) in capital_evidence(scores, blocks, cfg, fell).items():
            self.books[a].relative_t = t_rel
            if evidence:
                scored[a] = scores[a]
            else:
                neutral.append(a)
        for a, (acted, t, _) in evidence_scores(scores, blocks, cfg, fell).items():
            b = self.books[a]
            b.evidence_t = t
            b.zone = zone_for(acted, b.zone, cfg.zones, cfg.hysteresis)
            b.multipliers = step_multipliers(b.multipliers, zone_multipliers(b.zone, cfg), cfg.max_multiplier_step)
        if cfg.enabled and (scored or neutral):
            bases = {a: b.base for a, b in self.books.items() if b.state == "active"}
            holding = sum(v for a, v in bases.items() if a not in scored and a not in neutral)
            neutral_score_ = neutral_score(cfg)
            targets = capital_targets({**scored, **{a: neutral_score_ for a in neutral}}, holding, self.capital,
                                      self.share, cfg)
            if neutral:
                room = self.capital - holding - sum(targets.values())
                targets.update(share_out(targets, neutral, room, self.capital, cfg))
            new = step_capital(bases, targets, self.capital, cfg)
            for a, v in new.items():
                self.books[a].base = v
        if not cfg.enabled:  # scores still shown, nothing moves
            for a, b in self.books.items():
                _, z, m, _ = before[a]
                b.zone, b.multipliers = z, m
        out = []
        for a, b in self.books.items():
            base, zone, mult, score = before[a]
            if abs(b.base - base) > 1e-6 or zone != b.zone or mult != b.multipliers:
                why = (f"score {b.score.score:.2f} (t {b.evidence_t:+.1f}, against the rest "
                       f"{b.relative_t:+.1f}) in zone {b.zone}"
                       if b.score is not None else "rescored")
                out.append(Change(a, why, base, b.base, zone, b.zone, mult, b.multipliers, score, b.score))
        return out

    # -- events ---------------------------------------------------------------------------------
    def quarantine(self, asset: str) -> list[Change]:
        """The asset stops: its capital goes to a standby asset, else pro rata to the others."""
        b = self.books[asset]
        if b.state == "quarantined":
            return []
        snap = self._snap()
        released = b.base
        was_active = b.state == "active"
        b.state, b.base = "quarantined", 0.0
        cap = self.cfg.cap_pct * self.capital
        standby = next((x for x in self.books.values() if x.state == "standby"), None)
        if was_active and standby is not None:
            standby.state = "active"
            standby.base = min(max(released, min(self.cfg.floor_usd, cap)), cap)
            standby.zone, standby.multipliers = "hold", Multipliers()
        elif was_active:
            self._spread(released, [x for x in self.books.values() if x.state == "active"], cap)
        return self._diff(snap, f"{asset} quarantined: its capital released")

    def restore(self, asset: str) -> list[Change]:
        """A lifted quarantine: an equal share again if a slot is free, else standby."""
        b = self.books[asset]
        if b.state != "quarantined":
            return []
        snap = self._snap()
        active = [x for x in self.books.values() if x.state == "active"]
        if len(active) >= self.slots:
            b.state = "standby"
            return self._diff(snap, f"{asset} back on standby (no free slot)")
        b.state = "active"
        b.zone, b.multipliers, b.score = "hold", Multipliers(), None
        cap = self.cfg.cap_pct * self.capital
        want = min(self.share, cap)
        idle = max(0.0, self.capital - sum(x.base for x in self.books.values()))
        need = max(0.0, want - idle)
        others = sum(x.base for x in active)
        if need > 0 and others > 0:
            k = max(0.0, (others - need) / others)
            floor = min(self.cfg.floor_usd, cap)
            for x in active:
                x.base = max(floor, x.base * k) if x.base > 0 else 0.0
        b.base = max(0.0, min(want, self.capital - sum(x.base for x in active)))
        return self._diff(snap, f"{asset} back from quarantine: an equal share")

    def _spread(self, amount: float, to: list[AssetBook], cap: float) -> None:
        """Give ``amount`` to ``to`` pro rata to their bases, each up to ``cap``."""
        for _ in range(len(to) + 1):
            open_ = [x for x in to if x.base < cap - 1e-9]
            total = sum(x.base for x in open_)
            if amount <= 1e-9 or not open_ or total <= 0:
                return
            given = 0.0
            for x in open_:
                add = min(amount * x.base / total, cap - x.base)
                x.base += add
                given += add
            amount -= given

    def _snap(self) -> dict[str, tuple]:
        return {a: (b.base, b.zone, b.multipliers, b.score) for a, b in self.books.items()}

    def _diff(self, snap: dict[str, tuple], why: str) -> list[Change]:
        out = []
        for a, b in self.books.items():
            base, zone, mult, score = snap[a]
            if abs(b.base - base) > 1e-6 or zone != b.zone or mult != b.multipliers:
                out.append(Change(a, why, base, b.base, zone, b.zone, mult, b.multipliers, score, b.score))
        return out

    # -- outputs --------------------------------------------------------------------------------
    def update(self, asset: str, now: float) -> AllocationUpdate:
        b = self.books[asset]
        return AllocationUpdate(asset=asset, ts=now, base=b.base, reference=self.share, multipliers=b.multipliers,
                                zone=b.zone, score=b.score, compound=b.compound,
                                size_follows_capital=self.cfg.size_follows_capital)

    @property
    def allocated(self) -> float:
        return sum(b.base for b in self.books.values())

    def active(self) -> list[str]:
        return [a for a in self.order if self.books[a].state == "active"]

