"""The typed decoding of Hyperliquid frames (venues.hyperliquid.wire) on the real samples
of hyperliquid.md §11, and their conversion to the hive's messages (convert)."""
import pytest

from messages.market import BookSnapshot, Level, Trade
from venues.hyperliquid import wire
from venues.hyperliquid.convert import book_snapshot, trade

# hyperliquid.md §11, copied exactly (a, d: only the level arrays are truncated there)
L2BOOK = ('{"channel":"l2Book","data":{"coin":"BTC","time":1751427259657,"levels":[[{"px":"106217.0","sz":"0.001","n":1},'
          '{"px":"106215.0","sz":"0.001","n":1},{"px":"106213.0","sz":"0.27739","n":1}],[{"px":"106233.0","sz":"0.26739",'
          '"n":3},{"px":"106258.0","sz":"0.001","n":1},{"px":"106270.0","sz":"0.49128","n":2}]]}}')
TRADES = ('{"channel":"trades","data":[{"coin":"BTC","side":"A","px":"106296.0","sz":"0.00017","time":1751430933565,'
          '"hash":"0xde93a8a0729ade63d8840417805ba9010b008818422ddedb1285744426b73503","tid":293353986402527,'
          '"users":["0xcc0a3b6e3267c84361e91d8230868eea53431e4b","0xc64cc00b46101bd40aa1c3121195e85c0b0918d8"]}]}')
USER_FILL = ('{"channel":"user","data":{"fills":[{"coin":"BTC","px":"66653.0","sz":"0.001","side":"A","time":1781528065899,'
             '"startPosition":"-0.0213","dir":"Open Short","closedPnl":"0.0","hash":"0xe29fd267b4d2c6f0e41904231bbec90000'
             'daea4d4fd5e5c286687dba73d6a0db","oid":55030848197,"crossed":false,"fee":"0.009997","tid":745210434703679,'
             '"cloid":"0xe8d5fd7ebbb4c3cff4d1803472a11463","liquidation":{"liquidatedUser":"0x360878d351f05975e25f1807a2'
             '7895e1e5e004fb","markPx":"66607.0","method":"market"},"feeToken":"USDC","twapId":null}]}}')
REST_BOOK = ('{"coin":"DYDX","levels":[[{"n":1,"px":"2.111","sz":"134.4"},{"n":1,"px":"2.1105","sz":"141.1"},'
             '{"n":1,"px":"2.1104","sz":"125.8"}],[{"n":2,"px":"2.1124","sz":"352.3"},{"n":2,"px":"2.1125","sz":"364.9"},'
             '{"n":2,"px":"2.1128","sz":"3798.0"}]],"time":1689630203930}')
REST_FILL_2023 = ('{"closedPnl":"-0.25686","coin":"SUI","crossed":true,"dir":"Close Long","fee":"0.0","hash":"0x3d4770d0527'
                  '317ef77c404017559cb0103000b34010cc95e97b437cbc3b6087a","oid":189324432,"px":"1.3189","side":"A",'
                  '"startPosition":"4623.5","sz":"142.7","time":1683245884863}')
SUB_ACK = ('{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{"type":"l2Book","coin":"BTC",'
           '"nSigFigs":null,"mantissa":null}}}')


def test_l2book_sample_decodes_with_numbers_as_floats():
    f = wire.decode_frame(L2BOOK)
    assert type(f) is wire.BookFrame
    b = f.data
    assert (b.coin, b.time) == ("BTC", 1751427259657)
    bids, asks = b.levels
    assert [(lv.px, lv.sz, lv.n) for lv in bids] == [(106217.0, 0.001, 1), (106215.0, 0.001, 1), (106213.0, 0.27739, 1)]
    assert [(lv.px, lv.sz, lv.n) for lv in asks] == [(106233.0, 0.26739, 3), (106258.0, 0.001, 1), (106270.0, 0.49128, 2)]
    assert all(type(lv.px) is float and type(lv.sz) is float for lv in bids + asks)


def test_decode_accepts_bytes_as_well_as_text():
    assert wire.decode_frame(L2BOOK.encode()) == wire.decode_frame(L2BOOK)


def test_trades_sample_decodes():
    f = wire.decode_frame(TRADES)
    assert type(f) is wire.TradesFrame and len(f.data) == 1
    t = f.data[0]
    assert (t.coin, t.side, t.px, t.sz, t.time, t.tid) == ("BTC", "A", 106296.0, 0.00017, 1751430933565, 293353986402527)
    assert t.hash.startswith("0xde93")


def test_user_event_fill_sample_decodes_and_skips_undeclared_fields():
    f = wire.decode_frame(USER_FILL)
    assert type(f) is wire.UserEventFrame
    (fill,) = f.data.fills
    assert (fill.coin, fill.px, fill.sz, fill.side, fill.oid, fill.tid) == ("BTC", 66653.0, 0.001, "A", 55030848197,
                                                                            745210434703679)
    assert fill.fee == 0.009997 and fill.startPosition == -0.0213 and fill.crossed is False
    assert fill.cloid == "0xe8d5fd7ebbb4c3cff4d1803472a11463" and fill.dir == "Open Short"
    assert f.data.funding is None and f.data.nonUserCancel is None


def test_rest_l2book_sample_decodes_whatever_the_key_order():
    b = wire.decode_as(wire.WsBook, REST_BOOK)
    assert b.coin == "DYDX" and b.levels[0][0].px == 2.111 and b.levels[1][2].sz == 3798.0 and b.levels[1][0].n == 2


def test_rest_fill_of_2023_has_no_tid_so_it_is_malformed_as_a_ws_fill():
    # §11e predates tid: the typed fill requires it (fills are deduplicated by tid)
    with pytest.raises(wire.Malformed):
        wire.decode_as(wire.WsFill, REST_FILL_2023)


def test_control_frames_decode():
    assert type(wire.decode_frame(SUB_ACK)) is wire.SubscribedFrame
    assert type(wire.decode_frame('{"channel":"pong"}')) is wire.PongFrame
    err = wire.decode_frame('{"channel":"error","data":"Already subscribed: {\\"type\\":\\"l2Book\\"}"}')
    assert type(err) is wire.ErrorFrame and err.data.startswith("Already subscribed")


def test_unknown_channel_is_its_own_kind_of_malformed():
    with pytest.raises(wire.UnknownChannel):
        wire.decode_frame('{"channel":"webData3","data":{"x":1}}')
    assert issubclass(wire.UnknownChannel, wire.Malformed)


@pytest.mark.parametrize("raw", [
    '{"channel":"l2Book","data":{"coin":"BTC","levels":[[],[]]}}',  # no time
    '{"channel":"trades","data":[{"coin":"BTC","side":"A","px":"1.0","sz":"1.0","time":1}]}',  # no tid
    '{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[[{"px":"abc","sz":"1"}],[]]}}',  # not a number
    '{"channel":"l2Book","data":',  # cut short
    '{"data":{}}',  # no channel
    'Websocket connection established.',  # the SDK's old greeting: not JSON
])
def test_missing_or_bad_fields_are_malformed(raw):
    with pytest.raises(wire.Malformed) as e:
        wire.decode_frame(raw)
    assert type(e.value) is wire.Malformed


def test_user_fills_without_is_snapshot_are_not_a_snapshot():
    base = ('{"channel":"userFills","data":{%s"user":"0xabc","fills":[{"coin":"ETH","px":"3500.1","sz":"0.1",'
            '"side":"B","time":1,"oid":2,"tid":3,"fee":"-0.01"}]}}')
    streamed = wire.decode_frame(base % "")
    assert streamed.data.isSnapshot is False and streamed.data.fills[0].fee == -0.01
    assert wire.decode_frame(base % '"isSnapshot":true,').data.isSnapshot is True


def test_book_snapshot_conversion():
    f = wire.decode_frame(L2BOOK)
    snap = book_snapshot(f.data, seq=7, recv_ns=123)
    assert type(snap) is BookSnapshot
    assert (snap.asset, snap.ts, snap.seq, snap.recv_ns) == ("BTC", 1751427259.657, 7, 123)
    assert snap.bids == (Level(106217.0, 0.001), Level(106215.0, 0.001), Level(106213.0, 0.27739))
    assert snap.asks[0] == Level(106233.0, 0.26739) and len(snap.asks) == 3
    assert snap.bids[0].px < snap.asks[0].px  # best first on both sides, as the book core expects


def test_book_snapshot_of_an_empty_side():
    f = wire.decode_frame('{"channel":"l2Book","data":{"coin":"X","time":1000,"levels":[[],[{"px":"2","sz":"3","n":1}]]}}')
    snap = book_snapshot(f.data, 1, 0)
    assert snap.bids == () and snap.asks == (Level(2.0, 3.0),) and snap.ts == 1.0


def test_trade_conversion():
    t = trade(wire.decode_frame(TRADES).data[0])
    assert t == Trade(asset="BTC", ts=1751430933.565, px=106296.0, sz=0.00017, side="A", tid=293353986402527)
