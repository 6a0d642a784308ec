"""Typed, validated configuration loaded from ``config.toml``.

The file has portfolio-wide defaults (``[quoting]``, ``[risk]``) and one section per
asset (``[assets.BTC]``) whose ``quoting``/``risk`` tables override those defaults key
by key. Every error names the field path, the bad value and what is allowed.
"""
from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec

KNOWN_VENUES = ("sim", "remote-sim", "hyperliquid")
KNOWN_REGIMES = ("CALM", "NORMAL", "ELEVATED", "EXTREME")


class ConfigError(Exception):
    """A config problem a user can fix; the message says where and what is allowed."""


class _Section(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


class RunConfig(_Section):
    # remote-sim: the sim served by `makerhive sim-server`; hyperliquid: the real exchange
    # ([venue.hyperliquid]; testnet unless told otherwise, mainnet only with --mainnet)
    venue: Literal["sim", "remote-sim", "hyperliquid"] = "sim"
    seed: int = 7
    speed: float = 1.0  # simulated seconds per real second
    view_fps: float = 4.0
    journal_dir: str = "runs"
    # Pin the trading process to this CPU (-1: no pinning). One GIL-bound process with
    # many threads hops between actors about twice as fast on a single core; the live
    # view's process keeps the other cores.
    pin_cpu: int = 0


class DeadMansSwitchConfig(_Section):
    """The exchange-side dead-man's switch (Hyperliquid's scheduleCancel): renewed only
    while every asset tree is healthy, so a frozen or killed process loses its quotes."""

    enabled: bool = True
    window_s: float = 60.0  # each renewal schedules the cancel this far ahead (>= 5 s)
    renew_every_s: float = 20.0


class RemoteConfig(_Section):
    url: str = "ws://127.0.0.1:8765"  # where `makerhive sim-server` listens


MAINNET_API_URL = "https://api.hyperliquid.xyz"
TESTNET_API_URL = "https://api.hyperliquid-testnet.xyz"


class HyperliquidConfig(_Section):
    """Where and as whom to trade on Hyperliquid. The private key is never here: it comes
    from HL_PRIVATE_KEY or a key file (``key_file`` or ``--key-file``)."""

    network: Literal["testnet", "mainnet"] = "testnet"
    base_url: str = ""  # override of the REST base (tests, local fakes); non-mainnet URLs sign as testnet
    ws_url: str = ""  # override of the WebSocket URL (default: derived from base_url)
    account_address: str = ""  # the account traded; empty: the key's own address (not an agent)
    vault_address: str = ""  # trade for this vault or sub-account (signed by the account's key)
    key_file: str = ""  # path to a file holding the key (the environment's HL_PRIVATE_KEY otherwise)
    # open orders at reconciliation that are not ours (no makerhive cloid): leave or cancel them
    unknown_orders: Literal["leave", "cancel"] = "leave"
    request_timeout_s: float = 10.0
    ping_every_s: float = 20.0  # application ping, well inside the server's 60 s idle timeout
    stall_s: float = 15.0  # nothing heard for this long (books come every ~0.5 s): reconnect
    # every action carries expiresAfter = now + this: one held up longer is refused, never executed late (0: none)
    expires_after_s: float = 5.0

    def rest_url(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        return MAINNET_API_URL if self.network == "mainnet" else TESTNET_API_URL

    def websocket_url(self) -> str:
        if self.ws_url:
            return self.ws_url
        return "ws" + self.rest_url()[len("http"):] + "/ws"

    def signs_mainnet(self) -> bool:
        """Like the SDK: only the mainnet URL itself signs for mainnet."""
        return self.rest_url() == MAINNET_API_URL


class VenueConfig(_Section):
    hyperliquid: HyperliquidConfig = msgspec.field(default_factory=HyperliquidConfig)


class PortfolioConfig(_Section):
    capital_usd: float = 100_000.0
    assets: tuple[str, ...] = ("BTC", "ETH", "SOL", "XRP", "HYPE")
    # Portfolio limits, above every asset's own (strategy.md "Circuit breakers and limits"):
    max_exposure_pct: float = 0.40  # total |inventory| across assets <= this share of capital
    drawdown_stop_pct: float = 0.05  # of the day's starting equity: halt everything, cancel all
    max_concurrent_assets: int = 10  # assets trading at once; the rest wait on standby


class ZoneMultipliers(_Section):
    """The risk multipliers of one score zone (size, spread, max position)."""

    size: float = 1.0
    spread: float = 1.0
    max_position: float = 1.0


class AllocationConfig(_Section):
    """The meta-supervisor's capital allocation (strategy.md "Meta-supervisor allocation").

    Times are runtime-clock seconds: minutes on the sim; live, the window is days
    (21 days: window_s = 1814400, with a period of a day and hourly samples)."""

    enabled: bool = True  # false: capital stays where it is (quarantines still release it)
    period_s: float = 60.0  # capital and multipliers move at most once per period
    window_s: float = 600.0  # the rolling scoring window
    sample_s: float = 5.0  # the PnL series in the reports: one point per this interval
    report_s: float = 15.0  # each asset's risk actor reports this often
    min_history_s: float = 180.0  # less history than this in the window: the asset holds
    # score = w0·sharpe + w1·return + w2·(1 − drawdown) + w3·consistency, parts in 0..1
    weights: tuple[float, float, float, float] = (0.40, 0.30, 0.20, 0.10)
    # fixed reference ranges (absolute, not rank-based): lo -> 0, hi -> 1, clipped
    sharpe_range: tuple[float, float] = (-6.0, 6.0)  # Sharpe of the sample PnL, scaled to one hour
    return_range: tuple[float, float] = (-0.002, 0.002)  # return on allocated capital per hour
    drawdown_range: tuple[float, float] = (0.0, 0.005)  # max drawdown in the window / capital
    consistency_range: tuple[float, float] = (0.3, 0.7)  # share of samples with a gain
    zones: tuple[float, float, float] = (0.2, 0.4, 0.7)  # pause < 0.2 <= punish < 0.4 <= hold <= 0.7 < reward
    hysteresis: float = 0.05  # a zone is left only this far past its boundary
    reward: ZoneMultipliers = msgspec.field(default_factory=lambda: ZoneMultipliers(
        size=1.10, spread=0.90, max_position=1.10))
    hold: ZoneMultipliers = msgspec.field(default_factory=ZoneMultipliers)
    punish: ZoneMultipliers = msgspec.field(default_factory=lambda: ZoneMultipliers(
        size=0.70, spread=1.30, max_position=0.70))
    pause: ZoneMultipliers = msgspec.field(default_factory=lambda: ZoneMultipliers(
        size=0.40, spread=1.50, max_position=0.40))
    max_capital_step: float = 0.15  # capital moves at most this share of itself per period
    max_multiplier_step: float = 0.10  # each multiplier moves at most this share of itself per period
    floor_usd: float = 500.0  # no trading asset gets less
    cap_pct: float = 0.35  # no asset gets more than this share of the portfolio's capital
    # the capital an asset's score aims at, in equal shares: score 0 -> target_at_zero,
    # score 1 -> target_at_one, linear between (scaled down pro rata if the targets add
    # up to more than the capital)
    target_at_zero: float = 0.25
    target_at_one: float = 1.75
    deadband: float = 0.01  # capital moves smaller than this share of the asset's capital are skipped
    # Evidence, not noise: an asset's score moves its capital and zone only when the mean of
    # its returns is at least this many standard errors from zero (t over blocks of
    # evidence_block_s, at most a tenth of the window); 0: every score moves them.
    min_t_stat: float = 2.0
    evidence_block_s: float = 60.0
    size_follows_capital: bool = True  # quote sizes scale with capital / equal share


class SupervisionConfig(_Section):
    intensity: int = 3  # at most this many restarts ...
    period_s: float = 60.0  # ... within this many seconds, else the tree gives up
    tree_backoff_s: float = 2.0  # first backoff before the meta restarts a tree
    tree_backoff_max_s: float = 60.0
    shutdown_timeout_s: float = 5.0
    start_timeout_s: float = 10.0
    tick_s: float = 0.25  # supervision timer period (runtime clock)
    handler_budget_s: float = 2.0  # real seconds one handler may run before it counts as hung
    tree_handler_budget_s: float = 60.0  # the same for an asset supervisor (restarts block it)
    quarantine_after: int = 3  # this many tree failures of one asset ...
    quarantine_window_s: float = 600.0  # ... within this window quarantine it


class GlftConfig(_Section):
    """GLFT asymptotic quotes (models.md §2.2) with A, k fitted online from trade depths."""
    gamma: float = 0.05  # risk aversion per L1 lot, bp units
    a_per_s: float = 1.0  # intensity at the fair price before the first fit (1/s)
    k_per_bp: float = 0.5  # intensity decay before the first fit (1/bp)
    calibrate: bool = True  # fit A, k from the market's trades (models.md §2.4 method 1)
    window_s: float = 600.0  # rolling window of the fit
    refit_s: float = 5.0  # refit this often
    skew_adj: float = 1.0  # scales the model's inventory skew (hftbacktest's adj)


class QueueConfig(_Section):
    """Keep resting orders (their queue place) while their price is still acceptable."""
    enabled: bool = True
    keep_tolerance_bp: float = 1.5  # a resting level moves only past this ...
    max_age_s: float = 30.0  # ... or once it has rested this long


class AloSafetyConfig(_Section):
    """Extra ticks away from the touch per level after post-only rejects."""
    enabled: bool = True
    max_ticks: int = 5
    decay_after: int = 20  # successful placements that take one safety tick back


class RegimeConfig(_Section):
    """Volatility at 1, 5 and 15 minutes classified CALM..EXTREME (strategy.md)."""
    enabled: bool = True
    calm_bp: float = 5.0  # 1-minute move size thresholds
    elevated_bp: float = 25.0
    extreme_bp: float = 60.0


class ToxicityConfig(_Section):
    """Guards against adverse selection (strategy.md, models.md §3.3)."""
    enabled: bool = True
    drift_bp: float = 3.0  # microprice drift between books
    imbalance: float = 0.65  # |book imbalance| above this
    aggressor: float = 0.7  # buy share (or 1 - it) of the last 50 trades above this
    vpin: bool = True
    vpin_threshold: float = 0.7
    markouts: bool = True
    markout_horizon_s: float = 5.0
    widen_mult: float = 1.5  # the threatened side's spread per signal


class TrendConfig(_Section):
    """Fast/slow EMA of the mid: skew toward the trend, smaller counter-trend size."""
    enabled: bool = False  # strategy.md: off by default
    fast_s: float = 60.0
    slow_s: float = 300.0
    full_bp: float = 10.0  # fast - slow gap that counts as full strength
    strength: float = 0.2  # reservation shift, in half spreads, at full strength


class FundingSkewConfig(_Section):
    """Holding the side that earns funding is cheaper than holding the side that pays."""
    enabled: bool = True
    horizon_h: float = 1.0  # expected holding time priced into the reservation


class BreakersConfig(_Section):
    """Circuit breakers (strategy.md), each with its cooldown."""
    enabled: bool = True
    widen_move_pct: float = 1.0  # in 1 minute: widen
    widen_mult: float = 3.0
    widen_cooldown_s: float = 300.0
    pause_move_pct: float = 3.0  # in 5 minutes: cancel all, pause
    pause_cooldown_s: float = 900.0
    api_errors: int = 5  # in a minute: pause
    api_cooldown_s: float = 120.0


class BudgetGovernorConfig(_Section):
    """Requotes paid from the address budget: a cancel-to-fill governor."""
    enabled: bool = True
    max_cancels_per_fill: float = 10.0  # above this over the window, levels move less often
    window_s: float = 300.0


class QuotingConfig(_Section):
    gamma: float = 0.05  # Avellaneda–Stoikov risk aversion (per L1 lot, bp units)
    k_per_bp: float = 0.5  # fill intensity decay: λ(δ) = A·exp(-k·δ), δ in bp
    horizon_s: float = 60.0  # fixed (T - t) of the A–S model for a bot that never ends
    min_spread_bp: float = 1.0  # total spread floor (bid to ask at L1)
    max_spread_bp: float = 20.0
    levels: int = 3
    level_spacing_bp: float = 1.0  # extra distance of each level beyond L1
    order_size_usd: float = 150.0  # L1 size per side
    level_size_mult: tuple[float, ...] = (1.0, 2.0, 4.0)
    refresh_tolerance_bp: float = 0.5  # keep a resting order if within this of wanted
    use_microprice: bool = True
    stale_book_s: float = 2.0  # no book for this long (a few pushes): pull every quote
    # The strategy stack (strategy/features.py names the switch of each feature).
    model: Literal["as", "glft"] = "as"  # Avellaneda–Stoikov or GLFT (calibrated A, k)
    fair_value: Literal["auto", "mid", "microprice", "imbalance"] = "auto"  # auto: use_microprice
    imbalance_weight: float = 0.5  # "imbalance": mid + weight x imbalance x half the touch spread
    maker_fee_bp: float = 1.5  # base tier; a level whose edge after it is negative is not quoted
    fee_aware: bool = False
    glft: GlftConfig = GlftConfig()
    queue: QueueConfig = QueueConfig(enabled=False)
    alo_safety: AloSafetyConfig = AloSafetyConfig(enabled=False)
    regime: RegimeConfig = RegimeConfig(enabled=False)
    toxicity: ToxicityConfig = ToxicityConfig(enabled=False)
    trend: TrendConfig = TrendConfig()
    funding_skew: FundingSkewConfig = FundingSkewConfig(enabled=False)
    breakers: BreakersConfig = BreakersConfig(enabled=False)
    budget_governor: BudgetGovernorConfig = BudgetGovernorConfig(enabled=False)


class RiskConfig(_Section):
    max_position_usd: float = 5_000.0  # hard cap on |inventory| in USD
    max_position_pct: float = 0.25  # ... and at most this share of the asset's capital
    widen_at: float = 0.5  # inventory / limit beyond which the loaded side widens
    widen_mult: float = 1.5
    stop_at: float = 0.8  # ... beyond which the loaded side stops quoting
    reduce_only_at: float = 0.9  # ... beyond which the asset only quotes to reduce
    daily_loss_pct: float = 0.05  # of the asset's capital: stop the asset for the day


class SimConfig(_Section):
    step_s: float = 0.1  # market process step
    book_interval_s: float = 0.5  # l2Book push cadence, like Hyperliquid
    book_levels: int = 20
    order_latency_ms: float = 20.0  # one way, client -> matching engine
    ack_latency_ms: float = 20.0  # one way, engine -> client
    feed_latency_ms: float = 10.0
    maker_fee: float = 0.00015
    taker_fee: float = 0.00045
    # "fixed": the *_latency_ms above, always; "hyperliquid": drawn like Hyperliquid's
    # (order round trip median ~0.2 s, p99 ~0.9 s, a book every ~0.5 s); "zero": none.
    latency_profile: Literal["fixed", "hyperliquid", "zero"] = "fixed"
    # The simulated market: "orderbook" (a persistent price-time book fed by order flow,
    # venues.sim.orderbook) or "formula" (takers reach a quote with intensity A·e^(−kδ),
    # the quoter's own fill law: the as-paper scenario and the old golden runs).
    market_model: Literal["orderbook", "formula"] = "orderbook"
    # Hyperliquid's perps fee tier (0 = base: maker 1.5 bp, taker 4.5 bp ... 6); -1: the
    # maker_fee/taker_fee above as given (venues.sim.fees).
    fee_tier: int = -1
    # How our place in a price level's queue moves when displayed size ahead shrinks
    # (models.md §4): risk_averse (only trades move us) or a probabilistic model.
    queue_model: Literal["risk_averse", "power", "log", "power2", "log2", "power3"] = "power3"
    queue_power: float = 3.0
    open_order_cap: int = 1000  # open orders per account
    address_budget_initial: int = 10_000  # address actions before volume earns more
    ip_weight_per_minute: int = 1200
    funding_interval_s: float = 3600.0
    schedule_cancel_min_ahead_s: float = 5.0
    schedule_cancel_triggers_per_day: int = 10


SIM_REGIMES = ("calm", "normal", "volatile", "trending_up", "trending_down", "crash")


class MarketEpisode(_Section):
    """A stretch of simulated time in which the market is overridden, e.g. made toxic
    (a forced trend with mostly informed takers) and then left to recover."""

    start_s: float  # simulated seconds from the start
    end_s: float
    regime: str = ""  # force one of SIM_REGIMES for the episode ("": the regime process's own)
    informed_share: float | None = None  # None: the market's own
    trend_bp_per_min: float | None = None


class MarketConfig(_Section):
    """The simulated market of one asset."""

    price: float
    sz_decimals: int
    sigma_bp: float  # volatility, bp per sqrt(second)
    taker_rate: float  # A: taker arrivals per second per side
    taker_k_per_bp: float  # k: arrivals reaching δ bp from the mid decay as exp(-k·δ)
    taker_size_usd: float  # mean taker size
    depth_usd: float  # mean displayed size per background level
    book_spread_bp: float = 1.0  # background book's spread
    regimes: bool = True  # regime-switching volatility/trend process (calm ... crash)
    jump_rate_per_hour: float = 1.0  # price jumps (Poisson)
    jump_bp: float = 20.0  # typical jump size (bp)
    trend_bp_per_min: float = 4.0  # drift of the mid in a trending episode
    informed_share: float = 0.3  # share of takers who trade with the coming move when trending
    size_tail_alpha: float = 2.5  # Pareto tail exponent of taker sizes (heavier when smaller)
    funding_rate: float = 0.0000125  # mean hourly funding rate (longs pay when > 0)
    funding_vol: float = 0.00001  # its standard deviation
    # -- the order-book market (sim.market_model = "orderbook"; venues.sim.orderbook) ----
    book_spread_ticks: float = 1.0  # background makers quote this many ticks wide around the fair price
    trade_rate: float = 0.0  # market orders per second per side (0: taker_rate)
    trade_size_usd: float = 0.0  # their mean size, Lomax-tailed by size_tail_alpha (0: taker_size_usd)
    maker_order_usd: float = 0.0  # one background order (queue granularity); 0: depth_usd / 4
    cancel_rate: float = 0.3  # per second, per resting background lot (queue-reactive: ∝ queue size)
    maker_lag_s: float = 1.0  # mean time background makers take to pull a quote the fair price left behind
    arb_edge_bp: float = 5.0  # arbitrageurs take resting quotes this far through the fair price
    arb_delay_s: float = 0.3  # ... after this mean delay (latency arbitrage)
    # scheduled overrides of the market (scenarios, tests): [[assets.NAME.market.episodes]]
    episodes: tuple[MarketEpisode, ...] = ()


class AssetConfig(_Section):
    """The effective config of one asset: defaults merged with its overrides."""

    name: str
    market: MarketConfig
    quoting: QuotingConfig
    risk: RiskConfig
    # reinvest this asset's own PnL on top of its base allocation (the supervisor moves the base only)
    compound: bool = False


class Config(_Section):
    run: RunConfig
    dead_mans_switch: DeadMansSwitchConfig
    remote: RemoteConfig
    venue: VenueConfig
    portfolio: PortfolioConfig
    supervision: SupervisionConfig
    quoting: QuotingConfig
    risk: RiskConfig
    sim: SimConfig
    assets: dict[str, AssetConfig]
    allocation: AllocationConfig = msgspec.field(default_factory=AllocationConfig)

    def asset(self, name: str) -> AssetConfig:
        return self.assets[name]

    @property
    def asset_names(self) -> tuple[str, ...]:
        return self.portfolio.assets

    def capital_share(self) -> float:
        """Equal split of the portfolio's capital among the assets that trade at once (the
        meta-supervisor's first allocation)."""
        return self.portfolio.capital_usd / max(1, min(len(self.portfolio.assets),
                                                       self.portfolio.max_concurrent_assets))


def _fail(path: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"{path} = {value!r}: {allowed}")


def _positive(path: str, v: float) -> None:
    if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
        _fail(path, v, "must be a finite number > 0")


def _fraction(path: str, v: float, *, open_low: bool = True) -> None:
    ok = (0 < v <= 1) if open_low else (0 <= v <= 1)
    if not ok:
        _fail(path, v, "must be a fraction in (0, 1]")


def _validate_quoting(p: str, q: QuotingConfig) -> None:
    for name in ("gamma", "k_per_bp", "horizon_s", "min_spread_bp", "max_spread_bp", "order_size_usd", "stale_book_s"):
        _positive(f"{p}.{name}", getattr(q, name))
    if q.levels < 1 or q.levels > 10:
        _fail(f"{p}.levels", q.levels, "must be an integer from 1 to 10")
    if q.level_spacing_bp < 0:
        _fail(f"{p}.level_spacing_bp", q.level_spacing_bp, "must be >= 0")
    if q.refresh_tolerance_bp < 0:
        _fail(f"{p}.refresh_tolerance_bp", q.refresh_tolerance_bp, "must be >= 0")
    if q.max_spread_bp < q.min_spread_bp:
        _fail(f"{p}.max_spread_bp", q.max_spread_bp, f"must be >= min_spread_bp ({q.min_spread_bp})")
    if len(q.level_size_mult) != q.levels:
        _fail(f"{p}.level_size_mult", list(q.level_size_mult),
              f"must list one multiplier per level (levels = {q.levels})")
    for i, m in enumerate(q.level_size_mult):
        _positive(f"{p}.level_size_mult[{i}]", m)
    _validate_stack(p, q)
    if q.order_size_usd < 10:
        _fail(f"{p}.order_size_usd", q.order_size_usd, "must be at least 10 (Hyperliquid's $10 minimum order value)")


def _validate_stack(p: str, q: QuotingConfig) -> None:
    """The strategy stack's keys: positive numbers, fractions, non-negative fees."""
    if not (math.isfinite(q.maker_fee_bp) and -5 <= q.maker_fee_bp <= 10):
        _fail(f"{p}.maker_fee_bp", q.maker_fee_bp, "must be a number of bp from -5 to 10")
    if not (math.isfinite(q.imbalance_weight) and 0 <= q.imbalance_weight <= 1):
        _fail(f"{p}.imbalance_weight", q.imbalance_weight, "must be from 0 to 1")
    positive = {
        "glft": ("gamma", "a_per_s", "k_per_bp", "window_s", "refit_s", "skew_adj"),
        "queue": ("keep_tolerance_bp", "max_age_s"),
        "regime": ("calm_bp", "elevated_bp", "extreme_bp"),
        "toxicity": ("drift_bp", "markout_horizon_s", "widen_mult"),
        "trend": ("fast_s", "slow_s", "full_bp"),
        "funding_skew": ("horizon_h",),
        "breakers": ("widen_move_pct", "widen_mult", "widen_cooldown_s", "pause_move_pct", "pause_cooldown_s",
                     "api_cooldown_s"),
        "budget_governor": ("max_cancels_per_fill", "window_s"),
    }
    for table, names in positive.items():
        for name in names:
            _positive(f"{p}.{table}.{name}", getattr(getattr(q, table), name))
    for name in ("imbalance", "aggressor", "vpin_threshold"):
        v = getattr(q.toxicity, name)
        if not (0.5 <= v <= 1):
            _fail(f"{p}.toxicity.{name}", v, "must be from 0.5 to 1")
    if not 0 <= q.trend.strength <= 1:
        _fail(f"{p}.trend.strength", q.trend.strength, "must be from 0 to 1")
    if q.trend.fast_s >= q.trend.slow_s:
        _fail(f"{p}.trend.fast_s", q.trend.fast_s, f"must be < trend.slow_s ({q.trend.slow_s})")
    r = q.regime
    if not r.calm_bp < r.elevated_bp < r.extreme_bp:
        _fail(f"{p}.regime.elevated_bp", r.elevated_bp, "must lie between regime.calm_bp and regime.extreme_bp")
    for table, name in (("alo_safety", "max_ticks"), ("alo_safety", "decay_after"), ("breakers", "api_errors")):
        v = getattr(getattr(q, table), name)
        if not (isinstance(v, int) and 1 <= v <= 1000):
            _fail(f"{p}.{table}.{name}", v, "must be an integer from 1 to 1000")


def _validate_risk(p: str, r: RiskConfig) -> None:
    _positive(f"{p}.max_position_usd", r.max_position_usd)
    _fraction(f"{p}.max_position_pct", r.max_position_pct)
    _fraction(f"{p}.daily_loss_pct", r.daily_loss_pct)
    if not (0 < r.widen_at <= r.stop_at <= r.reduce_only_at <= 1):
        _fail(f"{p}.widen_at/stop_at/reduce_only_at", (r.widen_at, r.stop_at, r.reduce_only_at),
              "must satisfy 0 < widen_at <= stop_at <= reduce_only_at <= 1")
    if r.widen_mult < 1:
        _fail(f"{p}.widen_mult", r.widen_mult, "must be >= 1")


def _validate_portfolio_limits(cfg: Config) -> None:
    pf = cfg.portfolio
    if not (isinstance(pf.max_exposure_pct, (int, float)) and 0 < pf.max_exposure_pct <= 10):
        _fail("portfolio.max_exposure_pct", pf.max_exposure_pct,
              "must be > 0 and <= 10 (total |inventory| as a share of capital; 0.4 = 40%)")
    _fraction("portfolio.drawdown_stop_pct", pf.drawdown_stop_pct)
    if pf.max_concurrent_assets < 1:
        _fail("portfolio.max_concurrent_assets", pf.max_concurrent_assets, "must be an integer >= 1")


def _range(path: str, r: tuple[float, float]) -> None:
    if not (len(r) == 2 and all(math.isfinite(x) for x in r) and r[0] < r[1]):
        _fail(path, list(r), "must be [lo, hi] with finite lo < hi")


def _validate_allocation(cfg: Config) -> None:
    a = cfg.allocation
    p = "allocation"
    for name in ("period_s", "window_s", "sample_s", "report_s"):
        _positive(f"{p}.{name}", getattr(a, name))
    if a.window_s < a.period_s:
        _fail(f"{p}.window_s", a.window_s, f"must be >= period_s ({a.period_s:g})")
    if not (a.sample_s <= a.report_s <= a.period_s):
        _fail(f"{p}.report_s", a.report_s, f"must be >= sample_s ({a.sample_s:g}) and <= period_s ({a.period_s:g})")
    if not (0 <= a.min_history_s <= a.window_s):
        _fail(f"{p}.min_history_s", a.min_history_s, f"must be >= 0 and <= window_s ({a.window_s:g})")
    if any(not (math.isfinite(w) and w >= 0) for w in a.weights) or abs(sum(a.weights) - 1.0) > 1e-9:
        _fail(f"{p}.weights", list(a.weights),
              "must be four weights >= 0 (sharpe, return, drawdown, consistency) adding up to 1")
    for name in ("sharpe_range", "return_range", "drawdown_range", "consistency_range"):
        _range(f"{p}.{name}", getattr(a, name))
    if a.drawdown_range[0] < 0:
        _fail(f"{p}.drawdown_range", list(a.drawdown_range), "must start at >= 0 (a share of capital)")
    z = a.zones
    if not (0 < z[0] < z[1] < z[2] < 1):
        _fail(f"{p}.zones", list(z), "must be [pause, punish, hold] boundaries with 0 < pause < punish < hold < 1")
    gap = min(z[0], z[1] - z[0], z[2] - z[1], 1 - z[2])
    if not (0 <= a.hysteresis < gap / 2):
        _fail(f"{p}.hysteresis", a.hysteresis, f"must be >= 0 and < half the narrowest zone ({gap / 2:g})")
    for zone in ("reward", "hold", "punish", "pause"):
        m = getattr(a, zone)
        for f in ("size", "spread", "max_position"):
            v = getattr(m, f)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and 0 < v <= 10):
                _fail(f"{p}.{zone}.{f}", v, "must be a multiplier > 0 and <= 10")
    for name in ("max_capital_step", "max_multiplier_step"):
        v = getattr(a, name)
        if not (0 < v < 1):
            _fail(f"{p}.{name}", v, "must be a fraction in (0, 1) (0.15 = at most ±15% per period)")
    if not (math.isfinite(a.floor_usd) and a.floor_usd >= 0):
        _fail(f"{p}.floor_usd", a.floor_usd, "must be >= 0")
    _fraction(f"{p}.cap_pct", a.cap_pct)
    n = max(1, min(len(cfg.portfolio.assets), cfg.portfolio.max_concurrent_assets))
    if a.floor_usd * n > cfg.portfolio.capital_usd:
        _fail(f"{p}.floor_usd", a.floor_usd,
              f"x {n} trading assets is more than portfolio.capital_usd ({cfg.portfolio.capital_usd:g})")
    if a.cap_pct * cfg.portfolio.capital_usd < a.floor_usd:
        _fail(f"{p}.cap_pct", a.cap_pct, f"leaves less than floor_usd ({a.floor_usd:g}) per asset")
    if not (0 <= a.target_at_zero < a.target_at_one):
        _fail(f"{p}.target_at_one", a.target_at_one, f"must be > target_at_zero ({a.target_at_zero:g}) >= 0")
    if not (0 <= a.deadband < a.max_capital_step):
        _fail(f"{p}.deadband", a.deadband, f"must be >= 0 and < max_capital_step ({a.max_capital_step:g})")
    if not (math.isfinite(a.min_t_stat) and a.min_t_stat >= 0):
        _fail(f"{p}.min_t_stat", a.min_t_stat, "must be >= 0 (standard errors; 0: no evidence needed)")
    _positive(f"{p}.evidence_block_s", a.evidence_block_s)


def _validate_episodes(p: str, m: MarketConfig) -> None:
    for i, e in enumerate(m.episodes):
        q = f"{p}.episodes[{i}]"
        if not (math.isfinite(e.start_s) and e.start_s >= 0):
            _fail(f"{q}.start_s", e.start_s, "must be >= 0 (simulated seconds from the start)")
        if not (math.isfinite(e.end_s) and e.end_s > e.start_s):
            _fail(f"{q}.end_s", e.end_s, f"must be > start_s ({e.start_s:g})")
        if e.regime and e.regime not in SIM_REGIMES:
            _fail(f"{q}.regime", e.regime, f"must be one of {list(SIM_REGIMES)} (or empty: keep the market's)")
        if e.informed_share is not None and not (0 <= e.informed_share <= 1):
            _fail(f"{q}.informed_share", e.informed_share, "must be a fraction in [0, 1]")
        if e.trend_bp_per_min is not None and not (math.isfinite(e.trend_bp_per_min) and e.trend_bp_per_min >= 0):
            _fail(f"{q}.trend_bp_per_min", e.trend_bp_per_min, "must be >= 0")
        if not m.regimes:
            _fail(f"{q}", "episode", f"needs {p}.regimes = true (episodes override the regime model)")
        if i and e.start_s < m.episodes[i - 1].end_s:
            _fail(f"{q}.start_s", e.start_s, f"must be >= the previous episode's end_s ({m.episodes[i - 1].end_s:g})")


def _validate(cfg: Config) -> None:
    if cfg.run.speed <= 0 or cfg.run.speed > 1000:
        _fail("run.speed", cfg.run.speed, "must be > 0 and <= 1000")
    if cfg.run.pin_cpu < -1:
        _fail("run.pin_cpu", cfg.run.pin_cpu, "must be a CPU number >= 0, or -1 for no pinning")
    if not (0 < cfg.run.view_fps <= 30):
        _fail("run.view_fps", cfg.run.view_fps, "must be > 0 and <= 30")
    _positive("portfolio.capital_usd", cfg.portfolio.capital_usd)
    _validate_portfolio_limits(cfg)
    _validate_allocation(cfg)
    dms = cfg.dead_mans_switch
    if dms.window_s < cfg.sim.schedule_cancel_min_ahead_s:
        _fail("dead_mans_switch.window_s", dms.window_s,
              f"must be at least {cfg.sim.schedule_cancel_min_ahead_s:g} s (the venue refuses a closer cancel)")
    if not (0 < dms.renew_every_s < dms.window_s):
        _fail("dead_mans_switch.renew_every_s", dms.renew_every_s, f"must be > 0 and < window_s ({dms.window_s:g})")
    if not cfg.remote.url.startswith(("ws://", "wss://")):
        _fail("remote.url", cfg.remote.url, "must be a ws:// or wss:// URL")
    hl = cfg.venue.hyperliquid
    for name in ("base_url",):
        url = getattr(hl, name)
        if url and not url.startswith(("http://", "https://")):
            _fail(f"venue.hyperliquid.{name}", url, "must be an http:// or https:// URL (or empty for the network's)")
    if hl.ws_url and not hl.ws_url.startswith(("ws://", "wss://")):
        _fail("venue.hyperliquid.ws_url", hl.ws_url, "must be a ws:// or wss:// URL (or empty: derived from base_url)")
    for name in ("account_address", "vault_address"):
        addr = getattr(hl, name)
        if addr and not _is_address(addr):
            _fail(f"venue.hyperliquid.{name}", addr, "must be a 0x-prefixed 40-hex-digit address (or empty)")
    for name in ("request_timeout_s", "ping_every_s", "stall_s"):
        _positive(f"venue.hyperliquid.{name}", getattr(hl, name))
    if hl.ping_every_s >= 60:
        _fail("venue.hyperliquid.ping_every_s", hl.ping_every_s, "must be < 60 (the server drops a connection idle for 60 s)")
    if hl.expires_after_s < 0:
        _fail("venue.hyperliquid.expires_after_s", hl.expires_after_s, "must be >= 0 (0: no expiresAfter)")
    if not cfg.portfolio.assets:
        _fail("portfolio.assets", [], "must name at least one asset")
    if len(set(cfg.portfolio.assets)) != len(cfg.portfolio.assets):
        _fail("portfolio.assets", list(cfg.portfolio.assets), "must not repeat an asset")
    s = cfg.supervision
    if s.intensity < 0:
        _fail("supervision.intensity", s.intensity, "must be >= 0")
    if s.quarantine_after < 1:
        _fail("supervision.quarantine_after", s.quarantine_after, "must be an integer >= 1")
    for name in ("period_s", "tree_backoff_s", "tree_backoff_max_s", "shutdown_timeout_s", "start_timeout_s", "tick_s",
                 "quarantine_window_s", "handler_budget_s", "tree_handler_budget_s"):
        _positive(f"supervision.{name}", getattr(s, name))
    sim = cfg.sim
    for name in ("step_s", "book_interval_s"):
        _positive(f"sim.{name}", getattr(sim, name))
    for name in ("order_latency_ms", "ack_latency_ms", "feed_latency_ms"):
        if getattr(sim, name) < 0:
            _fail(f"sim.{name}", getattr(sim, name), "must be >= 0")
    if sim.book_levels < 1:
        _fail("sim.book_levels", sim.book_levels, "must be >= 1")
    if sim.queue_power <= 0:
        _fail("sim.queue_power", sim.queue_power, "must be > 0")
    for name in ("open_order_cap", "address_budget_initial", "ip_weight_per_minute", "schedule_cancel_triggers_per_day"):
        if getattr(sim, name) < 1:
            _fail(f"sim.{name}", getattr(sim, name), "must be an integer >= 1")
    _positive("sim.funding_interval_s", sim.funding_interval_s)
    if not -1 <= sim.fee_tier <= 6:
        _fail("sim.fee_tier", sim.fee_tier, "must be one of Hyperliquid's perps tiers 0..6, or -1 (maker_fee/taker_fee)")
    _validate_quoting("quoting", cfg.quoting)
    _validate_risk("risk", cfg.risk)
    share = cfg.capital_share()
    for name in cfg.portfolio.assets:
        if name not in cfg.assets:
            _fail("portfolio.assets", list(cfg.portfolio.assets),
                  f"names {name!r} but there is no [assets.{name}] section (have: {sorted(cfg.assets)})")
    for name, a in cfg.assets.items():
        p = f"assets.{name}"
        m = a.market
        for f in ("price", "sigma_bp", "taker_rate", "taker_k_per_bp", "taker_size_usd", "depth_usd", "book_spread_bp"):
            _positive(f"{p}.market.{f}", getattr(m, f))
        for f in ("book_spread_ticks", "cancel_rate", "maker_lag_s", "arb_edge_bp", "arb_delay_s"):
            _positive(f"{p}.market.{f}", getattr(m, f))
        for f, zero in (("maker_order_usd", "depth_usd / 4"), ("trade_rate", "taker_rate"),
                        ("trade_size_usd", "taker_size_usd")):
            if not (math.isfinite(getattr(m, f)) and getattr(m, f) >= 0):
                _fail(f"{p}.market.{f}", getattr(m, f), f"must be a finite number >= 0 (0: {zero})")
        if not (0 <= m.informed_share <= 1):
            _fail(f"{p}.market.informed_share", m.informed_share, "must be a fraction in [0, 1]")
        if m.size_tail_alpha <= 1:
            _fail(f"{p}.market.size_tail_alpha", m.size_tail_alpha, "must be > 1 (a finite mean size)")
        for f in ("jump_rate_per_hour", "jump_bp", "trend_bp_per_min", "funding_vol"):
            if getattr(m, f) < 0:
                _fail(f"{p}.market.{f}", getattr(m, f), "must be >= 0")
        if not (0 <= m.sz_decimals <= 6):
            _fail(f"{p}.market.sz_decimals", m.sz_decimals, "must be an integer from 0 to 6")
        _validate_episodes(f"{p}.market", m)
        _validate_quoting(f"{p}.quoting", a.quoting)
        _validate_risk(f"{p}.risk", a.risk)
        q, r = a.quoting, a.risk
        limit = min(r.max_position_usd, r.max_position_pct * share)
        per_side = q.order_size_usd * sum(q.level_size_mult)
        if per_side > limit:
            _fail(f"{p}.quoting.order_size_usd", q.order_size_usd,
                  f"the ladder rests ${per_side:,.0f} per side, more than the position limit "
                  f"${limit:,.0f} (min of risk.max_position_usd and risk.max_position_pct x capital ${share:,.0f})")
        lot_usd = m.price * 10 ** (-m.sz_decimals)
        if lot_usd > q.order_size_usd:
            _fail(f"{p}.quoting.order_size_usd", q.order_size_usd,
                  f"must be at least one lot of {name} (${lot_usd:,.2f} at price {m.price})")


def _is_address(text: str) -> bool:
    if len(text) != 42 or not text.startswith("0x"):
        return False
    try:
        int(text[2:], 16)
    except ValueError:
        return False
    return True


def _merge(defaults: dict, override: Any, path: str) -> dict:
    if override is None:
        return dict(defaults)
    if not isinstance(override, dict):
        _fail(path, override, "must be a table")
    return {**defaults, **override}


def from_dict(raw: dict) -> Config:
    """Build and validate a Config from parsed TOML."""
    if not isinstance(raw, dict):
        raise ConfigError("config must be a TOML table")
    allowed_top = {"run", "portfolio", "supervision", "quoting", "risk", "sim", "assets", "dead_mans_switch", "remote",
                   "venue", "allocation"}
    _refuse_secrets(raw, "")
    for key in raw:
        if key not in allowed_top:
            _fail(key, raw[key], f"unknown section; allowed: {sorted(allowed_top)}")
    defaults_q = raw.get("quoting", {}) or {}
    defaults_r = raw.get("risk", {}) or {}
    assets_raw = raw.get("assets", {}) or {}
    if not isinstance(assets_raw, dict):
        _fail("assets", assets_raw, "must be a table of [assets.NAME] sections")
    assets: dict[str, Any] = {}
    for name, a in assets_raw.items():
        if not isinstance(a, dict):
            _fail(f"assets.{name}", a, "must be a table")
        extra = set(a) - {"market", "quoting", "risk", "compound"}
        if extra:
            _fail(f"assets.{name}.{sorted(extra)[0]}", a[sorted(extra)[0]],
                  "unknown key; allowed: ['compound', 'market', 'quoting', 'risk']")
        assets[name] = {
            "name": name,
            "market": a.get("market", {}),
            "quoting": _merge(defaults_q, a.get("quoting"), f"assets.{name}.quoting"),
            "risk": _merge(defaults_r, a.get("risk"), f"assets.{name}.risk"),
        }
        if "compound" in a:
            assets[name]["compound"] = a["compound"]
    doc = {
        "run": raw.get("run", {}),
        "dead_mans_switch": raw.get("dead_mans_switch", {}),
        "remote": raw.get("remote", {}),
        "venue": raw.get("venue", {}),
        "portfolio": raw.get("portfolio", {}),
        "supervision": raw.get("supervision", {}),
        "quoting": defaults_q,
        "risk": defaults_r,
        "sim": raw.get("sim", {}),
        "assets": assets,
        "allocation": raw.get("allocation", {}),
    }
    try:
        cfg = msgspec.convert(doc, Config, strict=False)
    except msgspec.ValidationError as e:
        raise ConfigError(_explain(e, doc)) from None
    _validate(cfg)
    return cfg


SECRET_WORDS = ("private_key", "privatekey", "secret", "mnemonic", "seed_phrase")


def _refuse_secrets(raw: Any, path: str) -> None:
    """A key in config.toml is a leak waiting to happen (it gets committed, copied,
    pasted): refuse any key that looks like one, without ever echoing its value."""
    if not isinstance(raw, dict):
        return
    for key, value in raw.items():
        where = f"{path}.{key}" if path else str(key)
        if any(w in str(key).lower().replace("-", "_") for w in SECRET_WORDS):
            raise ConfigError(f"{where}: private keys never go in the config file; set HL_PRIVATE_KEY "
                              "in the environment or point venue.hyperliquid.key_file (or --key-file) "
                              "at a file that holds it")
        _refuse_secrets(value, where)


def _explain(e: msgspec.ValidationError, doc: dict) -> str:
    """Turn msgspec's '... - at `$.a.b`' into 'a.b = value: ...'."""
    msg = str(e)
    if " - at `$." in msg:
        text, _, where = msg.partition(" - at `$.")
        path = where.rstrip("`")
        value: Any = doc
        for part in path.replace("[", ".").replace("]", "").split("."):
            try:
                value = value[int(part)] if isinstance(value, (list, tuple)) else value[part]
            except (KeyError, IndexError, ValueError, TypeError):
                value = "<missing>"
                break
        allowed = _allowed_values(path)
        if allowed:
            text = f"{text}; allowed: {allowed}"
        if text.startswith("Object contains unknown field"):
            field = text.split("`")[1] if "`" in text else "?"
            return f"{path}.{field}: unknown key (check the spelling; see config.toml for the allowed keys)"
        return f"{path} = {value!r}: {text}"
    return msg


def _allowed_values(path: str) -> list[Any] | None:
    """The Literal choices of the field at ``path`` (e.g. run.venue -> ['sim'])."""
    import typing

    t: Any = Config
    for part in path.split("."):
        if part.isdigit():
            if typing.get_origin(t) is tuple:  # an item of a list of tables (episodes)
                t = typing.get_args(t)[0]
            continue
        if t is AssetConfig or (isinstance(t, type) and issubclass(t, msgspec.Struct)):
            hints = typing.get_type_hints(t, include_extras=False)
            if part not in hints:
                if t is Config and part == "assets":
                    t = dict
                    continue
                return None
            t = hints[part]
        elif typing.get_origin(t) is dict:
            t = typing.get_args(t)[1]
        else:
            return None
    if typing.get_origin(t) is Literal:
        return list(typing.get_args(t))
    return None


def load(path: str | Path) -> Config:
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such config file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    return from_dict(raw)


def to_builtins(cfg: Config) -> dict:
    return msgspec.to_builtins(cfg)
