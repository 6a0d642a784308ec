"""Client-side accounting of Hyperliquid's IP weight and address action budget."""
import trio

from strategy.budget_policy import refresh_tolerance_bp
from venues.hyperliquid.budget import AddressBudget, IpWeight, exchange_weight, info_weight
from venues.hyperliquid.rest import HyperliquidRest


def test_exchange_weight_grows_by_one_per_40_orders():
    assert [exchange_weight(n) for n in (1, 39, 40, 79, 80)] == [1, 1, 2, 2, 3]


def test_info_weights_follow_the_documented_table():
    assert info_weight("l2Book") == 2
    assert info_weight("clearinghouseState") == 2
    assert info_weight("meta") == 20
    assert info_weight("frontendOpenOrders") == 20
    assert info_weight("userRole") == 60
    # history requests pay one more per 20 items returned
    assert info_weight("userFillsByTime", items=45) == 22


def test_ip_weight_slides_over_a_minute():
    ip = IpWeight(per_minute=100)
    ip.spend(0.0, 60)
    ip.spend(30.0, 30)
    assert ip.used(30.0) == 90 and ip.remaining(30.0) == 10
    assert ip.wait_for(30.0, 10) == 0.0
    # 20 more does not fit until the first 60 expire at t=60
    assert ip.wait_for(30.0, 20) == 30.0
    assert ip.used(60.0) == 30  # the first spend has left the window


def test_the_share_of_ip_weight_left_is_what_the_order_actors_see():
    ip = IpWeight(per_minute=1200)
    ip.spend(0.0, 900)
    assert ip.share_left(10.0) == 0.25
    assert ip.share_left(60.0) == 1.0  # the minute has passed

    rest = HyperliquidRest("http://127.0.0.1:9", ip=IpWeight(per_minute=100))

    async def spend() -> None:
        await rest._charge(80, wait=False)  # what every /exchange and /info request does first

    trio.run(spend)
    assert rest.ip_share == 0.2
    # the order actor's refresh tolerance widens once less than half is left
    assert refresh_tolerance_bp(1.0, rest.ip_share) == 2.5


def test_address_budget_counts_what_we_spend_between_refreshes():
    b = AddressBudget()
    assert b.remaining() == 10_000
    b.refresh(0.0, used=9_990, cap=10_050, cum_volume=50.0)
    b.spend(6)  # a batch of six orders counts six
    assert b.remaining() == 54
    assert 0 < b.share_left() < 0.01
    # cancels may go on past the cap: min(cap + 100000, 2 cap)
    assert b.cancel_remaining() == 20_100 - 9_996
    b.refresh(60.0, used=9_000, cap=10_100, cum_volume=100.0)
    assert b.remaining() == 1_100 and b.spent_since_refresh == 0


async def test_a_history_answer_is_charged_by_the_items_it_returns():
    """userFillsByTime costs 20 plus 1 per 20 fills returned: a busy account's fill
    syncs must be counted at that, or the exchange answers 429 before we expect it."""
    import json

    import httpx
    import trio

    from venues.hyperliquid import wire
    from venues.hyperliquid.rest import HyperliquidRest

    fill = {"coin": "ETH", "px": "3000", "sz": "0.01", "side": "B", "time": 1_760_000_000_000, "oid": 1,
            "tid": 1, "fee": "0.01"}
    fills = [dict(fill, tid=i) for i in range(45)]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps(fills).encode())

    rest = HyperliquidRest("http://127.0.0.1:1")
    rest.client = httpx.AsyncClient(base_url=rest.base_url, transport=httpx.MockTransport(answer))
    got = await rest.info({"type": "userFillsByTime", "user": "0x0", "startTime": 0}, tuple[wire.WsFill, ...])
    assert len(got) == 45
    assert rest.ip.used(trio.current_time()) == 22
    await rest.client.aclose()
