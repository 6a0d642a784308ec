"""makerhive's configuration, the ground every other package stands on: its shape
(``schema``), its rules (``validation``) and reading it from ``config.toml`` (``loading``)."""
from config.loading import SECRET_WORDS, from_dict, load, to_builtins
from config.schema import (
    KNOWN_VENUES,
    KNOWN_REGIMES,
    ConfigError,
    RunConfig,
    DeadMansSwitchConfig,
    RemoteConfig,
    MAINNET_API_URL,
    TESTNET_API_URL,
    HyperliquidConfig,
    VenueConfig,
    PortfolioConfig,
    ZoneMultipliers,
    AllocationConfig,
    SupervisionConfig,
    GlftConfig,
    QueueConfig,
    AloSafetyConfig,
    RegimeConfig,
    ToxicityConfig,
    TrendConfig,
    FundingSkewConfig,
    BreakersConfig,
    BudgetGovernorConfig,
    QuotingConfig,
    RiskConfig,
    SimConfig,
    SIM_REGIMES,
    MarketEpisode,
    MarketConfig,
    AssetConfig,
    Config,
)
from config.validation import validate

__all__ = [
    "SECRET_WORDS", "from_dict", "load", "to_builtins", "validate",
    "KNOWN_VENUES", "KNOWN_REGIMES", "ConfigError", "RunConfig", "DeadMansSwitchConfig", "RemoteConfig", "MAINNET_API_URL", "TESTNET_API_URL", "HyperliquidConfig", "VenueConfig", "PortfolioConfig", "ZoneMultipliers", "AllocationConfig", "SupervisionConfig", "GlftConfig", "QueueConfig", "AloSafetyConfig", "RegimeConfig", "ToxicityConfig", "TrendConfig", "FundingSkewConfig", "BreakersConfig", "BudgetGovernorConfig", "QuotingConfig", "RiskConfig", "SimConfig", "SIM_REGIMES", "MarketEpisode", "MarketConfig", "AssetConfig", "Config",
]
