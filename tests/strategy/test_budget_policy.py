"""The order actor requotes less as the address action budget runs down."""
import pytest

from strategy.budget_policy import refresh_tolerance_bp


def test_full_budget_quotes_as_configured():
    assert refresh_tolerance_bp(0.5, 1.0) == 0.5
    assert refresh_tolerance_bp(0.5, 0.5) == 0.5


@pytest.mark.parametrize("share, widening", [(0.25, 2.0), (0.1, 5.0), (0.05, 10.0), (0.0, 10.0), (-1.0, 10.0)])
def test_tolerance_widens_as_the_budget_runs_down(share, widening):
    assert refresh_tolerance_bp(0.5, share) == pytest.approx(0.5 * widening)


def test_tolerance_never_narrows_as_budget_shrinks():
    shares = [i / 100 for i in range(100, -1, -1)]
    tolerances = [refresh_tolerance_bp(0.5, s) for s in shares]
    assert tolerances == sorted(tolerances)
