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
  Forced episodes get it too, so a forced trend runs a little faster up than down (with
  config.toml's BTC, +2.69 against −2.39 bp a minute; HYPE +8.21 against −6.86): read
  the evaluation's trending_up and trending_down as near mirrors, not exact ones.
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

Speed: steps are generated ahead in chunks of ``_CHUNK`` (every stream still drawn in
step order, so a chunk boundary changes nothing: episodes, switches, jumps and funding
depend only on the step index) and ``advance`` serves them from the chunk. The book is
worked out on floats with the float rules (``exchange_rules.ticks``, equal to the Decimal ones
bit for bit); each level's next price outwards is worked out once, in Decimal as
before, and remembered.
"""
from __future__ import annotations

import math
import random
from decimal import Decimal
from typing import Literal, NamedTuple

import numpy as np

from config import MarketConfig, SimConfig
from messages.market import Level
from exchange_rules.ticks import round_price, round_price_float, round_size_float, tick_at

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


_CHUNK = 512  # steps generated at a time (each random stream in step order, as one by one)
_CHAIN_CACHE_MAX = 200_000  # background price ladder links kept per market (then forgotten)
_LADDER_CACHE_MAX = 20_000  # whole ladders (by their touch) kept per market and side
_EXACT_FLOAT_PX = 2.0 ** 53  # below this, a grid price and its float stand for each other


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
        # -- the state after the last step taken -----------------------------------------
        self._n = 0  # steps taken
        self._log_mid = math.log(market.price)
        self._mid = float(market.price)
        self._regimes = bool(market.regimes)
        self._spread_mult = _SPREAD_MULT.tolist() if self._regimes else [1.0] * len(REGIMES)
        self._reg = REGIMES.index(START_REGIME)  # the chain's regime at the last step taken
        self._reg_eff = self._reg  # the regime in force at the last step (an episode may force one)
        self._funding = float(market.funding_rate)
        # -- the background book of the current step (filled as far as asked) -----------
        self._book_n = -1  # the step the cached book belongs to
        self._bid_px: list[float] = []
        self._ask_px: list[float] = []
        self._bid_lv: list[Level] = []
        self._ask_lv: list[Level] = []
        self._bid_end = False  # the bid side ran out of positive prices
        self._u: list[float] = []
        # the price ladder: each valid price's next level outwards (None: none), by side
        self._next_bid: dict[float, float | None] = {}
        self._next_ask: dict[float, float | None] = {}
        # ... and each side's ladder from a touch, as far as it has been read: a step whose
        # touch was seen before shares that list (the ladder is a function of the touch)
        self._bid_ladders: dict[float, list[float]] = {}
        self._ask_ladders: dict[float, list[float]] = {}
        self._step_frac = Decimal(repr(_LEVEL_SPACING_BP * 1e-4))
        # below this a bid may round down to nothing (the largest tick of any price below 1)
        self._min_touch = float(min(Decimal(1).scaleb(market.sz_decimals - 6), Decimal(1)))
        # -- steps generated ahead, in chunks: the generator's own state -----------------
        self._g_n = 0  # steps generated
        self._g_log_mid = self._log_mid
        self._g_funding = self._funding
        self._g_reg = self._reg
        self._g_reg_left = 0  # steps left in the current episode
        self._c0 = 0  # the first step of the current chunk
        self._c_log_mid: list[float] = []  # per step of the chunk: log mid after it
        self._c_off: list[int] = [0]  # per step: its takers are _c_takers[off[i]:off[i + 1]]
        self._c_takers: list[TakerOrder] = []
        self._c_chain: list[int] = []  # the chain's regime
        self._c_eff: list[int] = []  # the regime in force
        self._c_funding: list[float] = []  # the funding rate after it
        self._steps_before = [0] * len(REGIMES)  # steps per chain regime before the chunk
        # (step index, time, regime) at every switch, and (step index, time, bp) of every
        # jump, as generated: what has been taken shows (regime_history, jumps)
        self._history: list[tuple[int, float, int]] = [(-1, 0.0, self._reg)]
        self._jumps: list[tuple[int, float, float]] = []
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
            self._g_reg_left = self._duration_steps(self._g_reg)
            self._episodes = []  # (first step index, end step index, forced regime or -1, drift, informed p)
            for e in market.episodes:
                lo = math.ceil(e.start_s / dt - _EPS_STEPS)
                hi = math.ceil(e.end_s / dt - _EPS_STEPS)
                e_trend = trend if e.trend_bp_per_min is None else _TREND_MULT * e.trend_bp_per_min * 1e-4 / 60.0
                share = market.informed_share if e.informed_share is None else e.informed_share
                self._episodes.append((lo, hi, REGIMES.index(e.regime) if e.regime else -1,
                                       (e_trend + compensation) * dt,
                                       np.where(_INFORMED_DIR != 0, share, 0.0)))
        # -- funding ------------------------------------------------------------------
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
        n = self._n
        return tuple((t, REGIMES[r]) for j, t, r in self._history if j < n)

    @property
    def regime_seconds(self) -> dict[RegimeName, float]:
        """Simulated seconds spent in each regime so far."""
        counts = list(self._steps_before)
        for r in self._c_chain[:self._n - self._c0]:
            counts[r] += 1
        return {name: n * self._step_s for name, n in zip(REGIMES, counts)}

    @property
    def jumps(self) -> tuple[tuple[float, float], ...]:
        """Every price jump so far: (time of its step, signed size in bp)."""
        n = self._n
        return tuple((t, bp) for j, t, bp in self._jumps if j <= n)

    @property
    def funding_rate(self) -> float:
        """The current hourly funding rate (longs pay shorts when > 0)."""
        return self._funding

    # -- the process ------------------------------------------------------------------
    def advance(self, ts: float) -> list[TakerOrder]:
        """Step the mid up to ``ts``; the taker arrivals of those steps, in step order."""
        target = math.floor(ts / self._step_s + _EPS_STEPS)
        n = self._n
        if target <= n:
            return []
        c0 = self._c0
        if target <= self._g_n:  # within the chunk at hand
            off = self._c_off
            out = self._c_takers[off[n - c0]:off[target - c0]]
        else:
            out = []
            while n < target:
                if n >= self._g_n:
                    self._generate()
                c0 = self._c0
                upto = min(target, self._g_n)
                off = self._c_off
                out += self._c_takers[off[n - c0]:off[upto - c0]]
                n = upto
        self._n = target
        i = target - 1 - c0
        self._log_mid = lm = self._c_log_mid[i]
        self._mid = math.exp(lm)
        self._reg = self._c_chain[i]
        self._reg_eff = self._c_eff[i]
        self._funding = self._c_funding[i]
        return out

    def _generate(self) -> None:
        """The next chunk of steps: every stream drawn in step order, as if one by one."""
        n0, k = self._g_n, _CHUNK
        for r in self._c_chain:
            self._steps_before[r] += 1
        if self._regimes:
            log_mids, takers, off = self._generate_regimes(n0, k)
        else:
            log_mids, takers, off = self._generate_plain(k)
        self._c0, self._g_n = n0, n0 + k
        self._c_log_mid, self._c_takers, self._c_off = log_mids, takers, off

    def _funding_path(self, regs: list[int], k: int) -> list[float]:
        """The funding rate after each of the next k steps (regs: the regime in force)."""
        z = self._rng_funding.standard_normal(k).tolist()
        f, a, b = self._g_funding, self._f_a, self._f_b
        means = self._f_means
        out = [0.0] * k
        for i, (r, zi) in enumerate(zip(regs, z)):
            mu = means[r]
            f = mu + (f - mu) * a + b * zi
            out[i] = f
        self._g_funding = f
        return out

    def _takers(self, k: int, log_mids: np.ndarray, counts: np.ndarray, sides: np.ndarray,
                reach: np.ndarray, units: np.ndarray, informed: list[bool] | None) -> tuple[list[TakerOrder], list[int]]:
        """The chunk's taker orders, in step order, and each step's offset into them."""
        per_step = counts.sum(axis=1)
        off = [0]
        off.extend(np.cumsum(per_step).tolist())
        if not off[-1]:
            return [], off
        # scalar exp, like the jump sizes' log1p: the same numbers on every CPU
        mids = np.array([math.exp(x) for x in np.repeat(log_mids, per_step).tolist()])
        mean_units = self.market.taker_size_usd / mids
        d, lot = self.sz_decimals, self._lot_f
        out: list[TakerOrder] = []
        if informed is None:
            for side, r, u, m in zip(sides.tolist(), reach.tolist(), units.tolist(), mean_units.tolist()):
                sz = round_size_float(u * m, d, "nearest")
                out.append(TakerOrder(side, r, sz if sz > lot else lot))
        else:
            for side, r, u, m, inf in zip(sides.tolist(), reach.tolist(), units.tolist(), mean_units.tolist(),
                                          informed):
                sz = round_size_float(u * m, d, "nearest")
                out.append(TakerOrder(side, r, sz if sz > lot else lot, inf))
        return out, off

    def _generate_plain(self, k: int) -> tuple[list[float], list[TakerOrder], list[int]]:
        chain = [self._g_reg] * k
        self._c_chain = self._c_eff = chain
        self._c_funding = self._funding_path(chain, k)
        z = self._rng_mid.standard_normal(k)
        # add.accumulate is sequential, so the path is the same as k single steps.
        path = np.cumsum(np.concatenate(([self._g_log_mid], self._vol_step * z)))
        log_mids = path[1:]
        counts = self._rng_count.poisson(self._lam, size=(k, 2))  # per step: buys, sells
        self._g_log_mid = float(log_mids[-1])
        total = int(counts.sum())
        if total == 0:
            return log_mids.tolist(), [], [0] * (k + 1)
        reach = self._rng_reach.exponential(1.0 / self.market.taker_k_per_bp, size=total)
        units = self._rng_size.exponential(1.0, size=total)
        sides = np.repeat(np.tile(np.array(["B", "A"]), k), counts.ravel())
        takers, off = self._takers(k, log_mids, counts, sides, reach, units, None)
        return log_mids.tolist(), takers, off

    def _duration_steps(self, reg: int) -> int:
        """An episode's length in whole steps (at least one), from the regime stream."""
        return max(1, math.ceil(self._rng_regime.exponential(_MEAN_DURATION_S[reg]) / self._step_s))

    def _regime_path(self, n0: int, k: int) -> np.ndarray:
        """The chain's regime at each of the k steps from step n0; it switches when an
        episode runs out (at the step after its last)."""
        out = np.empty(k, dtype=np.intp)
        i = 0
        while i < k:
            if self._g_reg_left == 0:  # the episode ended with the previous step: switch now
                u = self._rng_regime.random()
                row = _CUM_TRANSITIONS[self._g_reg]
                self._g_reg = min(int(np.searchsorted(row, u * row[-1], side="right")), len(REGIMES) - 1)
                self._g_reg_left = self._duration_steps(self._g_reg)
                self._history.append((n0 + i, (n0 + i) * self._step_s, self._g_reg))
            m = min(self._g_reg_left, k - i)
            out[i:i + m] = self._g_reg
            self._g_reg_left -= m
            i += m
        return out

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

    def _generate_regimes(self, n0: int, k: int) -> tuple[list[float], list[TakerOrder], list[int]]:
        chain = self._regime_path(n0, k)
        regs, drift, informed_p = self._in_force(n0, k, chain)
        self._c_chain = chain.tolist()
        self._c_eff = regs_list = regs.tolist()
        self._c_funding = self._funding_path(regs_list, k)
        z = self._rng_mid.standard_normal(k)
        inc = drift + self._vol[regs] * z
        n_jumps = self._rng_jump.poisson(self._jump_lam[regs])
        n_total = int(n_jumps.sum())
        if n_total:
            at = np.repeat(np.arange(k), n_jumps)
            jr = regs[at]
            u = self._rng_jsize.random((n_total, 2))  # per jump: size, sign
            sign = np.where(u[:, 1] < _JUMP_P_DOWN[jr], -1.0, 1.0)
            # scalar log1p: numpy's vectorised one takes a SIMD path (AVX-512 where the CPU has
            # it) whose last bit differs from machine to machine; a seed must give the same
            # market on every machine
            size = np.array([-math.log1p(-x) for x in u[:, 0].tolist()])
            bp = sign * self.market.jump_bp * _JUMP_SIZE_MULT[jr] * size
            inc = inc + np.bincount(at, weights=bp * 1e-4, minlength=k)
            dt = self._step_s
            self._jumps.extend((n0 + j + 1, (n0 + j + 1) * dt, b) for j, b in zip(at.tolist(), bp.tolist()))
        # add.accumulate is sequential, so the path is the same as k single steps.
        path = np.cumsum(np.concatenate(([self._g_log_mid], inc)))
        log_mids = path[1:]
        counts = self._rng_count.poisson(self._taker_lam[regs][:, None], size=(k, 2))  # buys, sells
        self._g_log_mid = float(log_mids[-1])
        total = int(counts.sum())
        if total == 0:
            return log_mids.tolist(), [], [0] * (k + 1)
        mk = self.market
        reach = self._rng_reach.exponential(1.0 / mk.taker_k_per_bp, size=total)
        alpha = mk.size_tail_alpha
        units = self._rng_size.pareto(alpha, size=total) * (alpha - 1.0)  # Lomax, mean 1
        informed_u = self._rng_informed.random(total)
        flat = counts.ravel()
        sides = np.repeat(np.tile(np.array(["B", "A"]), k), flat)
        t_regs = np.repeat(np.repeat(regs, 2), flat)
        informed = informed_u < np.repeat(np.repeat(informed_p, 2), flat)
        if informed.any():
            sides = np.where(informed, np.where(_INFORMED_DIR[t_regs] > 0, "B", "A"), sides)
        takers, off = self._takers(k, log_mids, counts, sides, reach, units, informed.tolist())
        return log_mids.tolist(), takers, off

    # -- the background book ----------------------------------------------------------
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

    def _book_reset(self) -> None:
        d = self.sz_decimals
        half = self.market.book_spread_bp * self._spread_mult[self._reg_eff] / 2e4  # book_spread_bp / 2e4
        # the touch: half the spread either side of the mid, rounded outwards onto the grid
        bid = round_price_float(self._mid * (1 - half), d, "down")
        ask = round_price_float(self._mid * (1 + half), d, "up")
        self._book_n = self._n
        self._bid_px = _ladder(self._bid_ladders, bid)
        self._ask_px = _ladder(self._ask_ladders, ask)
        self._bid_lv = []
        self._ask_lv = []
        self._bid_end = False
        self._u = []

    def _next_level(self, px: float, bid: bool) -> float | None:
        """The next valid price outwards from ``px``: max(one tick, 0.5 bp) further, rounded
        outwards (None: no positive one). Worked out in Decimal, once per price."""
        d = self.sz_decimals
        p = Decimal(repr(px))  # a valid price below 2^53: exactly the Decimal it came from
        gap = max(tick_at(p, d), p * self._step_frac)
        if bid:
            if p - gap <= 0:
                return None
            nb = round_price(p - gap, d, "down")
            if nb >= p or nb <= 0:  # defensive; rounding down below p - tick cannot do this
                return None
            return float(nb)
        return float(round_price(p + gap, d, "up"))

    def _extend_bids(self, levels: int) -> None:
        bids = self._bid_px
        if len(bids) >= levels or self._bid_end:
            return
        chain = self._next_bid
        b = bids[-1]
        while len(bids) < levels:
            nb = chain.get(b, 0.0)
            if nb == 0.0:
                if not b < _EXACT_FLOAT_PX:
                    raise OverflowError(f"background price {b} too large for the float book")
                if len(chain) > _CHAIN_CACHE_MAX:
                    chain.clear()
                nb = chain[b] = self._next_level(b, True)
            if nb is None:
                self._bid_end = True
                return
            bids.append(nb)
            b = nb

    def _extend_asks(self, levels: int) -> None:
        asks = self._ask_px
        if len(asks) >= levels:
            return
        chain = self._next_ask
        a = asks[-1]
        while len(asks) < levels:
            na = chain.get(a)
            if na is None:
                if not a < _EXACT_FLOAT_PX:
                    raise OverflowError(f"background price {a} too large for the float book")
                if len(chain) > _CHAIN_CACHE_MAX:
                    chain.clear()
                na = chain[a] = self._next_level(a, False)
            asks.append(na)  # type: ignore[arg-type]
            a = na  # type: ignore[assignment]

    def _uniforms(self, levels: int) -> list[float]:
        """Per-level size draws of this step: bid, ask, bid, ask, ... (prefix-stable)."""
        if len(self._u) < 2 * levels:
            rng = random.Random(self._book_key | self._n)
            n = max(2 * levels, 2 * self.sim.book_levels)
            self._u = [rng.random() for _ in range(n)]
        return self._u

    def _fill(self, levels: int, bid: bool) -> list[Level]:
        """One side's levels of this step, at least ``levels`` deep (bids: if there are)."""
        if bid:
            lv, px = self._bid_lv, self._bid_px
            self._extend_bids(levels)
            end, j = min(levels, len(px)), 0
        else:
            lv, px = self._ask_lv, self._ask_px
            self._extend_asks(levels)
            end, j = levels, 1
        start = len(lv)
        if start < end:
            u = self._uniforms(levels)
            mean = self.depth_usd / self._mid
            d, lot = self.sz_decimals, self._lot_f
            p = 10.0 ** d if d <= 22 else math.nan  # exact
            append = lv.append
            for v, price in zip(u[2 * start + j:2 * end:2], px[start:end]):
                x = mean * (0.5 + v)
                # round_size_float(x, d, "nearest") inlined: the nearest lot, unless x is
                # near a half lot (where float noise could matter: the exact function decides)
                q = x * p
                if -1e13 < q < 1e13:
                    m = round(q)
                    f = q - m
                    sz = m / p if -0.49 < f < 0.49 else round_size_float(x, d, "nearest")
                else:
                    sz = round_size_float(x, d, "nearest")
                append(Level(price, sz if sz > lot else lot))
        return lv

    def touch_bounds(self) -> tuple[float, float] | None:
        """(lo, hi) with the background's best bid <= lo and best ask >= hi at the current
        step (the unrounded touch: rounding goes outwards), without working the book out;
        None where only ``top()`` can tell (the bid might round to nothing)."""
        if self._book_n == self._n:
            return self._bid_px[0], self._ask_px[0]
        half = self.market.book_spread_bp * self._spread_mult[self._reg_eff] / 2e4  # as book_spread_bp / 2e4
        lo = self._mid * (1 - half)
        if not lo >= self._min_touch:
            return None
        return lo, self._mid * (1 + half)

    def top(self) -> tuple[float, float]:
        """The background book's best bid and ask prices at the current step (what
        ``book(1)`` shows, without the sizes)."""
        if self._book_n != self._n:
            self._book_reset()
        return self._bid_px[0], self._ask_px[0]

    def level(self, side: str, px: float, depth: int) -> float | None:
        """The background size at ``px`` on one side ("B": bids) among the first ``depth``
        levels of this step: 0.0 if no level has that price; None if ``px`` lies beyond
        the ``depth``-th level (the side is at least that deep: no news from there)."""
        if self._book_n != self._n:
            self._book_reset()
        bid = side == "B"
        prices = self._bid_px if bid else self._ask_px
        i = 0
        while i < depth:
            if i == len(prices):
                if bid:
                    self._extend_bids(min(depth, i + 8))
                else:
                    self._extend_asks(min(depth, i + 8))
                if i == len(prices):
                    return 0.0  # the side ran out above px
            p = prices[i]
            if p == px:
                return self._fill(i + 1, bid)[i].sz
            if p < px if bid else p > px:
                return 0.0  # between two levels
            i += 1
        return None

    def book(self, levels: int) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """The background book at the current step: (bids best first, asks best first)."""
        if levels <= 0:
            return (), ()
        if self._book_n != self._n:
            self._book_reset()
        return tuple(self._fill(levels, True)[:levels]), tuple(self._fill(levels, False)[:levels])


def _ladder(ladders: dict[float, list[float]], touch: float) -> list[float]:
    """The remembered ladder of prices that starts at ``touch`` (a new one if none)."""
    px = ladders.get(touch)
    if px is None:
        if len(ladders) > _LADDER_CACHE_MAX:
            ladders.clear()
        px = ladders[touch] = [touch]
    return px
