"""Aster V3 signing: the reference's worked vectors (aster-v3.md §2.8 E1-E3, §4 L0/L1) byte for byte,
cross-checks against eth-account's own EIP-712 path, and server-side verification round trips."""
from __future__ import annotations

import random
from urllib.parse import quote_plus, urlencode

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from mraster.exchange import v3sign
from mraster.exchange.v3sign import SignatureError

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
SIGNER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
USER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
NONCE = 1750000000000000
BUSINESS = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("quantity", "0.001"),
            ("price", "60000"), ("timeInForce", "GTC")]

E1_MSG = ("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.001&price=60000&timeInForce=GTC"
          "&nonce=1750000000000000&signer=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
E1_STRUCT = "e01b37bb9675fc76477fa11d5d2f529197710c794d836bc966d27af2c45cc3a1"
E1_DIGEST = "d8558f2f8af559355057a46de965e503d4fc259d5dff02a002117333f41fdc3b"
E1_SIG = ("0x461487ebaeaf6ea1f7c330d687dccf188e01bc6d2b4519779b23c6e71685f104388fd2cc8d25690e76c299b544cde5d5"
          "182af5078b350b02dd56ad0dcc15ef661b")
E1_TESTNET_DIGEST = "3045e90bf72cfa5dd3c68c7095788288601681b505451cdb84390ec3447a219f"
E1_TESTNET_SIG = ("0x677ceace74681b15e7eeb308e430235173a188dca9dddc01a6ee37c54bd9c2204f8bf439ef2fc32a60f6c9b90b7078c6"
                  "da3a3afbf272678f692638010e0cf1f01b")

E2_MSG = ("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.001&price=60000&timeInForce=GTC&timestamp=1750000000000"
          "&recvWindow=5000&nonce=1750000000000000&user=0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
          "&signer=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
E2_STRUCT = "168f5116fcb712e58e46758fd27f949dcd794b180775452699c87521a35f35c0"
E2_DIGEST = "603f944d5b1027dc80ec32cb23d4d575e5c3821f30f41b44acc7e365a1a9de94"
E2_SIG = ("0x965d10bd3e69ecacfdb3090183236370b9c319789bafed6012d27eae47f306500a137dfba3dd855dfc2bc8307ac9217cbf97f4"
          "e65bc954be9164c77c3ae58dae1b")

E3_MSG = ("nonce=1750000000000000&user=0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
          "&signer=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266&symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.001"
          "&price=60000&timeInForce=GTC")
E3_STRUCT = "5a09ba561c066b4f3103aa7680a71f1798631d9626a352f05d141366f7a6b451"
E3_DIGEST = "9201c90a9b126ee1838199abcf651f90e8ce3ffe59c7b7ed6f3003b39c9aeee5"
E3_SIG_CCXT = ("0x7ec6d45e78cbbe404c3fe3cb5e9c26fbd8398332cb660b82742580c3c4532e870fc93e819b46b0a6e7599ebc7fc5e9615b"
               "528e4e71831b29a8c957e5c8bb30ef1C")

VECTORS = [(E1_MSG, E1_STRUCT, E1_DIGEST, E1_SIG), (E2_MSG, E2_STRUCT, E2_DIGEST, E2_SIG),
           (E3_MSG, E3_STRUCT, E3_DIGEST, E3_SIG_CCXT.lower())]


def test_key_and_constants():
    assert v3sign.address_of(KEY) == SIGNER
    assert v3sign.address_of(KEY[2:]) == SIGNER
    assert v3sign.domain_separator(1666).hex() == "a95d0a7a6f3f17fcebb0c2336645385ce79cde7523f71ab147fdb7f15e9f37f9"
    assert v3sign.domain_separator(714).hex() == "fad01b07bed5729a04dbb977fd86da612eba71d668660bf12cf10b3d65b74d94"
    assert v3sign.domain_separator(56).hex() == "0b1c7560da00539a1ba5774edb75f7735da844730b7bfa41fa66bf107b4456ff"
    assert v3sign.CHAIN_IDS == {"mainnet": 1666, "testnet": 714}


@pytest.mark.parametrize("msg,struct,dig,sig", VECTORS, ids=["E1", "E2", "E3"])
def test_vectors_byte_for_byte(msg, struct, dig, sig):
    assert v3sign.struct_hash(msg).hex() == struct
    assert v3sign.digest(msg, 1666).hex() == dig
    assert v3sign.sign_msg(msg, KEY, 1666) == sig
    assert v3sign.recover_msg(msg, sig, 1666) == SIGNER


@pytest.mark.parametrize("msg,struct,dig,sig", VECTORS, ids=["E1", "E2", "E3"])
def test_direct_digest_equals_eth_account_typed_data(msg, struct, dig, sig):
    """Our hand-assembled digest is what eth-account's EIP-712 encoder hashes, and eth-account's own
    signing of the typed document (the official demo's call) gives the same signature."""
    signable = encode_typed_data(full_message=v3sign.typed_message(msg, 1666))
    official = Account.sign_message(signable, private_key=KEY)
    assert bytes(official.message_hash).hex() == dig
    assert "0x" + bytes(official.signature).hex() == sig
    assert v3sign.recover_with_eth_account(msg, sig, 1666) == SIGNER


def test_e1_testnet_chain_id():
    assert v3sign.digest(E1_MSG, 714).hex() == E1_TESTNET_DIGEST
    assert v3sign.sign_msg(E1_MSG, KEY, 714) == E1_TESTNET_SIG


def test_signed_payload_builds_e2_shape_from_business_params():
    """Our client's parameter order (business, nonce, user, signer) reproduces E2 (and E1 without user)."""
    business = BUSINESS + [("timestamp", "1750000000000"), ("recvWindow", "5000")]
    out = v3sign.signed_payload(business, signer=SIGNER, private_key=KEY, nonce_us=NONCE, chain_id=1666, user=USER)
    assert out == f"{E2_MSG}&signature={E2_SIG}"
    out1 = v3sign.signed_payload(BUSINESS, signer=SIGNER, private_key=KEY, nonce_us=NONCE, chain_id=1666)
    assert out1 == f"{E1_MSG}&signature={E1_SIG}"


def test_official_demo_urlencode_shape_verifies():
    """The official Python demo builds msg with urllib's urlencode (quote_plus) and sends it as is."""
    pairs = BUSINESS + [("nonce", str(NONCE)), ("signer", SIGNER)]
    assert urlencode(pairs) == E1_MSG
    raw = v3sign.signed_payload(BUSINESS, signer=SIGNER, private_key=KEY, nonce_us=NONCE, chain_id=1666,
                                encode=urlencode)
    assert raw == f"{E1_MSG}&signature={E1_SIG}"


def test_negative_checks_from_the_reference():
    tampered = E1_MSG.replace("price=60000", "price=60001")
    assert v3sign.recover_msg(tampered, E1_SIG, 1666) == "0xA94E1d043085088f24811830C27eDa8536F34749"
    assert v3sign.recover_msg(E1_MSG, E1_SIG, 714) == "0x6EA471c5031d49197C4154034884B87ddAAA282d"
    with pytest.raises(SignatureError) as err:
        v3sign.verify_payload(f"{tampered}&signature={E1_SIG}", 1666)
    assert err.value.code == -1022
    with pytest.raises(SignatureError) as err:
        v3sign.verify_payload(f"{E1_MSG}&signature={E1_SIG}", 714)
    assert err.value.code == -1022


@pytest.mark.parametrize("sig", [E1_SIG, E1_SIG[2:], E1_SIG.upper().replace("0X", "0x"), E1_SIG[2:].upper(),
                                 E1_SIG[:-2] + "00"])
def test_verify_accepts_every_signature_spelling(sig):
    """With or without 0x, any hex case, v as 0/1 instead of 27/28 (E1's v is 27 -> 0)."""
    got = v3sign.verify_payload(f"{E1_MSG}&signature={sig}", 1666)
    assert got.ok and got.recovered == SIGNER and got.nonce == NONCE and got.user is None
    assert got.msg == E1_MSG and got.params["symbol"] == "BTCUSDT"


def test_verify_e3_ccxt_order_with_upper_case_v():
    got = v3sign.verify_payload(f"{E3_MSG}&signature={E3_SIG_CCXT}", 1666)
    assert got.user == USER and got.signer == SIGNER


def test_signature_in_the_middle_of_the_string_is_removed_with_its_separator():
    mid = E1_MSG.replace("&nonce=", f"&signature={E1_SIG}&nonce=")
    assert v3sign.split_signed(mid) == (E1_MSG, E1_SIG)


@pytest.mark.parametrize("raw,code", [
    (E1_MSG, -1102),
    (f"{E1_MSG}&signature={E1_SIG}&signature={E1_SIG}", -1101),
    (f"symbol=BTCUSDT&nonce={NONCE}&signature={E1_SIG}", -1102),
    (f"symbol=BTCUSDT&signer={SIGNER}&signature={E1_SIG}", -1102),
    (f"{E1_MSG}&signature=0x1234", -1022),
    (f"{E1_MSG}&signature=zz{E1_SIG[4:]}", -1022),
    (f"{E1_MSG}&signature={E1_SIG[:-2]}1d", -1022),
])
def test_malformed_requests_get_the_venue_code(raw, code):
    with pytest.raises(SignatureError) as err:
        v3sign.verify_payload(raw, 1666)
    assert err.value.code == code


def test_round_trip_with_random_keys_and_awkward_values():
    """Random agents, values needing percent-encoding, both encoders (ours: RFC 3986; demo: quote_plus):
    the verifier works on the raw string, so every self-consistent client verifies."""
    rng = random.Random(13)
    for i in range(12):
        key = "0x" + rng.getrandbits(256).to_bytes(32, "big").hex()
        signer = v3sign.address_of(key)
        business = [("symbol", "ETHUSDT"), ("newClientOrderId", f"mr-{i}:a/b_c"),
                    ("batchOrders", "[{'symbol': 'ETHUSDT', 'note': 'a b!*()~'}]")]
        encode = urlencode if i % 2 else None
        kwargs = {"encode": encode} if encode else {}
        raw = v3sign.signed_payload(business, signer=signer, private_key=key, nonce_us=NONCE + i, chain_id=714,
                                    user=USER if i % 3 == 0 else None, **kwargs)
        got = v3sign.verify_payload(raw, 714)
        assert got.recovered == signer and got.params["batchOrders"] == business[2][1]
        assert got.nonce == NONCE + i
        # another agent's claim fails
        forged = raw.replace(f"signer={signer}", f"signer={SIGNER}")
        with pytest.raises(SignatureError):
            v3sign.verify_payload(forged, 714)
    assert quote_plus("a b") == "a+b"   # the two encoders really differ on such values


def test_bad_private_keys_are_refused_without_echoing_them():
    for bad in ("0x1234", "not-hex-" + "a" * 56, "0x" + "00" * 32):
        with pytest.raises(SignatureError) as err:
            v3sign.address_of(bad)
        assert bad not in str(err.value)


# ---------------------------------------------------------------- legacy scheme (§4)
HARDHAT_L1_PARAMS = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "60000",
                     "timeInForce": "GTC", "timestamp": "1750000000000", "recvWindow": "5000"}
L1_JSON = ('{"price":"60000","quantity":"0.001","recvWindow":"5000","side":"BUY","symbol":"BTCUSDT",'
           '"timeInForce":"GTC","timestamp":"1750000000000","type":"LIMIT"}')
L1_KECCAK = "c7d6b5c5c60475d5959988a46187f93255ef04d69afaa51024d17227885c1a7c"
L1_SIG = ("0x9256d4c338045cba4142ce4aa563f8e6dbd1557ea60ea9efc89be0d178af44712bbbb29ea01070335ce8220db7a60c77498d3e"
          "f959fb86ba98f7b7d7388d0ac61b")


def test_legacy_l1_vector():
    """L1: user = Hardhat account 1, signer = the vector key; ABI(json, user, signer, nonce)."""
    assert v3sign.legacy_json(HARDHAT_L1_PARAMS) == L1_JSON
    assert v3sign.legacy_hash(HARDHAT_L1_PARAMS, USER, SIGNER, NONCE).hex() == L1_KECCAK
    assert v3sign.legacy_sign(HARDHAT_L1_PARAMS, USER, SIGNER, NONCE, KEY) == L1_SIG
    assert v3sign.legacy_recover(HARDHAT_L1_PARAMS, USER, SIGNER, NONCE, L1_SIG) == SIGNER
    changed = dict(HARDHAT_L1_PARAMS, price="60001")
    assert v3sign.legacy_recover(changed, USER, SIGNER, NONCE, L1_SIG) != SIGNER


L0_PARAMS = {"symbol": "SANDUSDT", "positionSide": "BOTH", "type": "LIMIT", "side": "BUY", "timeInForce": "GTC",
             "quantity": "190", "price": "0.28694", "recvWindow": "50000", "timestamp": "1749545309665"}


def test_legacy_l0_documentation_vector_hash():
    """L0 (the official doc's example): the keccak of the ABI encoding; the doc's demo key is not published
    in full, so the signature is checked by recovery against the doc's signer."""
    user, signer, nonce = "0x63DD5aCC6b1aa0f563956C0e534DD30B6dcF7C4e", "0x21cF8Ae13Bb72632562c6Fff438652Ba1a151bb0", 1748310859508867
    assert v3sign.legacy_hash(L0_PARAMS, user, signer, nonce).hex() == \
        "9e0273fc91323f5cdbcb00c358be3dee2854afb2d3e4c68497364a2f27a377fc"
    sig = ("0x0337dd720a21543b80ff861cd3c26646b75b3a6a4b5d45805d4c1d6ad6fc33e65f0722778dd97525466560c69fbddbe6874eb4ed"
           "6f5fa7e576e486d9b5da67f31b")
    assert v3sign.legacy_recover(L0_PARAMS, user, signer, nonce, sig) == signer


@pytest.mark.parametrize("msg,struct,dig,sig", VECTORS, ids=["E1", "E2", "E3"])
def test_pure_python_fallback_gives_the_same_bytes(monkeypatch, msg, struct, dig, sig):
    """Without coincurve (an optional speed-up) eth_keys signs and recovers the same bytes."""
    monkeypatch.setattr(v3sign, "_coincurve", None)
    v3sign._fast_key.cache_clear()
    try:
        assert v3sign.sign_msg(msg, KEY, 1666) == sig
        assert v3sign.recover_msg(msg, sig, 1666) == SIGNER
    finally:
        v3sign._fast_key.cache_clear()
