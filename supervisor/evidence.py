"""Is an asset's score evidence or noise? The t-statistic of its returns.

A market maker's PnL over a few minutes is mostly noise: scores computed on it rank
assets differently every period, and capital that follows them pays for each move
(smaller quotes where it left, a queue to rebuild where it went) without earning more.
So the allocator moves an asset only on evidence: the mean of its returns on capital,
in blocks long enough to tame the PnL's autocorrelation (``evidence_block_s``, at most
a tenth of the window), must be ``min_t_stat`` standard errors away from zero (with few
blocks, Student's t equivalent: a t from three blocks is itself noise). That absolute
test, like the score, sets the zone: when every asset earns, every one may be rewarded.

Capital asks more: when every asset earns, their scores differ by noise, and capital
that follows those differences earns less than equal shares. So an asset's capital
rises only when it is proven earning and better than the rest (its block returns less
the other assets' mean, ``relative_blocks``, with a Bonferroni share of the threshold)
and falls when it is proven losing or worse than the rest, or plunged; otherwise it
shares equally what the assets with evidence leave: a proven loser's capital goes to
the others.
Pure: samples in, numbers out.
"""
from __future__ import annotations

import math
from functools import lru_cache
from statistics import fmean, variance
from typing import Collection, Iterable, Sequence

from config import AllocationConfig

# scipy.stats is imported where it is used: importing it costs about 0.6 s, which every
# backtest process (an evaluation's, an optimiser's, a parallel backtest's share) would
# pay at start though most of them never allocate


def block_s(cfg: AllocationConfig) -> float:
    return min(cfg.evidence_block_s, cfg.window_s / 10.0)


def block_returns(samples: Iterable[tuple[float, float, float]], block: float) -> list[float]:
    """Returns on capital summed over consecutive blocks of ``block`` seconds, from
    (ts, cumulative PnL, capital) samples, oldest first; an unfinished last block is left out."""
    pts = list(samples)
    out: list[float] = []
    acc, start = 0.0, None
    for (t0, p0, _), (t1, p1, cap) in zip(pts, pts[1:]):
        if t1 <= t0 or cap <= 0 or not (math.isfinite(p0) and math.isfinite(p1) and math.isfinite(cap)):
            continue
        if start is None:
            start = t0
        acc += (p1 - p0) / cap
        if t1 - start >= block - 1e-9:
            out.append(acc)
            acc, start = 0.0, t1
    return out


def t_stat(returns: Sequence[float]) -> float:
    """Mean / standard error of the block returns (0 with fewer than two blocks)."""
    if len(returns) < 2:
        return 0.0
    mean, var = fmean(returns), variance(returns) / len(returns)
    if var <= 0.0:
        return 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
    return mean / math.sqrt(var)


@lru_cache(maxsize=512)
def critical_t(min_t: float, blocks: int) -> float:
    """The |t| over ``blocks`` block returns as rare under noise as ``min_t`` standard errors
    of a normal: a t from few blocks is itself noisy (Student's t, blocks − 1 degrees of
    freedom: 4.5 for three blocks, 2.3 for ten, at ``min_t`` 2)."""
    if min_t <= 0.0:
        return 0.0
    if blocks < 2:
        return math.inf
    from scipy.stats import norm
    from scipy.stats import t as student_t

    return float(student_t.isf(norm.sf(min_t), blocks - 1))


@lru_cache(maxsize=64)
def _bonferroni_t(min_t: float, tests: int) -> float:
    """The normal quantile as rare as ``min_t`` shared among ``tests`` tests."""
    from scipy.stats import norm

    return float(norm.isf(norm.sf(min_t) / tests))


def significant(t: float, blocks: int, cfg: AllocationConfig) -> bool:
    return abs(t) >= critical_t(cfg.min_t_stat, blocks)


def neutral_score(cfg: AllocationConfig) -> float:
    """The score whose capital target is one equal share."""
    return min(1.0, max(0.0, (1.0 - cfg.target_at_zero) / (cfg.target_at_one - cfg.target_at_zero)))


def plunged(drawdown: float, window_return: float, cfg: AllocationConfig) -> bool:
    """A loss past the drawdown reference (``drawdown_range``'s top) within one window is
    evidence by itself: a toxic market's losses come in jumps, whose t stays small (one
    big block among quiet ones), while a maker's noise does not fall that far that fast."""
    return drawdown >= cfg.drawdown_range[1] and window_return < 0.0


def relative_blocks(blocks: dict[str, list[float]]) -> dict[str, list[float]]:
    """Each asset's block returns less the mean of the other assets' in the same blocks
    (the latest blocks all of them have): better or worse than the rest, block by block.
    A lone asset has nothing to be compared with (no blocks)."""
    n = min((len(v) for v in blocks.values()), default=0)
    if len(blocks) < 2 or n == 0:
        return {a: [] for a in blocks}
    tail = {a: v[len(v) - n:] for a, v in blocks.items()}
    totals = [sum(col) for col in zip(*tail.values())]
    k = len(tail) - 1
    return {a: [r - (s - r) / k for r, s in zip(v, totals)] for a, v in tail.items()}


def capital_evidence(scores: dict[str, float], blocks: dict[str, list[float]], cfg: AllocationConfig,
                     plunged: Collection[str] = ()) -> dict[str, tuple[float, bool]]:
    """Per scored asset: (its t against the rest, whether its capital may follow its score).

    Down when its score is at most neutral and it is proven losing or worse than the rest
    (``min_t_stat``), or ``plunged``: a toxic market is cut at once.
    Up only when proven earning and proven better than the rest, each at the Student-t
    equivalent of ``min_t_stat`` with a Bonferroni share of it per asset compared (five
    assets tested every period find one "better" by luck often)."""
    rel = relative_blocks(blocks)
    neutral = neutral_score(cfg)
    strict = cfg.min_t_stat if len(scores) < 2 else _bonferroni_t(cfg.min_t_stat, len(scores))
    out: dict[str, tuple[float, bool]] = {}
    for a, score in scores.items():
        r, b = rel.get(a, []), blocks.get(a, [])
        t_rel, t_abs = t_stat(r), t_stat(b)
        if cfg.min_t_stat <= 0.0:
            ok = True
        elif score > neutral:
            ok = min(t_rel, t_abs) > 0 and t_rel >= critical_t(strict, len(r)) and t_abs >= critical_t(strict, len(b))
        else:
            ok = min(t_abs, t_rel) <= -cfg.min_t_stat or a in plunged
        out[a] = (t_rel, ok)
    return out


def evidence_scores(scores: dict[str, float], blocks: dict[str, list[float]], cfg: AllocationConfig,
                    plunged: Collection[str] = ()) -> dict[str, tuple[float, float, bool]]:
    """Per scored asset: (the score the allocation acts on, its t, whether that is evidence).
    The score itself when its t is significant (``critical_t``) or it ``plunged``, else
    the neutral score."""
    out: dict[str, tuple[float, float, bool]] = {}
    for a, score in scores.items():
        b = blocks.get(a, [])
        t = t_stat(b)
        ok = significant(t, len(b), cfg) or a in plunged
        out[a] = (score if ok else neutral_score(cfg), t, ok)
    return out
