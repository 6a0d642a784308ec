"""A faithful local fake of Hyperliquid's API (REST and WebSocket on one port), for
tests and benchmarks: ``FakeHyperliquid(cfg, account=..., agents=...).start()``."""
from testkit.hyperliquid_fake.server import FakeHyperliquid

__all__ = ["FakeHyperliquid"]
