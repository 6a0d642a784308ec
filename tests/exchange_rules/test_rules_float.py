"""The float paths of exchange_rules.ticks equal the Decimal functions bit for bit: every price
and size, every szDecimals 0..6, every rounding mode, the same errors. Hypothesis draws
floats over wide ranges and, above all, the awkward ones: on the tick grid, one ulp
either side of it, ties, powers of ten and their neighbours."""
import math
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from exchange_rules import ticks as rules

MODES = ("down", "up", "nearest")
SZD = st.integers(min_value=0, max_value=6)
EXAMPLES = settings(max_examples=1000, deadline=None)


def _grid_floats(lo_exp: int, hi_exp: int) -> st.SearchStrategy[float]:
    """Floats on, next to, or halfway between decimal grids: m·10^-j, m·10^-j ± ulps,
    (m + 1/2)·10^-j, and powers of ten."""
    m = st.integers(min_value=1, max_value=10**7)
    j = st.integers(min_value=0, max_value=12)

    def build(m: int, j: int, kind: int, ulps: int) -> float:
        if kind == 0:
            x = m / 10**j
        elif kind == 1:
            x = (2 * m + 1) / (2 * 10**j)  # a tie between two grid points
        else:
            x = float(f"1e{(m % (hi_exp - lo_exp + 1)) + lo_exp}")  # a power of ten
        for _ in range(abs(ulps)):
            x = math.nextafter(x, math.inf if ulps > 0 else 0.0)
        return x

    return st.builds(build, m, j, st.integers(0, 2), st.integers(-2, 2)).filter(lambda x: x > 0)


PRICES = st.one_of(
    st.floats(min_value=1e-9, max_value=1e9, allow_nan=False, allow_infinity=False),
    st.floats(min_value=5e-324, max_value=1e300, allow_nan=False, allow_infinity=False),
    _grid_floats(-10, 10),
)
SIZES = st.one_of(
    st.floats(min_value=0.0, max_value=1e8, allow_nan=False, allow_infinity=False),
    st.floats(min_value=5e-324, max_value=1e300, allow_nan=False, allow_infinity=False),
    _grid_floats(-8, 8),
)


def _outcome(f, *args):
    try:
        return ("ok", f(*args))
    except (ValueError, ArithmeticError) as e:
        return (type(e).__name__, str(e))


def _same(a, b) -> bool:
    """Equal results, bit for bit (the sign of a zero counts), or the same error."""
    if a[0] == "ok" and b[0] == "ok":
        x, y = a[1], b[1]
        if isinstance(x, float) and isinstance(y, float):
            if math.isnan(x) or math.isnan(y):
                return math.isnan(x) and math.isnan(y)
            return x == y and math.copysign(1.0, x) == math.copysign(1.0, y)
        return x == y
    return a == b


@EXAMPLES
@given(PRICES, SZD, st.sampled_from(MODES))
@example(99999.5, 5, "up")  # rounds across 1e5: the tick grows
@example(9999.96, 4, "nearest")
@example(0.00005, 5, "down")  # below the smallest tick: no positive price
@example(1.00005, 0, "nearest")  # a tie
def test_round_price_float_is_round_price(px, szd, mode):
    ref = _outcome(lambda: float(rules.round_price(px, szd, mode)))
    assert _same(_outcome(rules.round_price_float, px, szd, mode), ref)


@EXAMPLES
@given(PRICES, SZD)
@example(95000.5, 5)
@example(100001.0, 5)  # an integer is always valid
def test_tick_and_validity_float_are_the_decimal_ones(px, szd):
    assert rules.tick_at_float(px, szd) == float(rules.tick_at(px, szd))
    assert rules.is_valid_price_float(px, szd) == rules.is_valid_price(px, szd)
    scaled = rules.price_scaled(px, szd)
    if scaled is not None:
        n, te = scaled
        assert Decimal(repr(px)) == Decimal(n).scaleb(te) and rules.tick_at(px, szd) == Decimal(1).scaleb(te)
        assert rules.is_valid_price(px, szd)


@EXAMPLES
@given(SIZES, st.integers(min_value=0, max_value=8), st.sampled_from(MODES))
@example(0.000125, 5, "nearest")  # a tie in decimal, not in binary
@example(-0.0, 3, "down")
@example(0.0, 3, "up")
def test_round_size_float_is_round_size(sz, szd, mode):
    ref = _outcome(lambda: float(rules.round_size(sz, szd, mode)))
    assert _same(_outcome(rules.round_size_float, sz, szd, mode), ref)
    assert rules.is_valid_size_float(sz, szd) == rules.is_valid_size(sz, szd)


@EXAMPLES
@given(PRICES, SIZES)
@example(2.5, 4.0)
@example(0.1, 100.0)  # 10.000000000000002 in binary, exactly 10 in decimal
@example(3.3, 3.0303030303030303)
def test_min_notional_float_is_the_decimal_one(px, sz):
    assert rules.meets_min_notional_float(px, sz) == rules.meets_min_notional(px, sz)
    assert rules.meets_min_notional_float(px, -sz) == rules.meets_min_notional(px, -sz)


@EXAMPLES
@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=-12, max_value=0), SZD,
       st.sampled_from(MODES))
@example(99999, -1, 5, "up")
@example(0, -2, 2, "down")
def test_snap_scaled_is_round_price_of_that_decimal(m, e, szd, mode):
    d = Decimal(m).scaleb(e)
    try:
        ref = float(rules.round_price(d, szd, mode)) if d > 0 else None
    except ValueError:
        ref = None
    got = rules.snap_scaled_float(m, e, szd, mode) if m > 0 else None
    assert got == ref


@pytest.mark.parametrize("x", [math.inf, -math.inf, math.nan, -1.0, 0.0, -0.0])
def test_odd_inputs_behave_as_the_decimal_functions(x):
    for szd in range(7):
        for mode in MODES:
            assert _same(_outcome(rules.round_price_float, x, szd, mode),
                         _outcome(lambda: float(rules.round_price(x, szd, mode))))
            assert _same(_outcome(rules.round_size_float, x, szd, mode),
                         _outcome(lambda: float(rules.round_size(x, szd, mode))))
        assert _same(_outcome(rules.is_valid_price_float, x, szd), _outcome(rules.is_valid_price, x, szd))
        assert _same(_outcome(rules.is_valid_size_float, x, szd), _outcome(rules.is_valid_size, x, szd))
        assert _same(_outcome(rules.tick_at_float, x, szd), _outcome(lambda: float(rules.tick_at(x, szd))))
        assert rules.price_scaled(x, szd) is None
    assert _same(_outcome(rules.meets_min_notional_float, x, 1.0), _outcome(rules.meets_min_notional, x, 1.0))
