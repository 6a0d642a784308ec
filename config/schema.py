"""The configuration's shape: one typed, frozen section per table of ``config.toml``.

The file has portfolio-wide defaults (``[quoting]``, ``[risk]``) and one section per
asset (``[assets.BTC]``) whose ``quoting``/``risk`` tables override those defaults key
by key. Every error names the field path, the bad value and what is allowed.
"""

from __future__ import annotations

from typing import Literal

import msgspec

KNOWN_VENUES = ("sim", "remote-sim", "hyperliquid")
KNOWN_REGIMES = ("CALM", "NORMAL", "ELEVATED", "EXTREME")


class ConfigError(Exception):
    """A config problem a user can fix; the message says where and what is allowed."""


class _Section(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


class RunConfig(_Section, frozen=True):
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


class DeadMansSwitchConfig(_Section, frozen=True):
    """The exchange-side dead-man's switch (Hyperliquid's scheduleCancel): renewed only
    while every asset tree is healthy, so a frozen or killed process loses its quotes."""

    enabled: bool = True
    window_s: float = 15.0  # renewals schedule the cancel this far ahead (>= 5 s): a killed process's quotes last <= this
    renew_every_s: float = 5.0  # one address action each: 17,280 a day


class RemoteConfig(_Section, frozen=True):
    url: str = "ws://127.0.0.1:8765"  # where `makerhive sim-server` listens


MAINNET_API_URL = "https://api.hyperliquid.xyz"
TESTNET_API_URL = "https://api.hyperliquid-testnet.xyz"


class HyperliquidConfig(_Section, frozen=True):
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
        return "ws" + self.rest_url()[len("http") :] + "/ws"

    def signs_mainnet(self) -> bool:
        """Like the SDK: only the mainnet URL itself signs for mainnet."""
        return self.rest_url() == MAINNET_API_URL


class VenueConfig(_Section, frozen=True):
    hyperliquid: HyperliquidConfig = msgspec.field(default_factory=HyperliquidConfig)


class PortfolioConfig(_Section, frozen=True):
    capital_usd: float = 100_000.0
    assets: tuple[str, ...] = ("BTC", "ETH", "SOL", "XRP", "HYPE")
    # Portfolio limits, above every asset's own (strategy.md "Circuit breakers and limits"):
    max_exposure_pct: float = 0.40  # total |inventory| across assets <= this share of capital
    drawdown_stop_pct: float = 0.05  # of the day's starting equity: halt everything, cancel all
    max_concurrent_assets: int = 10  # assets trading at once; the rest wait on standby


class ZoneMultipliers(_Section, frozen=True):
    """The risk multipliers of one score zone (size, spread, max position)."""

    size: float = 1.0
    spread: float = 1.0
    max_position: float = 1.0


class AllocationConfig(_Section, frozen=True):
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
    reward: ZoneMultipliers = msgspec.field(default_factory=lambda: ZoneMultipliers(size=1.10, spread=0.90, max_position=1.10))
    hold: ZoneMultipliers = msgspec.field(default_factory=ZoneMultipliers)
    punish: ZoneMultipliers = msgspec.field(default_factory=lambda: ZoneMultipliers(size=0.70, spread=1.30, max_position=0.70))
    pause: ZoneMultipliers = msgspec.field(default_factory=lambda: ZoneMultipliers(size=0.40, spread=1.50, max_position=0.40))
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
    # Evidence, not noise: an asset's score moves its zone only when the mean of its returns
    # is this many standard errors from zero (t over blocks of evidence_block_s, at most a
    # tenth of the window; Student's t equivalent for few blocks), its capital up only when
    # it also beats the rest's (Bonferroni over the assets), down on a loss or a plunge
    # (supervisor/evidence.py); 0: every score moves them.
    min_t_stat: float = 2.0
    evidence_block_s: float = 60.0
    size_follows_capital: bool = True  # quote sizes scale with capital / equal share


class SupervisionConfig(_Section, frozen=True):
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


class LearnedConfig(_Section, frozen=True):
    """The learned fill and adverse-selection model (strategy/learned.py): widens or pulls
    the side it expects to be picked off on. Off unless it earns in the evaluation."""

    enabled: bool = False
    model_path: str = ""  # a model file of `makerhive train-model`
    adverse_threshold: float = 0.6  # predicted P(adverse markout | fill) above this: act on the side
    pull_threshold: float = 0.8  # ... above this: pull the side's levels instead of widening
    widen_mult: float = 1.5  # the threatened side's spread


class ComputeConfig(_Section, frozen=True):
    """Where sweeps, evaluations and optimisations run (backtest/compute.py)."""

    backend: Literal["local", "ray"] = "local"
    workers: int = 0  # local processes (0: every core)
    ray_address: str = "local"  # "local": start a Ray instance here; "ray://host:10001" or "host:6379": a cluster
    num_cpus: int = 0  # CPUs of a local Ray instance (0: every core)


class ReoptimizeConfig(_Section, frozen=True):
    """The live run's re-optimiser (makerhive/reoptimize.py): re-fit on the recorded last
    hours, apply only what beats the current parameters out of sample."""

    enabled: bool = False
    every_h: float = 24.0  # how often (simulated hours on the sim)
    window_h: float = 6.0  # the recorded hours it fits and scores on
    holdout_share: float = 0.3  # the window's last share: the out-of-sample score
    margin: float = 0.0  # the new parameters must beat the current ones out of sample by this (objective units)
    max_step: float = 0.2  # each parameter moves at most this share of its current value per change
    trials: int = 20
    record_dir: str = ""  # where the run records its books and trades ("": <run.journal_dir>/recording)
    space: str = ""  # search space file ("": the built-in quoting space)


class GlftConfig(_Section, frozen=True):
    """GLFT asymptotic quotes (models.md §2.2) with A, k fitted online from trade depths."""

    gamma: float = 0.05  # risk aversion per L1 lot, bp units
    a_per_s: float = 1.0  # intensity at the fair price before the first fit (1/s)
    k_per_bp: float = 0.5  # intensity decay before the first fit (1/bp)
    calibrate: bool = True  # fit A, k from the market's trades (models.md §2.4 method 1)
    window_s: float = 600.0  # rolling window of the fit
    refit_s: float = 5.0  # refit this often
    skew_adj: float = 1.0  # scales the model's inventory skew (hftbacktest's adj)


class QueueConfig(_Section, frozen=True):
    """Keep resting orders (their queue place) while their price is still acceptable."""

    enabled: bool = True
    keep_tolerance_bp: float = 1.5  # a resting level moves only past this ...
    max_age_s: float = 30.0  # ... or once it has rested this long


class AloSafetyConfig(_Section, frozen=True):
    """Extra ticks away from the touch per level after post-only rejects."""

    enabled: bool = True
    max_ticks: int = 5
    decay_after: int = 20  # successful placements that take one safety tick back
    # a requote on risk news (a fill) whose book is older than this may pull or retreat
    # quotes but places nothing: the book has moved since, and an order priced on it
    # lands rejected or picked off; the next book places (0: off)
    max_book_age_s: float = 0.15


class SweepGuardConfig(_Section, frozen=True):
    """A print through the touch and far from the mid pulls the side it hit for a moment
    (strategy/sweep_guard.py): what rests there was priced before the sweep."""

    enabled: bool = True
    depth_bp: float = 1.5  # the print's distance from the last book's mid, beyond its touch
    hold_s: float = 1.0  # venue seconds after the print before the side is quoted again


class PauseExitConfig(_Section, frozen=True):
    """While quotes are pulled for the market (a price breaker, EXTREME volatility), the
    position is offered back at the touch, reduce-only (strategy/pause_exit.py)."""

    enabled: bool = True
    losing_only: bool = True  # only a position worth less than it cost (unrealized PnL < 0)


class RegimeConfig(_Section, frozen=True):
    """Volatility at 1, 5 and 15 minutes classified CALM..EXTREME (strategy.md)."""

    enabled: bool = True
    calm_bp: float = 5.0  # 1-minute move size thresholds
    elevated_bp: float = 25.0
    extreme_bp: float = 60.0


class ToxicityConfig(_Section, frozen=True):
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


class TrendConfig(_Section, frozen=True):
    """Fast/slow EMA of the mid: skew toward the trend, smaller counter-trend size."""

    enabled: bool = False  # strategy.md: off by default
    fast_s: float = 60.0
    slow_s: float = 300.0
    full_bp: float = 10.0  # fast - slow gap that counts as full strength
    strength: float = 0.2  # reservation shift, in half spreads, at full strength


class AutoTunerConfig(_Section, frozen=True):
    """The runtime auto-tuner (strategy/auto_tuner.py): bounded steps of the spread and
    the skew from the asset's rolling Sharpe, fill rate and inventory load."""

    enabled: bool = False  # off: it did not earn its place in the evaluation (README)
    period_s: float = 60.0  # one look (and at most one step) per period
    window_s: float = 900.0  # the rolling window it judges
    sample_s: float = 10.0  # one sample of equity, fills and load per this long
    min_samples: int = 30  # fewer samples in the window: no change
    step: float = 0.1  # each multiplier moves at most 10% a look
    losing_sharpe: float = -1.0  # the window's Sharpe of equity changes below this: widen
    min_fills_per_h: float = 20.0  # not losing, fewer fills an hour: tighten
    inventory_pressure: float = 0.5  # mean |inventory| / limit above this: more skew
    min_spread_mult: float = 0.8
    max_spread_mult: float = 2.0
    max_skew_mult: float = 2.0


class FundingSkewConfig(_Section, frozen=True):
    """Holding the side that earns funding is cheaper than holding the side that pays."""

    enabled: bool = True
    horizon_h: float = 1.0  # expected holding time priced into the reservation


class BreakersConfig(_Section, frozen=True):
    """Circuit breakers (strategy.md), each with its cooldown."""

    enabled: bool = True
    widen_move_pct: float = 1.0  # in 1 minute: widen
    widen_mult: float = 3.0
    widen_cooldown_s: float = 300.0
    pause_move_pct: float = 3.0  # in 5 minutes: cancel all, pause
    pause_cooldown_s: float = 900.0
    api_errors: int = 5  # in a minute: pause
    api_cooldown_s: float = 120.0


class BudgetGovernorConfig(_Section, frozen=True):
    """Requotes paid from the address budget: a cancel-to-fill governor."""

    enabled: bool = True
    max_cancels_per_fill: float = 10.0  # above this over the window, levels move less often
    window_s: float = 300.0


class FlowFairConfig(_Section, frozen=True):
    """``fair_value = "flow"``: the microprice plus the mid's next move forecast from the
    book's order flow, fitted on the market's own books (strategy/flow_fair.py)."""

    horizon_s: float = 4.0  # the move forecast: the mid this long after the book (2 s and 8 s did worse, README)
    window_s: float = 600.0  # books of this long ago still teach the fit
    refit_s: float = 5.0
    min_samples: int = 200  # labelled books before the forecast is used (0 until then)


class TapeEdgeConfig(_Section, frozen=True):
    """Quote only where the tape says a fill pays: each level's distance plus the mean move
    after the market's prints that reached its depth, less the maker fee (strategy/tape_edge.py)."""

    enabled: bool = True
    horizon_s: float = 10.0  # the move is read this long after each print (past the book's lag)
    window_s: float = 900.0  # prints of this long ago still count
    bin_bp: float = 0.5  # depth bins
    min_trades: int = 30  # prints a depth needs before its mean is believed
    margin_bp: float = 0.0  # edge a level must keep beyond the fee
    unknown_drift_bp: float = -1.0  # assumed move before the tape knows (learn first, cheaply)
    confidence_z: float = 0.0  # >0: each depth's mean move less this many standard errors (few prints, less belief)
    book_through: bool = False  # a book gapping through the last touch counts as a print there
    wait_book_after_fill: bool = False  # a side that filled is not quoted again from a book older than the fill
    own_fills: bool = False  # our fills' markouts, where worse than the tape expected, count too (fill_edge.py)
    own_min_fills: int = 10  # ... shrunk toward 0 with this many fills' weight
    unwind_free: bool = False  # levels that only reduce the position are priced without the tape's move ...
    unwind_after_s: float = 0.0  # ... once the position has kept its sign this long
    unwind_losing_only: bool = False  # ... and only while it is losing (unrealized PnL < 0)
    unwind_at_fee: bool = False  # ... a closing level inside the fee of the reservation price moves out to it
    # a fill that reduces the position also earns the holding cost it saves, γ·σ²·H per lot
    # of position (γ: the model's, σ: the book's, H: this); 0: off (strategy/hold_value.py)
    hold_horizon_s: float = 0.0
    add_horizon_s: float = 0.0  # a fill that grows the position pays the holding cost it adds, over this H; 0: off


class QuotingConfig(_Section, frozen=True):
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
    fair_value: Literal["auto", "mid", "microprice", "imbalance", "flow"] = "auto"  # auto: use_microprice
    imbalance_weight: float = 0.5  # "imbalance": mid + weight x imbalance x half the touch spread
    maker_fee_bp: float = 1.5  # base tier; a level whose edge after it is negative is not quoted
    # the loaded side stops once a 3-sigma 5-minute move of the inventory would cost this
    # share of the asset's capital (the cap shrinks as volatility grows); 0: off
    inventory_risk_pct: float = 0.0
    # a side's levels stop where their fills would take |position| past this many L1 lots
    # (order_size_usd each); 0: off
    position_cap_lots: float = 0.0
    fee_aware: bool = False
    learned: LearnedConfig = LearnedConfig()  # the learned fill model's switch (strategy/learned.py)
    glft: GlftConfig = GlftConfig()
    queue: QueueConfig = QueueConfig(enabled=False)
    alo_safety: AloSafetyConfig = AloSafetyConfig(enabled=False)
    sweep_guard: SweepGuardConfig = SweepGuardConfig(enabled=False)
    pause_exit: PauseExitConfig = PauseExitConfig(enabled=False)
    regime: RegimeConfig = RegimeConfig(enabled=False)
    toxicity: ToxicityConfig = ToxicityConfig(enabled=False)
    trend: TrendConfig = TrendConfig()
    auto_tuner: AutoTunerConfig = AutoTunerConfig()
    funding_skew: FundingSkewConfig = FundingSkewConfig(enabled=False)
    breakers: BreakersConfig = BreakersConfig(enabled=False)
    budget_governor: BudgetGovernorConfig = BudgetGovernorConfig(enabled=False)
    tape_edge: TapeEdgeConfig = TapeEdgeConfig(enabled=False)
    flow_fair: FlowFairConfig = FlowFairConfig()  # used by fair_value = "flow"


class RiskConfig(_Section, frozen=True):
    max_position_usd: float = 5_000.0  # hard cap on |inventory| in USD
    max_position_pct: float = 0.25  # ... and at most this share of the asset's capital
    widen_at: float = 0.5  # inventory / limit beyond which the loaded side widens
    widen_mult: float = 1.5
    stop_at: float = 0.8  # ... beyond which the loaded side stops quoting
    reduce_only_at: float = 0.9  # ... beyond which the asset only quotes to reduce
    # Past the hard limit (a cut of capital or score zone, a hot reload, a reconciled position
    # larger than the limit): the reducing side joins the touch for the excess, whatever its
    # edge (a passive unwind); past emergency_at the excess is cut with a reduce-only IOC.
    unwind_at: float = 1.0  # inventory / limit beyond which the passive unwind works the excess
    emergency_at: float = 1.5  # ... beyond which a reduce-only IOC takes the position back to the limit
    emergency_ioc: bool = True  # false: past emergency_at the passive unwind only
    emergency_slippage_bp: float = 30.0  # the IOC's limit price: at most this far through the mid
    emergency_cooldown_s: float = 2.0  # at least this long between two IOCs of an asset
    daily_loss_pct: float = 0.05  # of the asset's capital: stop the asset for the day
    # margin (Hyperliquid): leverage set per asset at start; breakers on the account's margin
    leverage: int = 3  # updateLeverage at start (1..50, within the asset's maxLeverage)
    margin_mode: Literal["cross", "isolated"] = "cross"
    max_margin_ratio: float = 0.5  # maintenance margin used / account value beyond which the asset halts
    min_liquidation_distance_pct: float = 10.0  # mark this close to liquidationPx: no quote adds to the position


class SimConfig(_Section, frozen=True):
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


class MarketEpisode(_Section, frozen=True):
    """A stretch of simulated time in which the market is overridden, e.g. made toxic
    (a forced trend with mostly informed takers) and then left to recover."""

    start_s: float  # simulated seconds from the start
    end_s: float
    regime: str = ""  # force one of SIM_REGIMES for the episode ("": the regime process's own)
    informed_share: float | None = None  # None: the market's own
    trend_bp_per_min: float | None = None


class MarketConfig(_Section, frozen=True):
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


class AssetConfig(_Section, frozen=True):
    """The effective config of one asset: defaults merged with its overrides."""

    name: str
    market: MarketConfig
    quoting: QuotingConfig
    risk: RiskConfig
    # reinvest this asset's own PnL on top of its base allocation (the supervisor moves the base only)
    compound: bool = False


ALERT_KINDS = ("failure", "restart", "escalation", "gave_up", "halt", "quarantine", "stall", "exposure", "unwind")


class AlertsConfig(_Section, frozen=True):
    """Opt-in webhook alerts (makerhive.alerts). Webhook URLs and bot tokens are secrets:
    each may come from the environment instead (MAKERHIVE_DISCORD_URL, MAKERHIVE_SLACK_URL,
    MAKERHIVE_TELEGRAM_TOKEN) and none is ever logged or shown."""

    enabled: bool = False
    discord_url: str = ""
    slack_url: str = ""
    telegram_chat_id: str = ""  # the bot's token: MAKERHIVE_TELEGRAM_TOKEN
    telegram_api: str = "https://api.telegram.org"
    kinds: tuple[str, ...] = ALERT_KINDS  # event kinds sent; the dead-man's switch always is
    min_interval_s: float = 60.0  # one message per kind and asset per interval; repeats are counted in
    max_per_minute: int = 20  # over all channels' messages; past it they are counted, then summarised
    retries: int = 3
    timeout_s: float = 5.0
    digest_every_s: float = 3600.0  # a PnL digest this often (wall clock); 0: none


class Config(_Section, frozen=True):
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
    alerts: AlertsConfig = msgspec.field(default_factory=AlertsConfig)
    compute: ComputeConfig = msgspec.field(default_factory=ComputeConfig)
    reoptimize: ReoptimizeConfig = msgspec.field(default_factory=ReoptimizeConfig)

    def capital_share(self) -> float:
        """Equal split of the portfolio's capital among the assets that trade at once (the
        meta-supervisor's first allocation)."""
        return self.portfolio.capital_usd / max(1, min(len(self.portfolio.assets), self.portfolio.max_concurrent_assets))
