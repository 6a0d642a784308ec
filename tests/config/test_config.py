"""Config loading: effective values, overrides, and errors a user can act on."""
import subprocess
import sys
import tomllib

import pytest

import config as c
from makerhive.cli import main


def raw(config_path):
    return tomllib.loads(config_path.read_text())


def test_default_config_is_valid_with_five_assets(config_path):
    cfg = c.load(config_path)
    assert cfg.portfolio.assets == ("BTC", "ETH", "SOL", "XRP", "HYPE")
    assert cfg.run.venue == "sim"
    assert cfg.capital_share() == pytest.approx(cfg.portfolio.capital_usd / 5)


def test_per_asset_section_overrides_portfolio_default(config_path):
    r = raw(config_path)
    r["assets"]["ETH"]["risk"] = {"max_position_usd": 3000.0}
    cfg = c.from_dict(r)
    assert cfg.assets["ETH"].risk.max_position_usd == 3000.0
    assert cfg.assets["ETH"].risk.stop_at == cfg.risk.stop_at  # untouched keys inherit
    assert cfg.assets["BTC"].risk.max_position_usd == cfg.risk.max_position_usd
    assert cfg.assets["HYPE"].quoting.gamma == 0.08 and cfg.assets["BTC"].quoting.gamma == cfg.quoting.gamma


@pytest.mark.parametrize("mutate, path, hint", [
    (lambda r: r["run"].update(speed=-3), "run.speed", "> 0"),
    (lambda r: r["quoting"].update(levels="three"), "levels", "int"),
    (lambda r: r["quoting"].update(gamam=0.1), "quoting.gamam", "unknown key"),
    (lambda r: r["quoting"].update(level_size_mult=[1.0, 2.0]), "quoting.level_size_mult", "one multiplier per level"),
    (lambda r: r["risk"].update(widen_at=0.9, stop_at=0.5), "risk.widen_at/stop_at/reduce_only_at", "widen_at <= stop_at"),
    (lambda r: r["risk"].update(unwind_at=1.2, emergency_at=1.1), "risk.unwind_at/emergency_at",
     "unwind_at <= emergency_at"),
    (lambda r: r["risk"].update(emergency_slippage_bp=0.0), "risk.emergency_slippage_bp", "from 1 to 500"),
    (lambda r: r["assets"]["BTC"].update(quoting={"order_size_usd": 2000.0}), "assets.BTC.quoting.order_size_usd",
     "more than the position limit"),
    (lambda r: r["assets"]["SOL"]["market"].update(sz_decimals=9), "assets.SOL.market.sz_decimals", "0 to 6"),
    (lambda r: r["portfolio"].update(assets=["BTC", "DOGE"]), "portfolio.assets", "no [assets.DOGE] section"),
    (lambda r: r["quoting"].update(order_size_usd=5.0), "quoting.order_size_usd", "$10 minimum"),
    (lambda r: r["run"].update(venue="binance"), "venue", "sim"),
    (lambda r: r["quoting"].update(auto_tuner={"enabled": True, "max_spread_mult": 0.5}),
     "quoting.auto_tuner.max_spread_mult", "at least 1"),
    (lambda r: r["quoting"].update(auto_tuner={"step": 1.5}), "quoting.auto_tuner.step", "below 1"),
    (lambda r: r["quoting"]["alo_safety"].update(max_book_age_s=float("nan")), "quoting.alo_safety.max_book_age_s",
     "from 0 (off) to 60"),
    (lambda r: r["quoting"]["sweep_guard"].update(depth_bp=float("nan")), "quoting.sweep_guard.depth_bp",
     "above 0, at most 1000"),
    (lambda r: r["quoting"]["sweep_guard"].update(hold_s=0.0), "quoting.sweep_guard.hold_s", "above 0, at most 3600"),
])
def test_bad_config_names_field_value_and_allowed(config_path, mutate, path, hint):
    r = raw(config_path)
    mutate(r)
    with pytest.raises(c.ConfigError) as e:
        c.from_dict(r)
    assert path in str(e.value)
    assert hint in str(e.value)


def test_check_config_prints_effective_config(config_path, capsys):
    assert main(["check-config", str(config_path)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and '"HYPE"' in out and '"gamma": 0.08' in out


def test_bad_config_file_exits_2_before_anything_starts(tmp_path, config_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(config_path.read_text().replace("max_position_pct = 0.25", "max_position_pct = 7"))
    proc = subprocess.run([sys.executable, "-m", "makerhive.cli", "run", "--headless", "--duration", "5",
                           "--config", str(bad)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "risk.max_position_pct = 7" in proc.stderr and "fraction" in proc.stderr
    assert main(["check-config", str(bad)]) == 2


def test_not_toml_and_missing_file(tmp_path):
    p = tmp_path / "x.toml"
    p.write_text("[run\nspeed=")
    with pytest.raises(c.ConfigError, match="not valid TOML"):
        c.load(p)
    with pytest.raises(c.ConfigError, match="no such config file"):
        c.load(tmp_path / "nope.toml")
