"""The simulated market of one asset: a mid-price process, taker arrivals, a background
L2 book on Hyperliquid's tick grid and an hourly funding rate.

Pure and deterministic: no clock, no threads, no I/O. Time comes in as ``ts``
(seconds); the process starts at ts = 0 with the mid at ``market.price`` and moves in
steps of ``sim.step_s``.

The plain model (``market.regimes = false``), per step of length dt:

- **Mid.** An arithmetic random walk in log price: log-return ~ N(0, (σ·1e-4)²·dt),
  σ = ``market.sigma_bp`` (bp per √s).
- **Takers.** Per side a Poisson number of arrivals with mean A·dt
  (A = ``market.taker_rate``). Each reaches δ bp from the mid with δ ~ Exponential(k)
  (k = ``market.taker_k_per_bp``), so arrivals that reach at least δ bp come with
  intensity A·e^(−kδ), the fill model the quoter assumes. Sizes in units are
  exponential with mean ``taker_size_usd / mid``, rounded to the lot (at least one).
- **Background book.** Best bid/ask half a ``book_spread_bp`` either side of the mid,
  rounded outwards onto the tick grid; further levels spaced by max(one tick, 0.5 bp);
  sizes uniform in 0.5x..1.5x ``depth_usd / mid``, redrawn each step.

The crypto model (``market.regimes = true``, the default) adds, per step:

- **Regimes.** A Markov switching process among ``calm``, ``normal``, ``volatile``,
  ``trending_up``, ``trending_down`` and ``crash`` (``REGIMES``). Each episode lasts an
  exponential time with the regime's mean (calm 10 min, normal 15, volatile 4,
  trending 5, crash 1.5) and then moves on by the transition table ``_TRANSITIONS``
  (crashes come out of normal, volatile or down-trending markets and end in volatile
  markets or a rebound). The process starts ``normal``. Each regime scales σ
  (calm 0.5, normal 1, volatile 2.2, trending 1.3, crash 3.5: σ is the normal
  market's volatility), the taker rate (volume rises with volatility), the background
  book's spread and depth (a crash book is 3x wider and 0.4x as deep), the jump rate
  and size; trending episodes drift ±``trend_bp_per_min``, a crash −8x that.
- **Jumps.** Poisson with ``jump_rate_per_hour`` x the regime's multiplier (calm 0.3,
  volatile 3, crash 20); size Exponential with mean ``jump_bp`` x the regime's size
  multiplier (crash 2), down with probability 0.5 (trending down 0.7, up 0.3,
  crash 0.9).
- **No long-run drift.** Crashes and their down jumps would otherwise sink the price
  for ever; a small constant drift, the negative of the stationary mean of the trend
  and jump drifts, is added in every regime so that E[log-return] = 0 over the long run.
- **Heavy-tailed takers.** Sizes are Lomax (Pareto II) with tail exponent
  ``size_tail_alpha``: P(X > x) = (1 + x/λ)^−α with λ = (α − 1)·mean, mean
  ``taker_size_usd / mid``; many small trades and a few very large ones.
- **Informed flow.** In trending and crash episodes each taker is, with probability
  ``informed_share``, informed: it trades with the drift (a buy when trending up, a
  sell when trending down or crashing) and is flagged ``TakerOrder.informed``. Quotes
  on the side the trend runs into fill more often, just before the price moves away.

**Episodes** (``market.episodes``, regime model only): scheduled stretches of time in
which the market is overridden, e.g. made toxic for a market maker (a forced trend with
mostly informed takers) and then left to recover. Within an episode the steps use its
forced regime (the regime process itself runs on untouched, so the market resumes where
its own process is when the episode ends), its informed share and its trend. The book
follows the regime in force.

Funding (both models): the hourly rate is an Ornstein–Uhlenbeck process with mean
``funding_rate``, stationary std ``funding_vol`` and a reversion time of
``FUNDING_REVERSION_S``, updated every step; with regimes its mean leans with the
trend (+1 std trending up, −1 trending down, −2 in a crash).

Randomness: the seed is split (numpy ``SeedSequence``) into independent streams for
the mid, the taker counts, the reaches, the taker sizes and the book sizes (the plain
model's five, whose draws are unchanged from before regimes existed), then the regime
switches, the jump counts, the jump sizes, the informed coin and funding. Each stream
is consumed strictly in step order (regime draws only at a switch, jump size draws
per jump, informed draws per taker), so the path and the arrivals do not depend on how
time is chopped into ``advance`` calls (one call to 60 s or 600 calls of 0.1 s give
bit-identical results), and the book at a step is a pure function of the seed, the
step, the regime and the mid, however often or rarely it is looked at.
"""
from __future__ import annotations

import math
import random
from decimal import Decimal
from typing import Literal, NamedTuple

import numpy as np

from makerhive.config import MarketConfig, SimConfig
from messages.market import Level
from venues.rules import round_price, round_size, tick_at

_EPS_STEPS = 1e-9  # ts within this many steps of a step boundary counts as reaching it
_LEVEL_SPACING_BP = 0.5

RegimeName = Literal["calm", "normal", "volatile", "trending_up", "trending_down", "crash"]
REGIMES: tuple[RegimeName, ...] = ("calm", "normal", "volatile", "trending_up", "trending_down", "crash")
_CALM, _NORMAL, _VOLATILE, _UP, _DOWN, _CRASH = range(6)
START_REGIME: RegimeName = "normal"

# Per regime (order of REGIMES):
_MEAN_DURATION_S = np.array([600.0, 900.0, 240.0, 300.0, 300.0, 90.0])
_SIGMA_MULT = np.array([0.5, 1.0, 2.2, 1.3, 1.3, 3.5])
_TAKER_MULT = np.array([0.7, 1.0, 1.6, 1.3, 1.3, 2.5])
_SPREAD_MULT = np.array([1.0, 1.0, 1.6, 1.2, 1.2, 3.0])
_DEPTH_MULT = np.array([1.25, 1.0, 0.7, 0.9, 0.9, 0.4])
_TREND_MULT = np.array([0.0, 0.0, 0.0, 1.0, -1.0, -8.0])  # x trend_bp_per_min
_JUMP_RATE_MULT = np.array([0.3, 1.0, 3.0, 1.0, 1.0, 20.0])
_JUMP_SIZE_MULT = np.array([0.7, 1.0, 1.5, 1.0, 1.0, 2.0])
_JUMP_P_DOWN = np.array([0.5, 0.5, 0.5, 0.3, 0.7, 0.9])
_INFORMED_DIR = np.array([0, 0, 0, 1, -1, -1], dtype=np.int8)  # +1: informed takers buy
_FUNDING_BIAS = np.array([0.0, 0.0, 0.0, 1.0, -1.0, -2.0])  # x funding_vol, added to the mean
# Where an episode goes when it ends (rows: from, columns: to; the diagonal is 0).
_TRANSITIONS = np.array([
    # calm  normal volatile  up    down  crash
    [0.00, 0.75, 0.05, 0.10, 0.10, 0.00],  # calm
    [0.30, 0.00, 0.30, 0.18, 0.18, 0.04],  # normal
    [0.05, 0.55, 0.00, 0.15, 0.17, 0.08],  # volatile
    [0.10, 0.60, 0.30, 0.00, 0.00, 0.00],  # trending_up
    [0.05, 0.55, 0.30, 0.00, 0.00, 0.10],  # trending_down
    [0.00, 0.20, 0.50, 0.30, 0.00, 0.00],  # crash
])
_CUM_TRANSITIONS = np.cumsum(_TRANSITIONS, axis=1)
FUNDING_REVERSION_S = 1800.0  # funding's mean-reversion time (OU: e-folding of deviations)


def stationary_occupancy() -> np.ndarray:
    """Long-run share of time spent in each regime (order of ``REGIMES``)."""
    w, v = np.linalg.eig(_TRANSITIONS.T)
    pi = np.abs(np.real(v[:, int(np.argmin(np.abs(w - 1.0)))]))
    occ = pi / pi.sum() * _MEAN_DURATION_S
    return occ / occ.sum()


_OCCUPANCY = stationary_occupancy()


class TakerOrder(NamedTuple):
    """A taker arrival; ``side`` is the aggressor's ("B" buys and hits asks)."""

    side: Literal["B", "A"]
    reach_bp: float  # how far from the mid it is willing to trade, in bp
    sz: float  # units, a multiple of the lot
    informed: bool = False  # trades with the current trend (regime model only)


def seed_entropy(seed: int) -> int:
    """A non-negative entropy value for ``SeedSequence`` from any int (zigzag)."""
    seed = int(seed)
    return 2 * seed if seed >= 0 else -2 * seed - 1


class MarketProcess:
    def __init__(self, asset: str, market: MarketConfig, sim: SimConfig, seed: int) -> None:
        if not sim.step_s > 0:
            raise ValueError(f"sim.step_s must be > 0, got {sim.step_s}")
        self.asset = asset
        self.market = market
        self.sim = sim
        self.sz_decimals = market.sz_decimals
        self._lot = Decimal(1).scaleb(-market.sz_decimals)
        self._lot_f = float(self._lot)
        self._step_s = float(sim.step_s)
        self._vol_step = market.sigma_bp * 1e-4 * math.sqrt(self._step_s)
        self._lam = market.taker_rate * self._step_s
        ss = np.random.SeedSequence(seed_entropy(seed))
        # The first five children are the plain model's streams (unchanged); the rest
        # belong to the regime model and funding.
        (mid_ss, count_ss, reach_ss, size_ss, book_ss,
         regime_ss, jump_ss, jsize_ss, informed_ss, funding_ss) = ss.spawn(10)
        self._rng_mid = np.random.Generator(np.random.PCG64(mid_ss))
        self._rng_count = np.random.Generator(np.random.PCG64(count_ss))
        self._rng_reach = np.random.Generator(np.random.PCG64(reach_ss))
        self._rng_size = np.random.Generator(np.random.PCG64(size_ss))
        self._book_key = int(book_ss.generate_state(2, np.uint64)[0]) << 40
        self._rng_regime = np.random.Generator(np.random.PCG64(regime_ss))
        self._rng_jump = np.random.Generator(np.random.PCG64(jump_ss))
        self._rng_jsize = np.random.Generator(np.random.PCG64(jsize_ss))
        self._rng_informed = np.random.Generator(np.random.PCG64(informed_ss))
        self._rng_funding = np.random.Generator(np.random.PCG64(funding_ss))
        self._n = 0  # steps taken
        self._log_mid = math.log(market.price)
        self._mid = float(market.price)
        self._book_n = -1  # the step the cached book belongs to
        self._bid_px: list[Decimal] = []
        self._ask_px: list[Decimal] = []
        self._bid_lv: list[Level] = []
        self._ask_lv: list[Level] = []
        self._u: list[float] = []
        # -- regimes ----------------------------------------------------------------
        self._regimes = bool(market.regimes)
        self._reg = REGIMES.index(START_REGIME)
        self._reg_left = 0  # steps left in the current episode
        self._reg_steps = [0] * len(REGIMES)  # steps spent in each regime
        self._history: list[tuple[float, RegimeName]] = [(0.0, START_REGIME)]
        self._jumps: list[tuple[float, float]] = []  # (time, size in bp)
        if self._regimes:
            dt = self._step_s
            trend = _TREND_MULT * market.trend_bp_per_min * 1e-4 / 60.0  # log per second
            jump_lam_s = market.jump_rate_per_hour / 3600.0 * _JUMP_RATE_MULT  # per second
            jump_drift = jump_lam_s * market.jump_bp * 1e-4 * _JUMP_SIZE_MULT * (1.0 - 2.0 * _JUMP_P_DOWN)
            compensation = -float(_OCCUPANCY @ (trend + jump_drift))
            self._drift = (trend + compensation) * dt
            self._vol = self._vol_step * _SIGMA_MULT
            self._jump_lam = jump_lam_s * dt
            self._taker_lam = self._lam * _TAKER_MULT
            self._informed_p = np.where(_INFORMED_DIR != 0, market.informed_share, 0.0)
            self._reg_left = self._duration_steps(self._reg)
            self._episodes = []  # (first step index, end step index, forced regime or -1, drift, informed p)
            for e in market.episodes:
                lo = math.ceil(e.start_s / dt - _EPS_STEPS)
                hi = math.ceil(e.end_s / dt - _EPS_STEPS)
                e_trend = trend if e.trend_bp_per_min is None else _TREND_MULT * e.trend_bp_per_min * 1e-4 / 60.0
                share = market.informed_share if e.informed_share is None else e.informed_share
                self._episodes.append((lo, hi, REGIMES.index(e.regime) if e.regime else -1,
                                       (e_trend + compensation) * dt,
                                       np.where(_INFORMED_DIR != 0, share, 0.0)))
        self._reg_eff = self._reg  # the regime in force at the last step (an episode may force one)
        # -- funding ------------------------------------------------------------------
        self._funding = float(market.funding_rate)
        self._f_a = math.exp(-self._step_s / FUNDING_REVERSION_S)
        self._f_b = market.funding_vol * math.sqrt(1.0 - self._f_a * self._f_a)
        if self._regimes:
            self._f_means = [market.funding_rate + b * market.funding_vol for b in _FUNDING_BIAS.tolist()]
        else:
            self._f_means = [float(market.funding_rate)] * len(REGIMES)

    # -- state ------------------------------------------------------------------------
    @property
    def mid(self) -> float:
        return self._mid

    @property
    def time(self) -> float:
        """The time of the last step taken (seconds)."""
        return self._n * self._step_s

    @property
    def steps(self) -> int:
        return self._n

    @property
    def regime(self) -> RegimeName:
        """The regime of the last step taken (always "normal" without regimes)."""
        return REGIMES[self._reg]

    @property
    def regime_history(self) -> tuple[tuple[float, RegimeName], ...]:
        """(time, regime) at every switch taken so far, starting with (0.0, "normal"):
        the regime holds for the steps after that time."""
        return tuple(self._history)

    @property
    def regime_seconds(self) -> dict[RegimeName, float]:
        """Simulated seconds spent in each regime so far."""
        return {name: n * self._step_s for name, n in zip(REGIMES, self._reg_steps)}

    @property
    def jumps(self) -> tuple[tuple[float, float], ...]:
        """Every price jump so far: (time of its step, signed size in bp)."""
        return tuple(self._jumps)

    @property
    def funding_rate(self) -> float:
        """The current hourly funding rate (longs pay shorts when > 0)."""
        return self._funding

    # -- the process ------------------------------------------------------------------
    def advance(self, ts: float) -> list[TakerOrder]:
        """Step the mid up to ``ts``; the taker arrivals of those steps, in step order."""
        target = math.floor(ts / self._step_s + _EPS_STEPS)
        k = target - self._n
        if k <= 0:
            return []
        if self._regimes:
            return self._advance_regimes(k, target)
        self._step_funding(None, k)
        z = self._rng_mid.standard_normal(k)
        # add.accumulate is sequential, so the path is the same as k single steps.
        path = np.cumsum(np.concatenate(([self._log_mid], self._vol_step * z)))
        log_mids = path[1:]
        counts = self._rng_count.poisson(self._lam, size=(k, 2))  # per step: buys, sells
        self._n = target
        self._reg_steps[self._reg] += k
        self._log_mid = float(log_mids[-1])
        self._mid = math.exp(self._log_mid)
        total = int(counts.sum())
        if total == 0:
            return []
        reach = self._rng_reach.exponential(1.0 / self.market.taker_k_per_bp, size=total)
        units = self._rng_size.exponential(1.0, size=total)
        per_step = counts.sum(axis=1)
        mids = np.exp(np.repeat(log_mids, per_step))
        mean_units = self.market.taker_size_usd / mids
        sides = np.repeat(np.tile(np.array(["B", "A"]), k), counts.ravel())
        out: list[TakerOrder] = []
        d = self.sz_decimals
        lot = self._lot
        for side, r, u, m in zip(sides.tolist(), reach.tolist(), units.tolist(), mean_units.tolist()):
            sz = max(round_size(u * m, d, "nearest"), lot)
            out.append(TakerOrder(side, r, float(sz)))
        return out

    def _duration_steps(self, reg: int) -> int:
        """An episode's length in whole steps (at least one), from the regime stream."""
        return max(1, math.ceil(self._rng_regime.exponential(_MEAN_DURATION_S[reg]) / self._step_s))

    def _regime_path(self, k: int) -> np.ndarray:
        """The regime of each of the next k steps; switches when an episode runs out."""
        out = np.empty(k, dtype=np.intp)
        i = 0
        while i < k:
            if self._reg_left == 0:  # the episode ended with the previous step: switch now
                u = self._rng_regime.random()
                row = _CUM_TRANSITIONS[self._reg]
                self._reg = min(int(np.searchsorted(row, u * row[-1], side="right")), len(REGIMES) - 1)
                self._reg_left = self._duration_steps(self._reg)
                self._history.append(((self._n + i) * self._step_s, REGIMES[self._reg]))
            m = min(self._reg_left, k - i)
            out[i:i + m] = self._reg
            self._reg_steps[self._reg] += m
            self._reg_left -= m
            i += m
        return out

    def _step_funding(self, regs: np.ndarray | None, k: int) -> None:
        z = self._rng_funding.standard_normal(k).tolist()
        f, a, b = self._funding, self._f_a, self._f_b
        if regs is None:
            mu = self._f_means[self._reg]
            for zi in z:
                f = mu + (f - mu) * a + b * zi
        else:
            means = self._f_means
            for r, zi in zip(regs.tolist(), z):
                mu = means[r]
                f = mu + (f - mu) * a + b * zi
        self._funding = f

    def _in_force(self, n0: int, k: int, chain: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per step of the next k: the regime in force, its drift and informed share (the
        chain's, unless an episode overrides them)."""
        regs, drift, informed_p = chain, self._drift[chain], self._informed_p[chain]
        for lo, hi, forced, e_drift, e_inf in self._episodes:
            a, b = max(lo - n0, 0), min(hi - n0, k)
            if a >= b:
                continue
            if regs is chain:
                regs, drift, informed_p = chain.copy(), drift.copy(), informed_p.copy()
            if forced >= 0:
                regs[a:b] = forced
            drift[a:b] = e_drift[regs[a:b]]
            informed_p[a:b] = e_inf[regs[a:b]]
        return regs, drift, informed_p

    def _advance_regimes(self, k: int, target: int) -> list[TakerOrder]:
        n0 = self._n
        regs, drift, informed_p = self._in_force(n0, k, self._regime_path(k))
        self._reg_eff = int(regs[-1])
        self._step_funding(regs, k)
        z = self._rng_mid.standard_normal(k)
        inc = drift + self._vol[regs] * z
        n_jumps = self._rng_jump.poisson(self._jump_lam[regs])
        n_total = int(n_jumps.sum())
        if n_total:
            at = np.repeat(np.arange(k), n_jumps)
            jr = regs[at]
            u = self._rng_jsize.random((n_total, 2))  # per jump: size, sign
            sign = np.where(u[:, 1] < _JUMP_P_DOWN[jr], -1.0, 1.0)
            bp = sign * self.market.jump_bp * _JUMP_SIZE_MULT[jr] * -np.log1p(-u[:, 0])
            inc = inc + np.bincount(at, weights=bp * 1e-4, minlength=k)
            dt = self._step_s
            self._jumps.extend(((n0 + int(j) + 1) * dt, float(b)) for j, b in zip(at.tolist(), bp.tolist()))
        # add.accumulate is sequential, so the path is the same as k single steps.
        path = np.cumsum(np.concatenate(([self._log_mid], inc)))
        log_mids = path[1:]
        counts = self._rng_count.poisson(self._taker_lam[regs][:, None], size=(k, 2))  # buys, sells
        self._n = target
        self._log_mid = float(log_mids[-1])
        self._mid = math.exp(self._log_mid)
        total = int(counts.sum())
        if total == 0:
            return []
        mk = self.market
        reach = self._rng_reach.exponential(1.0 / mk.taker_k_per_bp, size=total)
        alpha = mk.size_tail_alpha
        units = self._rng_size.pareto(alpha, size=total) * (alpha - 1.0)  # Lomax, mean 1
        informed_u = self._rng_informed.random(total)
        flat = counts.ravel()
        per_step = counts.sum(axis=1)
        mids = np.exp(np.repeat(log_mids, per_step))
        mean_units = mk.taker_size_usd / mids
        sides = np.repeat(np.tile(np.array(["B", "A"]), k), flat)
        t_regs = np.repeat(np.repeat(regs, 2), flat)
        informed = informed_u < np.repeat(np.repeat(informed_p, 2), flat)
        if informed.any():
            sides = np.where(informed, np.where(_INFORMED_DIR[t_regs] > 0, "B", "A"), sides)
        out: list[TakerOrder] = []
        d = self.sz_decimals
        lot = self._lot
        for side, r, u, m, inf in zip(sides.tolist(), reach.tolist(), units.tolist(), mean_units.tolist(),
                                      informed.tolist()):
            sz = max(round_size(u * m, d, "nearest"), lot)
            out.append(TakerOrder(side, r, float(sz), inf))
        return out

    # -- the background book ----------------------------------------------------------
    def _book_reset(self) -> None:
        if self._book_n == self._n:
            return
        self._book_n = self._n
        self._bid_px.clear()
        self._ask_px.clear()
        self._bid_lv.clear()
        self._ask_lv.clear()
        self._u.clear()

    def _uniforms(self, levels: int) -> None:
        """Per-level size draws of this step: bid, ask, bid, ask, ... (prefix-stable)."""
        if len(self._u) >= 2 * levels:
            return
        rng = random.Random(self._book_key | self._n)
        n = max(2 * levels, 2 * self.sim.book_levels)
        self._u = [rng.random() for _ in range(n)]

    @property
    def book_spread_bp(self) -> float:
        """The background book's spread now (the configured one, scaled by the regime)."""
        if not self._regimes:
            return self.market.book_spread_bp
        return self.market.book_spread_bp * float(_SPREAD_MULT[self._reg_eff])

    @property
    def depth_usd(self) -> float:
        """Mean displayed size per background level now (configured, scaled by the regime)."""
        if not self._regimes:
            return self.market.depth_usd
        return self.market.depth_usd * float(_DEPTH_MULT[self._reg_eff])

    def _extend_prices(self, levels: int) -> None:
        d = self.sz_decimals
        half = self.book_spread_bp / 2e4
        if not self._bid_px:
            self._bid_px.append(round_price(self._mid * (1 - half), d, "down"))
            self._ask_px.append(round_price(self._mid * (1 + half), d, "up"))
        step_frac = Decimal(repr(_LEVEL_SPACING_BP * 1e-4))
        while len(self._bid_px) < levels:
            b = self._bid_px[-1]
            gap = max(tick_at(b, d), b * step_frac)
            if b - gap <= 0:
                break
            nb = round_price(b - gap, d, "down")
            if nb >= b or nb <= 0:  # defensive; rounding down below b - tick cannot do this
                break
            self._bid_px.append(nb)
        while len(self._ask_px) < levels:
            a = self._ask_px[-1]
            gap = max(tick_at(a, d), a * step_frac)
            self._ask_px.append(round_price(a + gap, d, "up"))

    def _size(self, u: float) -> float:
        mean = self.depth_usd / self._mid
        sz = round_size(mean * (0.5 + u), self.sz_decimals, "nearest")
        return float(max(sz, self._lot))

    def book(self, levels: int) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """The background book at the current step: (bids best first, asks best first)."""
        if levels <= 0:
            return (), ()
        self._book_reset()
        self._extend_prices(levels)
        self._uniforms(levels)
        u = self._u
        while len(self._bid_lv) < min(levels, len(self._bid_px)):
            i = len(self._bid_lv)
            self._bid_lv.append(Level(float(self._bid_px[i]), self._size(u[2 * i])))
        while len(self._ask_lv) < levels:
            i = len(self._ask_lv)
            self._ask_lv.append(Level(float(self._ask_px[i]), self._size(u[2 * i + 1])))
        return tuple(self._bid_lv[:levels]), tuple(self._ask_lv[:levels])
