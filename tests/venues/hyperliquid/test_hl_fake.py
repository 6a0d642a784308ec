"""The fake Hyperliquid (testkit.hyperliquid_fake) against Hyperliquid's documented API:
httpx and trio-websocket as clients, the official SDK as the signer."""
from __future__ import annotations

import itertools
import json
import re
import time
from typing import Any, Callable

import httpx
import pytest
import trio
from eth_account import Account
from hyperliquid.utils.signing import order_request_to_order_wire, order_wires_to_order_action, sign_l1_action
from hyperliquid.utils.types import Cloid
from trio_websocket import ConnectionClosed, open_websocket_url

from tests.hive_helpers import sim_config
from testkit.hyperliquid_fake import FakeHyperliquid
from testkit.hyperliquid_fake import exchange as ex

ACCOUNT = Account.from_key("0x" + "11" * 32)
AGENT = Account.from_key("0x" + "22" * 32)
STRANGER = Account.from_key("0x" + "33" * 32)
VAULT = "0x" + "ab" * 20
ADDR = ACCOUNT.address.lower()
BTC = 0  # asset ids: index in cfg.portfolio.assets (BTC, ETH, SOL, XRP, HYPE)

_last_nonce = [0]


def next_nonce() -> int:
    n = max(int(time.time() * 1000), _last_nonce[0] + 1)
    _last_nonce[0] = n
    return n


def envelope(wallet: Any, action: dict[str, Any], *, nonce: int | None = None, vault: str | None = None,
             expires: int | None = None, mainnet: bool = False) -> dict[str, Any]:
    nonce = next_nonce() if nonce is None else nonce
    sig = sign_l1_action(wallet, action, vault, nonce, expires, mainnet)
    return {"action": action, "nonce": nonce, "signature": sig, "vaultAddress": vault, "expiresAfter": expires}


def order_action(px: float, sz: float, is_buy: bool, tif: str = "Alo", cloid: int | None = None,
                 asset: int = BTC) -> dict[str, Any]:
    req: dict[str, Any] = {"coin": "BTC", "is_buy": is_buy, "sz": sz, "limit_px": px,
                           "order_type": {"limit": {"tif": tif}}, "reduce_only": False}
    if cloid is not None:
        req["cloid"] = Cloid.from_int(cloid)
    return order_wires_to_order_action([order_request_to_order_wire(req, asset)])


def cloid_str(n: int) -> str:
    return Cloid.from_int(n).to_raw()


@pytest.fixture
def fake():
    with FakeHyperliquid(sim_config(), seed=7, account=ADDR, agents=(AGENT.address.lower(),)) as f:
        yield f


@pytest.fixture
async def http(fake):
    async with httpx.AsyncClient(base_url=fake.base_url, timeout=10.0) as c:
        yield c


async def info(http: httpx.AsyncClient, body: dict[str, Any]) -> Any:
    r = await http.post("/info", json=body)
    assert r.status_code == 200, r.text
    return r.json()


async def act(http: httpx.AsyncClient, env: dict[str, Any]) -> dict[str, Any]:
    r = await http.post("/exchange", json=env)
    assert r.status_code == 200, r.text
    return r.json()


async def touch(http: httpx.AsyncClient, coin: str = "BTC") -> tuple[float, float]:
    book = await info(http, {"type": "l2Book", "coin": coin})
    return float(book["levels"][0][0]["px"]), float(book["levels"][1][0]["px"])


async def rest_order(http: httpx.AsyncClient, is_buy: bool, away: float = 0.005, sz: float = 0.001,
                     cloid: int | None = None, wallet: Any = ACCOUNT) -> dict[str, Any]:
    """An ALO order ``away`` (fraction) outside the touch, where background takers do not reach."""
    bid, ask = await touch(http)
    px = round(bid * (1 - away)) if is_buy else round(ask * (1 + away))
    out = await act(http, envelope(wallet, order_action(px, sz, is_buy, cloid=cloid)))
    status = out["response"]["data"]["statuses"][0]
    assert "resting" in status, out
    return status["resting"]


async def recv(ws: Any, pred: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
    """The first message matching ``pred`` (others skipped), within ``timeout``."""
    with trio.fail_after(timeout):
        while True:
            msg = json.loads(await ws.get_message())
            if pred(msg):
                return msg


def channel(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m.get("channel") == name


async def subscribe(ws: Any, sub: dict[str, Any]) -> dict[str, Any]:
    await ws.send_message(json.dumps({"method": "subscribe", "subscription": sub}))
    return await recv(ws, channel("subscriptionResponse"))


async def pong_after(ws: Any) -> list[dict[str, Any]]:
    """Send a ping; everything that arrives before its pong."""
    await ws.send_message(json.dumps({"method": "ping"}))
    seen = []
    with trio.fail_after(5.0):
        while True:
            msg = json.loads(await ws.get_message())
            if msg.get("channel") == "pong":
                return seen
            seen.append(msg)


# -- /info ----------------------------------------------------------------------------------------
async def test_info_shapes(fake, http):
    meta = await info(http, {"type": "meta"})
    assert [u["name"] for u in meta["universe"]] == ["BTC", "ETH", "SOL", "XRP", "HYPE"]
    assert meta["universe"][0]["szDecimals"] == 5 and meta["universe"][3]["szDecimals"] == 0
    meta2, ctxs = await info(http, {"type": "metaAndAssetCtxs"})
    assert meta2 == meta and len(ctxs) == 5
    for k in ("dayNtlVlm", "funding", "markPx", "midPx", "openInterest", "oraclePx", "prevDayPx", "premium"):
        assert isinstance(ctxs[0][k], str) and float(ctxs[0][k]) == float(ctxs[0][k])
    state = await info(http, {"type": "clearinghouseState", "user": ACCOUNT.address})
    assert state["assetPositions"] == [] and float(state["marginSummary"]["accountValue"]) == 100_000
    assert float(state["crossMarginSummary"]["accountValue"]) == 100_000 and isinstance(state["time"], int)
    assert float(state["withdrawable"]) == 100_000
    fees = await info(http, {"type": "userFees", "user": ADDR})
    assert float(fees["userAddRate"]) == 0.00015 and float(fees["userCrossRate"]) == 0.00045
    rl = await info(http, {"type": "userRateLimit", "user": ADDR})
    assert rl == {"cumVlm": "0", "nRequestsUsed": 0, "nRequestsCap": 10_000, "nRequestsSurplus": 0}
    book = await info(http, {"type": "l2Book", "coin": "ETH"})
    assert book["coin"] == "ETH" and isinstance(book["time"], int)
    bids, asks = book["levels"]
    assert 0 < len(bids) <= 20 and set(bids[0]) == {"px", "sz", "n"} and isinstance(bids[0]["px"], str)
    assert float(bids[0]["px"]) < float(asks[0]["px"])
    assert [float(b["px"]) for b in bids] == sorted((float(b["px"]) for b in bids), reverse=True)
    status = await info(http, {"type": "exchangeStatus"})
    assert status["specialStatuses"] is None and abs(status["time"] - time.time() * 1000) < 60_000
    assert await info(http, {"type": "orderStatus", "user": ADDR, "oid": 12345}) == {"status": "unknownOid"}
    assert await info(http, {"type": "openOrders", "user": ADDR}) == []
    assert await info(http, {"type": "userFills", "user": ADDR}) == []
    # errors as the real servers answer them
    r = await http.post("/info", json={"type": "noSuchThing"})
    assert r.status_code == 422 and r.text.startswith(ex.ERR_DESERIALIZE)
    r = await http.post("/info", json={"type": "clearinghouseState"})  # no user
    assert r.status_code == 422
    r = await http.post("/info", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert fake.stats["malformed"] == 3


# -- orders ---------------------------------------------------------------------------------------
async def test_alo_rests_and_shows_everywhere(fake, http):
    async with open_websocket_url(fake.ws_url) as ws:
        ack = await subscribe(ws, {"type": "orderUpdates", "user": ACCOUNT.address})
        assert ack["data"] == {"method": "subscribe", "subscription": {"type": "orderUpdates", "user": ADDR}}
        resting = await rest_order(http, is_buy=True, cloid=7)
        assert resting["cloid"] == cloid_str(7) and isinstance(resting["oid"], int)
        upd = await recv(ws, channel("orderUpdates"))
        (o,) = upd["data"]
        assert o["status"] == "open" and o["order"]["oid"] == resting["oid"] and o["order"]["cloid"] == cloid_str(7)
        assert o["order"]["side"] == "B" and o["order"]["sz"] == "0.001" and o["order"]["origSz"] == "0.001"
    oo = await info(http, {"type": "openOrders", "user": ADDR})
    assert [x["oid"] for x in oo] == [resting["oid"]] and oo[0]["coin"] == "BTC"
    fo = await info(http, {"type": "frontendOpenOrders", "user": ADDR})
    assert fo[0]["cloid"] == cloid_str(7) and fo[0]["tif"] == "Alo" and fo[0]["orderType"] == "Limit"
    assert fake.open_orders("BTC") == fo and fake.open_orders(1) == []
    for ref in (resting["oid"], cloid_str(7)):
        st = await info(http, {"type": "orderStatus", "user": ADDR, "oid": ref})
        assert st["status"] == "order" and st["order"]["status"] == "open"
        assert st["order"]["order"]["oid"] == resting["oid"]
    assert fake.stats["orders_placed"] == 1 and fake.stats["actions"] == {"order": 1}


async def test_alo_crossing_rejected_with_the_bbo(fake, http):
    bid, ask = await touch(http)
    out = await act(http, envelope(ACCOUNT, order_action(ask, 0.001, True)))
    (status,) = out["response"]["data"]["statuses"]
    assert re.fullmatch(r"Post only order would have immediately matched, bbo was [0-9.]+@[0-9.]+\. asset=0",
                        status["error"]), status
    assert fake.open_orders() == []


async def test_tick_lot_and_min_notional(fake, http):
    bid, _ = await touch(http)
    px = round(bid * 0.99)
    cases = [
        (order_action(px + 0.5, 0.001, True), ex.ERR_TICK.format(i=0)),  # 6 significant figures
        (order_action(px, 0.000001, True), ex.ERR_SIZE.format(i=0)),  # BTC's lot is 0.00001
        (order_action(px, 0.0001, True), "Order must have minimum value of $10. asset=0"),
    ]
    for action, text in cases:
        out = await act(http, envelope(ACCOUNT, action))
        assert out["response"]["data"]["statuses"] == [{"error": text}]
    assert fake.stats["orders_rejected"] == 3 and fake.open_orders() == []


async def test_reject_next_fault(fake, http):
    fake.reject_next(1, "Insufficient margin to place order. asset=0")
    bid, _ = await touch(http)
    out = await act(http, envelope(ACCOUNT, order_action(round(bid * 0.99), 0.001, True)))
    assert out["response"]["data"]["statuses"] == [{"error": "Insufficient margin to place order. asset=0"}]
    await rest_order(http, is_buy=True)  # only the next one


async def test_ioc_and_gtc_take_liquidity(fake, http):
    bid, ask = await touch(http)
    out = await act(http, envelope(ACCOUNT, order_action(round(bid * 0.99), 0.001, True, tif="Ioc")))
    assert out["response"]["data"]["statuses"] == [{"error": ex.ERR_IOC.format(i=0)}]
    out = await act(http, envelope(ACCOUNT, order_action(round(ask * 1.01), 0.001, True, tif="Ioc", cloid=3)))
    (status,) = out["response"]["data"]["statuses"]
    assert status["filled"]["totalSz"] == "0.001" and status["filled"]["cloid"] == cloid_str(3)
    assert fake.position("BTC") == 0.001
    (fill,) = fake.fills()
    assert fill["crossed"] is True and fill["dir"] == "Open Long" and fill["oid"] == status["filled"]["oid"]
    out = await act(http, envelope(ACCOUNT, order_action(round(bid * 0.99), 0.001, True, tif="Gtc")))
    assert "resting" in out["response"]["data"]["statuses"][0]  # a Gtc that crosses nothing rests


async def test_cancel_and_cancel_by_cloid(fake, http):
    a = await rest_order(http, is_buy=True, cloid=1)
    b = await rest_order(http, is_buy=False, cloid=2)
    async with open_websocket_url(fake.ws_url) as ws:
        await subscribe(ws, {"type": "orderUpdates", "user": ADDR})
        out = await act(http, envelope(ACCOUNT, {"type": "cancel", "cancels": [{"a": BTC, "o": a["oid"]}]}))
        assert out == {"status": "ok", "response": {"type": "cancel", "data": {"statuses": ["success"]}}}
        upd = await recv(ws, channel("orderUpdates"))
        assert upd["data"][0]["status"] == "canceled" and upd["data"][0]["order"]["oid"] == a["oid"]
    out = await act(http, envelope(ACCOUNT, {"type": "cancel", "cancels": [{"a": BTC, "o": a["oid"]}]}))
    assert out["response"]["data"]["statuses"] == [{"error": "Order was never placed, already canceled, or filled."}]
    out = await act(http, envelope(ACCOUNT, {"type": "cancelByCloid",
                                             "cancels": [{"asset": BTC, "cloid": cloid_str(2)}]}))
    assert out["response"]["data"]["statuses"] == ["success"]
    assert fake.open_orders() == [] and fake.stats["cancels"] == 2
    st = await info(http, {"type": "orderStatus", "user": ADDR, "oid": b["oid"]})
    assert st["order"]["status"] == "canceled"


async def test_batch_modify(fake, http):
    a = await rest_order(http, is_buy=True, cloid=9)
    bid, _ = await touch(http)
    new_px = round(bid * 0.98)
    wire = order_action(new_px, 0.002, True, cloid=9)["orders"][0]
    out = await act(http, envelope(ACCOUNT, {"type": "batchModify", "modifies": [{"oid": a["oid"], "order": wire},
                                                                                 {"oid": 999, "order": wire}]}))
    first, second = out["response"]["data"]["statuses"]
    assert first["resting"]["cloid"] == cloid_str(9) and first["resting"]["oid"] != a["oid"]
    assert "error" in second
    (o,) = fake.open_orders()
    assert float(o["limitPx"]) == new_px and o["sz"] == "0.002" and o["oid"] == first["resting"]["oid"]
    st = await info(http, {"type": "orderStatus", "user": ADDR, "oid": a["oid"]})
    assert st["order"]["status"] == "canceled"


# -- signatures, nonces, expiry ---------------------------------------------------------------------
async def test_unknown_key_and_mainnet_signature_refused(fake, http):
    bid, _ = await touch(http)
    action = order_action(round(bid * 0.99), 0.001, True)
    out = await act(http, envelope(STRANGER, action))
    assert out == {"status": "err", "response": f"User or API Wallet {STRANGER.address.lower()} does not exist."}
    out = await act(http, envelope(ACCOUNT, action, mainnet=True))  # the fake is a testnet
    assert out["status"] == "err" and out["response"].endswith(" does not exist.")
    assert ADDR not in out["response"]
    assert fake.stats["bad_signatures"] == 2 and fake.open_orders() == []


async def test_agent_key_trades_for_the_account(fake, http):
    resting = await rest_order(http, is_buy=True, wallet=AGENT)
    assert [o["oid"] for o in await info(http, {"type": "openOrders", "user": ADDR})] == [resting["oid"]]
    assert await info(http, {"type": "openOrders", "user": AGENT.address}) == []  # agents hold nothing


async def test_nonces(fake, http):
    noop = {"type": "noop"}
    n = next_nonce()
    assert await act(http, envelope(ACCOUNT, noop, nonce=n)) == {"status": "ok", "response": {"type": "default"}}
    assert await act(http, envelope(ACCOUNT, noop, nonce=n)) == ex.err(ex.ERR_NONCE_DUPLICATE)
    assert (await act(http, envelope(AGENT, noop, nonce=n)))["status"] == "ok"  # per signer
    now = int(time.time() * 1000)
    assert await act(http, envelope(ACCOUNT, noop, nonce=now - 3 * 86_400_000)) == ex.err(ex.ERR_NONCE_WINDOW)
    assert await act(http, envelope(ACCOUNT, noop, nonce=now + 2 * 86_400_000)) == ex.err(ex.ERR_NONCE_WINDOW)
    # once 100 are kept, a nonce below the smallest is too low even if never used
    for _ in range(100):
        assert (await act(http, envelope(ACCOUNT, noop)))["status"] == "ok"
    assert await act(http, envelope(ACCOUNT, noop, nonce=n - 1)) == ex.err(ex.ERR_NONCE_TOO_LOW)
    assert fake.stats["nonce_refusals"] == 4


async def test_expired_action_costs_five(fake, http):
    out = await act(http, envelope(ACCOUNT, {"type": "noop"}, expires=int(time.time() * 1000) - 1000))
    assert out == ex.err(ex.ERR_EXPIRED)
    rl = await info(http, {"type": "userRateLimit", "user": ADDR})
    assert rl["nRequestsUsed"] == 5
    later = await act(http, envelope(ACCOUNT, {"type": "noop"}, expires=int(time.time() * 1000) + 60_000))
    assert later["status"] == "ok"


async def test_vaults():
    cfg = sim_config()
    with FakeHyperliquid(cfg, account=ADDR, agents=(AGENT.address.lower(),), vaults=(VAULT,)) as f:
        async with httpx.AsyncClient(base_url=f.base_url) as http:
            assert (await act(http, envelope(AGENT, {"type": "noop"}, vault=VAULT)))["status"] == "ok"
            out = await act(http, envelope(ACCOUNT, {"type": "noop"}, vault="0x" + "cd" * 20))
            assert out["status"] == "err"
            out = await act(http, envelope(ACCOUNT, {"type": "noop"}))  # the master holds nothing
            assert out == ex.err(ex.ERR_MUST_DEPOSIT.format(user=ADDR))


# -- scheduleCancel ----------------------------------------------------------------------------------
async def test_schedule_cancel_set_and_clear(fake, http):
    now = int(time.time() * 1000)
    out = await act(http, envelope(ACCOUNT, {"type": "scheduleCancel", "time": now + 2000}))
    assert out["status"] == "err" and fake.dms_at_ms is None
    out = await act(http, envelope(ACCOUNT, {"type": "scheduleCancel", "time": now + 30_000}))
    assert out == {"status": "ok", "response": {"type": "default"}}
    assert fake.dms_at_ms == now + 30_000
    assert (await act(http, envelope(ACCOUNT, {"type": "scheduleCancel"})))["status"] == "ok"
    assert fake.dms_at_ms is None
    st = fake.stats
    assert (st["schedule_cancel_sets"], st["schedule_cancel_clears"]) == (1, 1)


async def test_schedule_cancel_fires():
    cfg = sim_config(sim={"schedule_cancel_min_ahead_s": 0.3})
    with FakeHyperliquid(cfg, account=ADDR) as f:
        async with httpx.AsyncClient(base_url=f.base_url) as http, open_websocket_url(f.ws_url) as ws:
            await subscribe(ws, {"type": "orderUpdates", "user": ADDR})
            a = await rest_order(http, is_buy=True)
            b = await rest_order(http, is_buy=False)
            at = f.now_ms() + 400
            assert (await act(http, envelope(ACCOUNT, {"type": "scheduleCancel", "time": at})))["status"] == "ok"
            seen: dict[int, str] = {}
            with trio.fail_after(5.0):
                while len(seen) < 2:
                    msg = await recv(ws, channel("orderUpdates"))
                    seen.update({u["order"]["oid"]: u["status"] for u in msg["data"] if u["status"] != "open"})
            assert seen == {a["oid"]: "scheduledCancel", b["oid"]: "scheduledCancel"}
            assert f.open_orders() == [] and f.dms_at_ms is None and f.stats["schedule_cancel_fired"] == 1


# -- fills -------------------------------------------------------------------------------------------
async def test_cross_fill_pushed_everywhere(fake, http):
    async with open_websocket_url(fake.ws_url) as ws:
        await subscribe(ws, {"type": "userFills", "user": ADDR})
        snap = await recv(ws, channel("userFills"))
        assert snap["data"] == {"isSnapshot": True, "user": ADDR, "fills": []}
        await subscribe(ws, {"type": "userEvents", "user": ADDR})
        await subscribe(ws, {"type": "orderUpdates", "user": ADDR})
        resting = await rest_order(http, is_buy=False, cloid=5)
        await recv(ws, channel("orderUpdates"))  # open
        (fill,) = fake.cross("BTC", "B", 0.001)
        assert fill["side"] == "A" and fill["oid"] == resting["oid"] and fill["cloid"] == cloid_str(5)
        assert fill["crossed"] is False and fill["dir"] == "Open Short" and fill["startPosition"] == "0"
        assert float(fill["fee"]) > 0 and fill["feeToken"] == "USDC" and isinstance(fill["tid"], int)
        assert float(fill["closedPnl"]) == 0 and fill["hash"].startswith("0x") and isinstance(fill["time"], int)
        uf = await recv(ws, channel("userFills"))
        assert "isSnapshot" not in uf["data"] and uf["data"]["fills"] == [fill]
        ue = await recv(ws, channel("user"))
        assert ue["data"] == {"fills": [fill]}
        ou = await recv(ws, channel("orderUpdates"))
        assert ou["data"][0]["status"] == "filled" and ou["data"][0]["order"]["sz"] == "0"
    assert fake.position("BTC") == -0.001 and fake.open_orders() == []
    assert await info(http, {"type": "userFills", "user": ADDR}) == [fill]
    by_time = await info(http, {"type": "userFillsByTime", "user": ADDR, "startTime": fill["time"],
                                "endTime": fill["time"]})
    assert by_time == [fill]
    state = await info(http, {"type": "clearinghouseState", "user": ADDR})
    (pos,) = state["assetPositions"]
    assert pos["position"]["coin"] == "BTC" and pos["position"]["szi"] == "-0.001"
    assert float(pos["position"]["entryPx"]) == float(fill["px"])
    rl = await info(http, {"type": "userRateLimit", "user": ADDR})
    assert rl["nRequestsCap"] == 10_000 + int(float(fill["px"]) * 0.001)
    # closing it: the closing fill's closedPnl and dir
    await rest_order(http, is_buy=True)
    (close,) = fake.cross("BTC", "A", 0.001)
    assert close["dir"] == "Close Short" and close["startPosition"] == "-0.001" and fake.position(0) == 0


async def test_funding_paid_on_positions():
    with FakeHyperliquid(sim_config(sim={"funding_interval_s": 0.3}), account=ADDR) as f:
        async with httpx.AsyncClient(base_url=f.base_url) as http, open_websocket_url(f.ws_url) as ws:
            await rest_order(http, is_buy=True)
            f.cross("BTC", "A", 0.001)  # long 0.001: pays funding while the rate is positive
            await subscribe(ws, {"type": "userEvents", "user": ADDR})
            msg = await recv(ws, lambda m: m.get("channel") == "user" and "funding" in m["data"])
            fund = msg["data"]["funding"]
            assert fund["coin"] == "BTC" and fund["szi"] == "0.001" and isinstance(fund["time"], int)
            rate = float(fund["fundingRate"])
            assert float(fund["usdc"]) == pytest.approx(-0.001 * 95_000 * rate * 0.3 / 3600, rel=0.05, abs=1e-6)
            hist = await info(http, {"type": "userFunding", "user": ADDR, "startTime": 0})
            assert hist and hist[0]["delta"]["type"] == "funding" and hist[0]["delta"]["coin"] == "BTC"


async def test_user_fills_snapshot_on_resubscribe(fake, http):
    await rest_order(http, is_buy=False)
    (fill,) = fake.cross("BTC", "B", 0.001)
    async with open_websocket_url(fake.ws_url) as ws:
        sub = {"type": "userFills", "user": ADDR}
        ack = await subscribe(ws, sub)
        assert ack["data"]["subscription"] == {"type": "userFills", "user": ADDR, "aggregateByTime": False}
        snap = await recv(ws, channel("userFills"))
        assert snap["data"]["isSnapshot"] is True and snap["data"]["fills"] == [fill]
        await ws.send_message(json.dumps({"method": "unsubscribe", "subscription": sub}))
        assert (await recv(ws, channel("subscriptionResponse")))["data"]["method"] == "unsubscribe"
        await subscribe(ws, sub)
        again = await recv(ws, channel("userFills"))
        assert again["data"]["isSnapshot"] is True and again["data"]["fills"] == [fill]


async def test_dropped_fill_push_is_in_rest(fake, http):
    async with open_websocket_url(fake.ws_url) as ws:
        await subscribe(ws, {"type": "userFills", "user": ADDR})
        await recv(ws, channel("userFills"))  # the snapshot
        await subscribe(ws, {"type": "orderUpdates", "user": ADDR})
        await rest_order(http, is_buy=False)
        await recv(ws, channel("orderUpdates"))
        fake.drop_fill_pushes(1)
        (fill,) = fake.cross("BTC", "B", 0.001)
        before_pong = await pong_after(ws)  # pushes are queued before cross() returns
        assert [m for m in before_pong if m["channel"] in ("userFills", "user", "orderUpdates")] == []
    assert fill in await info(http, {"type": "userFills", "user": ADDR})
    assert fake.stats["fill_pushes_dropped"] == 1


# -- WebSocket ------------------------------------------------------------------------------------------
async def test_ws_subscriptions_ping_and_errors(fake):
    async with open_websocket_url(fake.ws_url) as ws:
        assert await pong_after(ws) == []
        ack = await subscribe(ws, {"type": "l2Book", "coin": "BTC"})
        assert ack["data"]["subscription"] == {"type": "l2Book", "coin": "BTC", "nSigFigs": None, "mantissa": None}
        book = await recv(ws, channel("l2Book"))
        assert book["data"]["coin"] == "BTC" and len(book["data"]["levels"]) == 2
        await ws.send_message(json.dumps({"method": "subscribe", "subscription": {"type": "l2Book", "coin": "BTC"}}))
        e = await recv(ws, channel("error"))
        assert e["data"].startswith("Already subscribed: ")
        await ws.send_message("{this is not json")
        e = await recv(ws, channel("error"))
        assert e["data"].startswith("Error parsing JSON into valid websocket request: ")
        await ws.send_message(json.dumps({"method": "subscribe", "subscription": {"type": "l2Book", "coin": "NOPE"}}))
        assert (await recv(ws, channel("error")))["data"].startswith("Invalid subscription")
        await subscribe(ws, {"type": "bbo", "coin": "ETH"})
        bbo = await recv(ws, channel("bbo"))
        assert bbo["data"]["coin"] == "ETH" and len(bbo["data"]["bbo"]) == 2
        await subscribe(ws, {"type": "activeAssetCtx", "coin": "SOL"})
        ctx = await recv(ws, channel("activeAssetCtx"))
        assert ctx["data"]["coin"] == "SOL" and isinstance(ctx["data"]["ctx"]["markPx"], str)
        await subscribe(ws, {"type": "trades", "coin": "BTC"})
        trades = await recv(ws, channel("trades"), timeout=15.0)
        assert set(trades["data"][0]) >= {"coin", "side", "px", "sz", "time", "hash", "tid", "users"}
    st = fake.stats
    assert st["ws_connections"] == 1 and st["subscriptions"] == 4 and st["malformed"] >= 1


async def test_ws_post_info_and_action(fake):
    async with open_websocket_url(fake.ws_url) as ws:
        await ws.send_message(json.dumps({"method": "post", "id": 7, "request": {
            "type": "info", "payload": {"type": "l2Book", "coin": "BTC"}}}))
        r = await recv(ws, channel("post"))
        assert r["data"]["id"] == 7 and r["data"]["response"]["type"] == "info"
        payload = r["data"]["response"]["payload"]
        assert payload["type"] == "l2Book" and payload["data"]["coin"] == "BTC"
        bid = float(payload["data"]["levels"][0][0]["px"])
        env = envelope(ACCOUNT, order_action(round(bid * 0.99), 0.001, True))
        await ws.send_message(json.dumps({"method": "post", "id": 8, "request": {"type": "action", "payload": env}}))
        r = await recv(ws, channel("post"))
        assert r["data"]["id"] == 8 and r["data"]["response"]["type"] == "action"
        assert "resting" in r["data"]["response"]["payload"]["response"]["data"]["statuses"][0]
        env = envelope(STRANGER, {"type": "noop"})  # a refused action is still type "action"
        await ws.send_message(json.dumps({"method": "post", "id": 9, "request": {"type": "action", "payload": env}}))
        r = await recv(ws, channel("post"))
        assert r["data"]["response"]["type"] == "action" and r["data"]["response"]["payload"]["status"] == "err"
    assert fake.stats["posts"] == 3


async def test_stall_then_pong_again(fake):
    async with open_websocket_url(fake.ws_url) as ws:
        fake.stall(0.6)
        await ws.send_message(json.dumps({"method": "ping"}))
        with trio.move_on_after(0.3) as cs:
            await ws.get_message()
        assert cs.cancelled_caught  # no pong while stalled
        await trio.sleep(0.5)
        assert await pong_after(ws) == []


async def closed_by_server(ws: Any) -> ConnectionClosed:
    """Wait until the server ends the connection; its close reason."""
    with pytest.raises(ConnectionClosed) as info_, trio.fail_after(5.0):
        while True:
            await ws.get_message()
    # trio-websocket 0.12's client never closes its TCP stream when the server hangs up
    # (a ResourceWarning at GC): close it here.
    await ws._stream.aclose()
    return info_.value


async def test_drop_connections_closes_sockets(fake):
    async with open_websocket_url(fake.ws_url) as ws:
        await subscribe(ws, {"type": "orderUpdates", "user": ADDR})
        assert fake.drop_connections() == 1
        closed = await closed_by_server(ws)
        assert closed.reason.code == 1006  # abnormal: no close frame
    assert fake.stats["ws_drops"] == 1


async def test_idle_connection_closed():
    with FakeHyperliquid(sim_config(), account=ADDR, idle_timeout_s=0.3) as f:
        async with open_websocket_url(f.ws_url) as ws:
            await closed_by_server(ws)


# -- REST faults and limits ---------------------------------------------------------------------------------
async def test_throttle_and_failures(fake, http):
    fake.throttle(30.0)
    r = await http.post("/info", json={"type": "meta"})
    assert r.status_code == 429
    fake.throttle(0)
    fake.fail_requests(1)
    assert (await http.post("/info", json={"type": "meta"})).status_code == 500
    assert (await http.post("/info", json={"type": "meta"})).status_code == 200
    st = fake.stats
    assert st["throttled"] == 1 and st["failed_requests"] == 1


async def test_address_budget_and_ip_weight():
    cfg = sim_config(sim={"address_budget_initial": 3, "ip_weight_per_minute": 50})
    with FakeHyperliquid(cfg, account=ADDR) as f:
        async with httpx.AsyncClient(base_url=f.base_url) as http:
            for _ in range(3):
                assert (await act(http, envelope(ACCOUNT, {"type": "noop"})))["status"] == "ok"
            out = await act(http, envelope(ACCOUNT, {"type": "noop"}))
            assert out == ex.err("Too many cumulative requests sent (4 > 3) for cumulative volume traded $0.00. "
                                 "Place taker orders to free up 1 request per USDC traded.")
            # IP weight: 4 so far; two /info meta at 20 each fit, the third does not
            codes = [(await http.post("/info", json={"type": "meta"})).status_code for _ in range(3)]
            assert codes == [200, 200, 429]
            assert f.stats["budget_refusals"] == 1 and f.stats["throttled"] == 1


async def test_many_clients_and_malformed_requests_never_kill_it(fake, http):
    bad = [b"[]", b"{}", b'{"action": {"type": "order"}}', b'{"action": 5, "nonce": 1}', b"null"]
    for body in bad:
        r = await http.post("/exchange", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, (body, r.text)
    r = await http.post("/exchange", content=b"{}")  # no JSON content type
    assert r.status_code == 415
    assert (await http.get("/info")).status_code == 405
    assert (await http.post("/nope", json={})).status_code == 404
    async with trio.open_nursery() as nursery:
        for i in itertools.islice(itertools.count(), 5):
            nursery.start_soon(info, http, {"type": "l2Book", "coin": "SOL"})
    assert (await info(http, {"type": "meta"}))["universe"]


# -- the chaos run's faults ------------------------------------------------------------------------
async def test_exchange_side_cancel_is_reported_only_on_order_updates(fake, http):
    a = await rest_order(http, is_buy=True, cloid=21)
    b = await rest_order(http, is_buy=False, cloid=22)
    async with open_websocket_url(fake.ws_url) as ws:
        await subscribe(ws, {"type": "orderUpdates", "user": ADDR})
        assert fake.exchange_cancel("BTC", "marginCanceled") == 2
        upd = await recv(ws, channel("orderUpdates"))
    assert {(u["order"]["oid"], u["status"]) for u in upd["data"]} == {(a["oid"], "marginCanceled"),
                                                                      (b["oid"], "marginCanceled")}
    assert fake.open_orders() == [] and fake.stats["exchange_cancels"] == 2
    st = await info(http, {"type": "orderStatus", "user": ADDR, "oid": a["oid"]})
    assert st["order"]["status"] == "marginCanceled"
    with pytest.raises(ValueError):
        fake.exchange_cancel("BTC", "filled")


async def test_refused_schedule_cancel_changes_nothing_and_clearing_is_not_refused(fake, http):
    at = int(time.time() * 1000) + 30_000
    fake.refuse_schedule_cancel(1)
    out = await act(http, envelope(ACCOUNT, {"type": "scheduleCancel", "time": at}))
    assert out["status"] == "err" and "scheduled cancel triggers" in out["response"] and fake.dms_at_ms is None
    assert (await act(http, envelope(ACCOUNT, {"type": "scheduleCancel", "time": at})))["status"] == "ok"
    assert fake.dms_at_ms == at  # only the next one was refused
    fake.refuse_schedule_cancel(1, "no")
    assert (await act(http, envelope(ACCOUNT, {"type": "scheduleCancel"})))["status"] == "ok"
    assert fake.dms_at_ms is None
    assert (await act(http, envelope(ACCOUNT, {"type": "scheduleCancel", "time": at + 1})))["response"] == "no"
    assert fake.stats["schedule_cancel_refused"] == 2


async def test_an_exhausted_budget_refuses_orders_but_not_cancels_until_it_is_granted_again(fake, http):
    a = await rest_order(http, is_buy=True, cloid=31)
    await act(http, envelope(ACCOUNT, {"type": "noop"}))  # the one action per 10 s beyond the cap is spent now
    assert fake.exhaust_budget() > 0
    bid, _ = await touch(http)
    out = await act(http, envelope(ACCOUNT, order_action(round(bid * 0.99), 0.001, True)))
    assert out["status"] == "err" and out["response"].startswith("Too many cumulative requests sent")
    out = await act(http, envelope(ACCOUNT, {"type": "cancel", "cancels": [{"a": BTC, "o": a["oid"]}]}))
    assert out["response"]["data"]["statuses"] == ["success"]  # cancels keep their larger cap
    lim = await info(http, {"type": "userRateLimit", "user": ADDR})
    assert lim["nRequestsUsed"] >= lim["nRequestsCap"]
    fake.grant_budget(100)
    await rest_order(http, is_buy=True, cloid=32)


async def test_a_fill_push_dropped_for_one_coin_leaves_the_other_coins_fills_on_the_feed(fake, http):
    async with open_websocket_url(fake.ws_url) as ws:
        await subscribe(ws, {"type": "userFills", "user": ADDR})
        await recv(ws, channel("userFills"))  # the snapshot
        await rest_order(http, is_buy=False)
        fake.drop_fill_pushes(1, coin="ETH")
        (fill,) = fake.cross("BTC", "B", 0.001)
        pushed = [m for m in await pong_after(ws) if m["channel"] == "userFills"]
        assert [f["tid"] for m in pushed for f in m["data"]["fills"]] == [fill["tid"]]
    assert fake.stats["fill_pushes_dropped"] == 0
