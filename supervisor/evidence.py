"""Is an asset's score evidence or noise? The t-statistic of its returns.

A market maker's PnL over a few minutes is mostly noise: scores computed on it rank
assets differently every period, and capital that follows them pays for each move
(smaller quotes where it left, a queue to rebuild where it went) without earning more.
So the allocator moves an asset only on evidence: the mean of its returns on capital,
in blocks long enough to tame the PnL's autocorrelation (``evidence_block_s``, at most
a tenth of the window), must be ``min_t_stat`` standard errors away from zero (an
absolute test, like the score: when every asset earns, every asset may be rewarded).
Otherwise its score counts as neutral (zone hold) and it shares equally what the
assets with evidence leave: a proven loser's capital goes to the others.
Pure: samples in, numbers out.
"""
from __future__ import annotations

import math
from statistics import fmean, variance
from typing import Iterable, Sequence

from config import AllocationConfig


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


def neutral_score(cfg: AllocationConfig) -> float:
    """The score whose capital target is one equal share."""
    return min(1.0, max(0.0, (1.0 - cfg.target_at_zero) / (cfg.target_at_one - cfg.target_at_zero)))


def evidence_scores(scores: dict[str, float], blocks: dict[str, list[float]],
                    cfg: AllocationConfig) -> dict[str, tuple[float, float, bool]]:
    """Per scored asset: (the score the allocation acts on, its t, whether that is evidence).
    The score itself when |t| >= ``min_t_stat``, else the neutral score."""
    out: dict[str, tuple[float, float, bool]] = {}
    for a, score in scores.items():
        t = t_stat(blocks.get(a, []))
        ok = abs(t) >= cfg.min_t_stat
        out[a] = (score if ok else neutral_score(cfg), t, ok)
    return out
