"""A misspelt key names where it is, the asset included, and the key meant."""
import tomllib

import pytest

import config as c


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r["assets"]["BTC"].setdefault("quoting", {}).update(gammma=0.2),
     "assets.BTC.quoting.gammma: unknown key; did you mean 'gamma'?"),
    (lambda r: r["assets"]["ETH"].setdefault("risk", {}).update(stop_att=0.9),
     "assets.ETH.risk.stop_att: unknown key; did you mean 'stop_at'?"),
    (lambda r: r["assets"]["SOL"]["market"].update(sigma_pb=3.0),
     "assets.SOL.market.sigma_pb: unknown key; did you mean 'sigma_bp'?"),
    (lambda r: r["quoting"].update(gammma=0.2), "quoting.gammma: unknown key; did you mean 'gamma'?"),
    (lambda r: r["run"].update(speeed=2.0), "run.speeed: unknown key; did you mean 'speed'?"),
    (lambda r: r.update(rnu=r.pop("run")), "[rnu]: unknown section; did you mean [run]?"),
])
def test_a_typo_names_its_place_and_the_nearest_key(config_path, mutate, message):
    r = tomllib.loads(config_path.read_text())
    mutate(r)
    with pytest.raises(c.ConfigError) as e:
        c.from_dict(r)
    assert str(e.value) == message


def test_a_key_like_nothing_lists_the_allowed_ones(config_path):
    r = tomllib.loads(config_path.read_text())
    r["assets"]["ETH"].setdefault("risk", {}).update(zzzz=1)
    with pytest.raises(c.ConfigError, match=r"assets\.ETH\.risk\.zzzz: unknown key; allowed: \[.*'stop_at'"):
        c.from_dict(r)
