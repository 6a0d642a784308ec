"""Hyperliquid signing, action builders and key loading, with the official SDK as the oracle.

The SDK's ``Exchange`` methods are run for real with ``post`` captured, so the request
body the SDK would send (action, nonce, signature, envelope) is compared byte for byte
with ours.
"""
from __future__ import annotations

import logging
import os
import pickle
from decimal import Decimal
from typing import Any
from unittest import mock

import msgpack
import pytest
from eth_account import Account
from hyperliquid.exchange import Exchange
from hyperliquid.utils import signing as sdk
from hyperliquid.utils.constants import MAINNET_API_URL, TESTNET_API_URL
from hyperliquid.utils.types import Cloid
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange_rules import ticks as rules
from venues.hyperliquid import actions
from venues.hyperliquid.keys import SigningKeyError, load_private_key, redact
from venues.hyperliquid.signing import (
    NonceSource,
    Signer,
    action_hash,
    address_from_key,
    recover_l1_signer,
    sign_l1_action,
)

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SDK_TEST_KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
EXAMPLES = settings(max_examples=200, deadline=None)


# --- the SDK's Exchange, run offline ---------------------------------------------------
class _Names:
    """Stands in for the SDK's Info: coin "C<n>" is asset n."""

    @staticmethod
    def name_to_asset(name: str) -> int:
        return int(name[1:])


class CapturingExchange(Exchange):
    """The SDK's Exchange without the network: builds and signs as usual, keeps the body."""

    def __init__(self, wallet: Any, vault: str | None, expires_after: int | None, mainnet: bool) -> None:
        # API/Info constructors would reach the network; set only what the methods use
        self.wallet = wallet
        self.vault_address = vault
        self.expires_after = expires_after
        self.base_url = MAINNET_API_URL if mainnet else TESTNET_API_URL
        self.info = _Names()  # type: ignore[assignment]
        self.sent: dict[str, Any] | None = None

    def post(self, url_path: str, payload: Any = None) -> Any:
        assert url_path == "/exchange"
        self.sent = payload
        return {"status": "ok"}


def sdk_body(spec: tuple, key: str, nonce: int, vault: str | None, expires: int | None, mainnet: bool) -> dict:
    """The /exchange body the SDK builds for ``spec`` (see ``specs`` below)."""
    ex = CapturingExchange(Account.from_key(key), vault, expires, mainnet)
    kind, args = spec
    with mock.patch("hyperliquid.exchange.get_timestamp_ms", return_value=nonce):
        if kind == "order":
            orders, grouping = args
            ex.bulk_orders([_sdk_order(o) for o in orders], grouping=grouping)
        elif kind == "cancel":
            ex.bulk_cancel([{"coin": f"C{a}", "oid": o} for a, o in args])
        elif kind == "cancelByCloid":
            ex.bulk_cancel_by_cloid([{"coin": f"C{a}", "cloid": Cloid.from_int(c)} for a, c in args])
        elif kind == "batchModify":
            ex.bulk_modify_orders_new([{"oid": Cloid.from_int(oid[1]) if oid[0] == "cloid" else oid[1],
                                        "order": _sdk_order(o)} for oid, o in args])
        elif kind == "scheduleCancel":
            ex.schedule_cancel(args)
        elif kind == "noop":
            ex.noop(nonce)
    assert ex.sent is not None
    return ex.sent


def _sdk_order(o: tuple) -> dict:
    asset, is_buy, px, sz, reduce_only, tif, cloid = o
    return {"coin": f"C{asset}", "is_buy": is_buy, "sz": float(sz), "limit_px": float(px),
            "order_type": {"limit": {"tif": tif}}, "reduce_only": reduce_only,
            "cloid": None if cloid is None else Cloid.from_int(cloid)}


def our_action(spec: tuple) -> dict:
    """The same action from our builders, the way the venue builds it."""
    kind, args = spec
    if kind == "order":
        orders, grouping = args
        return actions.order_action([_our_order(o) for o in orders], grouping)
    if kind == "cancel":
        return actions.cancel_action(args)
    if kind == "cancelByCloid":
        return actions.cancel_by_cloid_action([(a, _cloid(c)) for a, c in args])
    if kind == "batchModify":
        return actions.batch_modify_action([(_cloid(oid[1]) if oid[0] == "cloid" else oid[1], _our_order(o))
                                            for oid, o in args])
    if kind == "scheduleCancel":
        return actions.schedule_cancel_action(args)
    assert kind == "noop"
    return actions.noop_action()


def _our_order(o: tuple) -> dict:
    asset, is_buy, px, sz, reduce_only, tif, cloid = o
    return actions.order_wire(asset, is_buy, rules.to_wire(px), rules.to_wire(sz), reduce_only=reduce_only, tif=tif,
                              cloid=None if cloid is None else _cloid(cloid))


def _cloid(n: int) -> str:
    return f"{n:#034x}"


# --- strategies ------------------------------------------------------------------------
keys = st.integers(1, SECP256K1_N - 1).map(lambda k: f"0x{k:064x}")
assets = st.integers(0, 20_000)
cloids = st.integers(0, 2**128 - 1)
# exact decimals with up to 8 significant digits and 8 places: what prices/sizes look like
wire_numbers = st.builds(lambda m, e: Decimal(m).scaleb(-e), st.integers(1, 99_999_999), st.integers(0, 8))
orders = st.tuples(assets, st.booleans(), wire_numbers, wire_numbers, st.booleans(),
                   st.sampled_from(["Alo", "Gtc", "Ioc"]), st.none() | cloids)
oids = st.integers(0, 2**63 - 1)
specs = st.one_of(
    st.tuples(st.just("order"), st.tuples(st.lists(orders, min_size=1, max_size=8),
                                          st.sampled_from(["na", "normalTpsl", "positionTpsl"]))),
    st.tuples(st.just("cancel"), st.lists(st.tuples(assets, oids), min_size=1, max_size=8)),
    st.tuples(st.just("cancelByCloid"), st.lists(st.tuples(assets, cloids), min_size=1, max_size=8)),
    st.tuples(st.just("batchModify"), st.lists(st.tuples(st.tuples(st.just("oid"), oids)
                                                         | st.tuples(st.just("cloid"), cloids), orders),
                                               min_size=1, max_size=6)),
    st.tuples(st.just("scheduleCancel"), st.none() | st.integers(0, 2**53)),
    st.tuples(st.just("noop"), st.none()),
)
vaults = st.none() | st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
expiries = st.none() | st.integers(0, 2**63 - 1)
nonces = st.integers(0, 2**53)


def same_signature(a: dict, b: dict) -> bool:
    # r/s compared as integers: the SDK's to_hex drops leading zeros
    return (int(a["r"], 16), int(a["s"], 16), a["v"]) == (int(b["r"], 16), int(b["s"], 16), b["v"])


# --- signatures equal the SDK's --------------------------------------------------------
@EXAMPLES
@given(spec=specs, key=keys, nonce=nonces, vault=vaults, expires=expiries, mainnet=st.booleans())
def test_request_body_equals_the_sdks(spec, key, nonce, vault, expires, mainnet):
    theirs = sdk_body(spec, key, nonce, vault, expires, mainnet)
    action = our_action(spec)
    sig = Signer(key).sign(action, nonce, vault, expires, mainnet)
    ours = actions.exchange_body(action, nonce, sig, vault, expires)

    assert msgpack.packb(ours["action"]) == msgpack.packb(theirs["action"])
    assert list(ours) == list(theirs)
    assert same_signature(ours["signature"], theirs["signature"])
    assert {k: v for k, v in ours.items() if k != "signature"} == {k: v for k, v in theirs.items() if k != "signature"}
    assert action_hash(action, vault, nonce, expires) == sdk.action_hash(theirs["action"], vault, nonce, expires)


@EXAMPLES
@given(spec=specs, key=keys, nonce=nonces, vault=vaults, expires=expiries, mainnet=st.booleans())
def test_sign_l1_action_equals_the_sdks_and_recovers(spec, key, nonce, vault, expires, mainnet):
    action = our_action(spec)
    wallet = Account.from_key(key)
    sig = sign_l1_action(key, action, nonce, vault, expires, mainnet)

    assert same_signature(sig, sdk.sign_l1_action(wallet, action, vault, nonce, expires, mainnet))
    assert int(sig["s"], 16) <= SECP256K1_N // 2  # low-s, as Ethereum requires
    signer = recover_l1_signer(action, nonce, vault, expires, mainnet, sig)
    assert signer == wallet.address.lower() == address_from_key(key)
    assert signer == sdk.recover_agent_or_user_from_l1_action(action, sig, vault, nonce, expires, mainnet).lower()


@settings(max_examples=50, deadline=None)
@given(spec=specs, key=keys, nonce=nonces, vault=vaults, expires=expiries)
def test_a_mainnet_signature_checked_as_testnet_recovers_someone_else(spec, key, nonce, vault, expires):
    action = our_action(spec)
    sig = sign_l1_action(key, action, nonce, vault, expires, True)
    assert recover_l1_signer(action, nonce, vault, expires, True, sig) == address_from_key(key)
    assert recover_l1_signer(action, nonce, vault, expires, False, sig) != address_from_key(key)
    # and so does any other change to what was signed
    assert recover_l1_signer(action, nonce + 1, vault, expires, True, sig) != address_from_key(key)


# --- the SDK's own test vectors (tests/signing_test.py) --------------------------------
_DUMMY = {"type": "dummy", "num": 100000000000}  # float_to_int_for_hashing(1000)
_ORDER = actions.order_action([actions.order_wire(1, True, "100", "100", tif="Gtc")])
_ORDER_CLOID = actions.order_action([actions.order_wire(1, True, "100", "100", tif="Gtc",
                                                        cloid="0x00000000000000000000000000000001")])
_TPSL = {"type": "order", "orders": [{"a": 1, "b": True, "p": "100", "s": "100", "r": False,
                                      "t": {"trigger": {"isMarket": True, "triggerPx": "103", "tpsl": "sl"}}}],
         "grouping": "na"}
_SUB = {"type": "subAccountTransfer", "subAccountUser": "0x1d9470d4b963f552e6f671a81619d395877bf409",
        "isDeposit": True, "usd": 10}
_VAULT = "0x1719884eb866cb12b2287399b15f7db5e7d775ea"
SDK_VECTORS = [  # action, vault, mainnet, r, s, v
    (_DUMMY, None, True, "0x53749d5b30552aeb2fca34b530185976545bb22d0b3ce6f62e31be961a59298",
     "0x755c40ba9bf05223521753995abb2f73ab3229be8ec921f350cb447e384d8ed8", 27),
    (_DUMMY, None, False, "0x542af61ef1f429707e3c76c5293c80d01f74ef853e34b76efffcb57e574f9510",
     "0x17b8b32f086e8cdede991f1e2c529f5dd5297cbe8128500e00cbaf766204a613", 28),
    (_ORDER, None, True, "0xd65369825a9df5d80099e513cce430311d7d26ddf477f5b3a33d2806b100d78e",
     "0x2b54116ff64054968aa237c20ca9ff68000f977c93289157748a3162b6ea940e", 28),
    (_ORDER, None, False, "0x82b2ba28e76b3d761093aaded1b1cdad4960b3af30212b343fb2e6cdfa4e3d54",
     "0x6b53878fc99d26047f4d7e8c90eb98955a109f44209163f52d8dc4278cbbd9f5", 27),
    (_ORDER_CLOID, None, True, "0x41ae18e8239a56cacbc5dad94d45d0b747e5da11ad564077fcac71277a946e3",
     "0x3c61f667e747404fe7eea8f90ab0e76cc12ce60270438b2058324681a00116da", 27),
    (_ORDER_CLOID, None, False, "0xeba0664bed2676fc4e5a743bf89e5c7501aa6d870bdb9446e122c9466c5cd16d",
     "0x7f3e74825c9114bc59086f1eebea2928c190fdfbfde144827cb02b85bbe90988", 28),
    (_DUMMY, _VAULT, True, "0x3c548db75e479f8012acf3000ca3a6b05606bc2ec0c29c50c515066a326239",
     "0x4d402be7396ce74fbba3795769cda45aec00dc3125a984f2a9f23177b190da2c", 28),
    (_DUMMY, _VAULT, False, "0xe281d2fb5c6e25ca01601f878e4d69c965bb598b88fac58e475dd1f5e56c362b",
     "0x7ddad27e9a238d045c035bc606349d075d5c5cd00a6cd1da23ab5c39d4ef0f60", 27),
    (_TPSL, None, True, "0x98343f2b5ae8e26bb2587daad3863bc70d8792b09af1841b6fdd530a2065a3f9",
     "0x6b5bb6bb0633b710aa22b721dd9dee6d083646a5f8e581a20b545be6c1feb405", 27),
    (_TPSL, None, False, "0x971c554d917c44e0e1b6cc45d8f9404f32172a9d3b3566262347d0302896a2e4",
     "0x206257b104788f80450f8e786c329daa589aa0b32ba96948201ae556d5637eac", 28),
    ({"type": "createSubAccount", "name": "example"}, None, True,
     "0x51096fe3239421d16b671e192f574ae24ae14329099b6db28e479b86cdd6caa7",
     "0xb71f7d293af92d3772572afb8b102d167a7cef7473388286bc01f52a5c5b423", 27),
    ({"type": "createSubAccount", "name": "example"}, None, False,
     "0xa699e3ed5c2b89628c746d3298b5dc1cca604694c2c855da8bb8250ec8014a5b",
     "0x53f1b8153a301c72ecc655b1c315d64e1dcea3ee58921fd7507e35818fcc1584", 28),
    (_SUB, None, True, "0x43592d7c6c7d816ece2e206f174be61249d651944932b13343f4d13f306ae602",
     "0x71a926cb5c9a7c01c3359ec4c4c34c16ff8107d610994d4de0e6430e5cc0f4c9", 28),
    (_SUB, None, False, "0xe26574013395ad55ee2f4e0575310f003c5bb3351b5425482e2969fa51543927",
     "0xefb08999196366871f919fd0e138b3a7f30ee33e678df7cfaf203e25f0a4278", 28),
    (actions.schedule_cancel_action(None), None, True,
     "0x6cdfb286702f5917e76cd9b3b8bf678fcc49aec194c02a73e6d4f16891195df9",
     "0x6557ac307fa05d25b8d61f21fb8a938e703b3d9bf575f6717ba21ec61261b2a0", 27),
    (actions.schedule_cancel_action(None), None, False,
     "0xc75bb195c3f6a4e06b7d395acc20bbb224f6d23ccff7c6a26d327304e6efaeed",
     "0x342f8ede109a29f2c0723bd5efb9e9100e3bbb493f8fb5164ee3d385908233df", 28),
    (actions.schedule_cancel_action(123456789), None, True,
     "0x609cb20c737945d070716dcc696ba030e9976fcf5edad87afa7d877493109d55",
     "0x16c685d63b5c7a04512d73f183b3d7a00da5406ff1f8aad33f8ae2163bab758b", 28),
    (actions.schedule_cancel_action(123456789), None, False,
     "0x4e4f2dbd4107c69783e251b7e1057d9f2b9d11cee213441ccfa2be63516dc5bc",
     "0x706c656b23428c8ba356d68db207e11139ede1670481a9e01ae2dfcdb0e1a678", 27),
]


@pytest.mark.parametrize("action, vault, mainnet, r, s, v", SDK_VECTORS)
def test_sdk_vectors(action, vault, mainnet, r, s, v):
    expected = {"r": r, "s": s, "v": v}
    assert same_signature(sign_l1_action(SDK_TEST_KEY, action, 0, vault, None, mainnet), expected)
    assert same_signature(Signer(SDK_TEST_KEY).sign(action, 0, vault, None, mainnet), expected)
    # the installed SDK agrees with its own vectors, so both sides are the same oracle
    assert same_signature(sdk.sign_l1_action(Account.from_key(SDK_TEST_KEY), action, vault, 0, None, mainnet),
                          expected)
    assert recover_l1_signer(action, 0, vault, None, mainnet, expected) == address_from_key(SDK_TEST_KEY)


def test_sdk_phantom_agent_vector():
    action = actions.order_action([actions.order_wire(4, True, "1670.1", "0.0147", tif="Ioc")])
    assert action_hash(action, None, 1677777606040, None).hex() == \
        "0fcbeda5ae3c4950a548021552a4fea2226858c4453571bf3f24ba017eac2908"


def test_recover_refuses_a_malformed_v():
    sig = sign_l1_action(SDK_TEST_KEY, _DUMMY, 0, None, None, True)
    with pytest.raises(ValueError):
        recover_l1_signer(_DUMMY, 0, None, None, True, {**sig, "v": 29})


# --- action builders equal the SDK's ---------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(order=orders)
def test_order_wire_equals_the_sdks(order):
    sdk_wire = sdk.order_request_to_order_wire(_sdk_order(order), order[0])
    assert msgpack.packb(_our_order(order)) == msgpack.packb(sdk_wire)


@settings(max_examples=200, deadline=None)
@given(x=wire_numbers)
def test_rules_to_wire_matches_the_sdks_float_to_wire(x):
    assert rules.to_wire(x) == sdk.float_to_wire(float(x))


def test_order_wire_key_order_and_optional_cloid():
    wire = actions.order_wire(3, False, "0.5", "12", reduce_only=True)
    assert list(wire) == ["a", "b", "p", "s", "r", "t"] and wire["t"] == {"limit": {"tif": "Alo"}}
    with_cloid = actions.order_wire(3, False, "0.5", "12", cloid="0x" + "0" * 31 + "7")
    assert list(with_cloid) == ["a", "b", "p", "s", "r", "t", "c"]
    assert msgpack.packb(actions.order_action([wire])) == msgpack.packb(sdk.order_wires_to_order_action([wire]))


def test_exchange_body_always_carries_vault_and_expiry():
    body = actions.exchange_body(actions.noop_action(), 5, {"r": "0x1", "s": "0x2", "v": 27})
    assert list(body) == ["action", "nonce", "signature", "vaultAddress", "expiresAfter"]
    assert body["vaultAddress"] is None and body["expiresAfter"] is None


def test_schedule_cancel_without_time_has_no_time_key():
    assert actions.schedule_cancel_action(None) == {"type": "scheduleCancel"}
    assert list(actions.schedule_cancel_action(7)) == ["type", "time"]


# --- the Signer never shows its key ----------------------------------------------------
def test_signer_shows_only_its_address():
    key = "0x" + "5a" * 32
    signer = Signer(key)
    assert signer.address == Account.from_key(key).address.lower()
    for text in (repr(signer), str(signer), f"{signer}", repr([signer])):
        assert signer.address in text
        assert key[2:] not in text.lower()
    public = {name: getattr(signer, name) for name in dir(signer) if not name.startswith("_")}
    assert set(public) == {"address", "sign"}
    with pytest.raises(TypeError):
        pickle.dumps(signer)


def test_signer_accepts_the_key_with_or_without_0x():
    key = "0x" + "5a" * 32
    assert Signer(key).address == Signer(key[2:]).address == Signer(key.upper().replace("0X", "0x")).address


def test_bad_keys_are_refused_without_echoing_them():
    for bad in ("0x" + "ab" * 31, "zz" * 32, "0x" + "00" * 32):
        with pytest.raises(Exception) as info:
            Signer(bad)
        assert bad[2:] not in str(info.value)


# --- nonces ----------------------------------------------------------------------------
@given(clock=st.lists(st.integers(0, 2**44), min_size=1, max_size=50))
def test_nonces_strictly_increase_whatever_the_clock_does(clock):
    source = NonceSource()
    got = [source.next(now) for now in clock]
    assert all(b > a for a, b in zip(got, got[1:]))
    assert all(n >= now for n, now in zip(got, clock))


def test_nonces_follow_wall_time_when_it_moves_forward():
    source = NonceSource()
    assert [source.next(t) for t in (1000, 1000, 999, 1000, 5000)] == [1000, 1001, 1002, 1003, 5000]


# --- key loading -----------------------------------------------------------------------
GOOD = "0x" + "c0ffee00" * 8


def _refused(key_file: str | None = None, environ: dict | None = None) -> str:
    with pytest.raises(SigningKeyError) as info:
        load_private_key(key_file, environ=environ if environ is not None else {})
    return str(info.value)


def test_key_from_the_environment_with_or_without_0x():
    assert load_private_key(environ={"HL_PRIVATE_KEY": GOOD}) == GOOD
    assert load_private_key(environ={"HL_PRIVATE_KEY": GOOD[2:].upper()}) == GOOD
    assert load_private_key(environ={"HL_PRIVATE_KEY": f"  {GOOD}\n"}) == GOOD


def test_key_from_a_file_wins_over_the_environment(tmp_path):
    path = tmp_path / "key"
    path.write_text(GOOD[2:].upper() + "\n")
    os.chmod(path, 0o600)
    assert load_private_key(str(path), environ={"HL_PRIVATE_KEY": "0x" + "11" * 32}) == GOOD


def test_a_key_file_others_can_read_is_accepted_with_a_warning(tmp_path, caplog):
    path = tmp_path / "key"
    path.write_text(GOOD)
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING, logger="venues.hyperliquid.keys"):
        assert load_private_key(str(path), environ={}) == GOOD
    assert "chmod 600" in caplog.text and GOOD[2:] not in caplog.text
    caplog.clear()
    os.chmod(path, 0o600)
    with caplog.at_level(logging.WARNING, logger="venues.hyperliquid.keys"):
        load_private_key(str(path), environ={})
    assert caplog.text == ""


@pytest.mark.parametrize("bad", [
    "0x" + "c0ffee00" * 7 + "c0ffee",          # 31 bytes
    "c0ffee00" * 8 + "aa",                     # 33 bytes
    "0x" + "c0ffee00" * 7 + "c0ffeeqq",        # not hex
    "0x" + "00" * 32,                          # zero is no key
    "0x" + "ff" * 32,                          # beyond the curve order
])
def test_malformed_keys_are_refused_without_echoing_them(bad, tmp_path):
    body = bad[2:] if bad.startswith("0x") else bad
    msg = _refused(environ={"HL_PRIVATE_KEY": bad})
    assert "HL_PRIVATE_KEY" in msg
    path = tmp_path / "key"
    path.write_text(bad)
    msg_file = _refused(str(path))
    assert str(path) in msg_file
    for m in (msg, msg_file):
        assert not any(body[i:i + 12].lower() in m.lower() for i in range(len(body) - 11))


def test_missing_sources_are_named():
    assert "HL_PRIVATE_KEY" in _refused()
    assert "HL_PRIVATE_KEY" in _refused(environ={"HL_PRIVATE_KEY": "  "})
    msg = _refused("/nonexistent/hl.key")
    assert "/nonexistent/hl.key" in msg


def test_a_directory_is_not_a_key_file(tmp_path):
    assert str(tmp_path) in _refused(str(tmp_path))


def test_a_key_passed_as_the_file_path_is_not_echoed():
    msg = _refused(GOOD)
    assert GOOD[2:] not in msg.lower()


def test_redact_hides_the_key_in_any_spelling():
    key = GOOD
    text = f"a {key} b {key[2:].upper()} c 0X{key[2:]} d {key[2:]}"
    out = redact(text, key)
    assert key[2:] not in out.lower() and out.count("<redacted>") == 4
    assert redact("nothing here", key) == "nothing here"
    assert redact(f"x{key}", key[2:].upper()) == "x<redacted>"
