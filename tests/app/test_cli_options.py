"""An option that changes nothing is an error, said before anything starts."""
from __future__ import annotations

import pytest

from makerhive.cli import main
from tests.hive_helpers import ROOT


@pytest.mark.parametrize("extra, says", [
    (["--yes"], "--yes confirms --mainnet"),
    (["--metrics-host", "0.0.0.0"], "give --metrics-port N too"),
    (["--mainnet"], "apply to --venue hyperliquid only"),
])
def test_an_option_without_effect_is_refused(extra, says, capsys):
    rc = main(["run", "--headless", "--duration", "1", "--config", str(ROOT / "config.toml"), *extra])
    assert rc == 2
    assert says in capsys.readouterr().err
