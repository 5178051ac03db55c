"""Signed instructions (bad, stale, replayed) and the executor's rules: admission, expiry, silence, stop."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from maker.executor_core import ExecutorCore
from maker.protocol import Instruction, InstructionError, parse
from mraster.domain.signed import SignatureError, Verifier, sign

SECRET = "s3cret-for-tests"


def test_a_good_signature_passes_once():
    v = Verifier(SECRET, max_age_ms=10_000)
    body = b'{"id":"a1","action":"heartbeat"}'
    v.check(body, "1000", sign(SECRET, 1000, body), "a1", now_ms=1500)
    with pytest.raises(SignatureError, match="replayed"):
        v.check(body, "1000", sign(SECRET, 1000, body), "a1", now_ms=1600)


@pytest.mark.parametrize("ts, sig, now, why", [
    ("1000", "0" * 64, 1000, "bad signature"),
    ("1000", None, 1000, "missing"),
    ("1000", "SIGNED", 12_001, "stale"),            # 11 s old
    ("30000", "SIGNED", 12_000, "stale"),           # 18 s in the future
    ("abc", "SIGNED", 1000, "malformed"),
])
def test_bad_missing_stale_or_future_instructions_are_refused(ts, sig, now, why):
    body = b'{"id":"x","action":"heartbeat"}'
    if sig == "SIGNED":
        sig = sign(SECRET, int(ts) if ts.isdigit() else 0, body)
    with pytest.raises(SignatureError, match=why):
        Verifier(SECRET, 10_000).check(body, ts, sig, "x", now)


def test_the_signature_covers_body_and_timestamp():
    body = b'{"id":"x","action":"taker","qty":"0.002"}'
    good = sign(SECRET, 1000, body)
    with pytest.raises(SignatureError, match="bad signature"):
        Verifier(SECRET).check(body.replace(b"0.002", b"0.200"), "1000", good, "x", 1000)
    with pytest.raises(SignatureError, match="bad signature"):
        Verifier(SECRET).check(body, "1001", good, "x", 1000)
    with pytest.raises(SignatureError, match="bad signature"):
        Verifier("other").check(body, "1000", good, "x", 1000)


def test_without_a_secret_age_and_replay_still_count():
    v = Verifier("", 10_000)
    v.check(b"{}", "1000", None, "i1", 1000)
    with pytest.raises(SignatureError, match="replayed"):
        v.check(b"{}", "1000", None, "i1", 1000)
    with pytest.raises(SignatureError, match="stale"):
        v.check(b"{}", "1000", None, "i2", 20_000)


def test_old_ids_are_forgotten_only_once_their_age_refuses_them():
    v = Verifier(SECRET, 1000)
    for i in range(5):
        v.check(b"{}", str(i), sign(SECRET, i, b"{}"), f"id{i}", i)
    v.check(b"{}", "5000", sign(SECRET, 5000, b"{}"), "new", 5000)
    assert list(v._seen) == ["new"]


def test_instruction_parsing_names_the_field():
    ins = parse(b'{"id":"1","action":"maker","client_id":"maker:B.mk.1","side":"BUY","qty":"0.002",'
                b'"price":"100.5","expire_s":12}')
    assert (ins.qty, ins.price, ins.expire_s) == (D("0.002"), D("100.5"), 12.0)
    assert parse(ins.body()) == ins
    for body, field in [(b"[]", "object"), (b'{"id":"1","action":"fly"}', "action"),
                        (b'{"id":"1","action":"taker","client_id":"c","side":"BUY","qty":"-1"}', "qty"),
                        (b'{"id":"1","action":"maker","client_id":"c","side":"UP","qty":"1"}', "side"),
                        (b'{"action":"heartbeat"}', "id"), (b"nope", "JSON")]:
        with pytest.raises(InstructionError, match=field):
            parse(body)


def core(**kw) -> ExecutorCore:
    c = ExecutorCore("B", "maker", max_usd=D("5000"), silence_ms=15_000, **kw)
    c.hear(0)
    return c


def maker(cid="maker:B.mk.1", side="BUY", qty="0.002", price="100000", expire=None) -> Instruction:
    return Instruction("i", "maker", cid, side, D(qty), D(price), expire)


def test_admission_only_for_our_own_ids_and_within_the_maximum():
    c = core()
    assert c.admit(maker(), D("100000")) == ""
    assert "not one of maker:B" in c.admit(maker(cid="maker:C.mk.1"), D("100000"))
    assert "not one of maker:B" in c.admit(maker(cid="other:B.mk.1"), D("100000"))
    assert "not one of maker:B" in c.admit(maker(cid="mr-12-EN"), D("100000"))
    c.position = D("0.048")
    assert c.admit(maker(qty="0.002"), D("100000")) == ""             # 0.050 x 100000 = 5000: at the max
    c.track(maker(qty="0.002"), 0)
    assert "over the maximum" in c.admit(maker(cid="maker:B.mk.2", qty="0.001"), D("100000"))   # resting counts
    assert c.admit(maker(cid="maker:B.mk.3", side="SELL", qty="0.05"), D("100000")) == ""
    c.position = D("0.06")                                            # a price jump: reducing is always allowed
    tk = Instruction("i", "taker", "maker:B.tk.1", "SELL", D("0.01"), reduce_only=True)
    assert c.admit(tk, D("100000")) == ""
    flip = Instruction("i", "taker", "maker:B.tk.2", "BUY", D("0.01"), reduce_only=True)
    assert "would not reduce" in c.admit(flip, D("100000"))


def test_a_client_id_is_never_sent_twice():
    c = core()
    c.track(maker(), 0)
    c.forget("maker:B.mk.1", "filled")
    assert "already used" in c.admit(maker(), D("100000"))


def test_expiry_is_clamped_to_5_to_30_seconds():
    c = core(default_expire_s=30.0)
    assert c.expire_s(maker(expire=2)) == 5.0 and c.expire_s(maker(expire=99)) == 30.0
    assert c.expire_s(maker()) == 30.0
    m = c.track(maker(expire=10), 1000)
    assert c.due(10_999) == [] and c.due(11_000) == [m]
    c.fill(m.client_id, D("0.001"))
    assert m.left == D("0.001") and c.resting("BUY") == D("0.001")
    c.fill(m.client_id, D("0.001"))
    assert c.makers == {} and c.done_ids[m.client_id] == "filled"


def test_silence_stops_trading_until_the_coordinator_is_heard_again():
    c = ExecutorCore("B", "maker", max_usd=D("5000"), silence_ms=15_000)
    assert "not trading (waiting)" in c.admit(maker(), D("1"))      # never heard: trades nothing
    c.hear(1000)
    assert not c.check_silence(16_000)
    assert c.check_silence(16_001) and c.mode == "silent"
    assert not c.check_silence(20_000)                                # reported once
    assert "not trading (silent)" in c.admit(maker(), D("1"))
    c.hear(21_000)
    assert c.mode == "active" and c.admit(maker(), D("1")) == ""


def test_emergency_stop_refuses_until_reset():
    c = core()
    c.stop("button")
    c.hear(5)
    assert c.mode == "stopped" and "emergency-stopped" in c.admit(maker(), D("1"))
    c.reset()
    assert c.mode == "waiting"
    c.hear(6)
    assert c.admit(maker(), D("100000")) == ""


def test_a_taker_counts_until_a_position_read_shows_it():
    c = core()
    c.position = D("0.045")
    c.takers["maker:B.tk.1"] = ("BUY", D("0.004"), None)                 # in flight
    buy = Instruction("i", "taker", "maker:B.tk.2", "BUY", D("0.002"))
    assert "over the maximum" in c.admit(buy, D("100000"))              # 0.045 + 0.004 + 0.002 > 0.050
    c.takers["maker:B.tk.1"] = ("BUY", D("0.004"), 1000)                  # acknowledged at 1000
    c.position_seen(900, D("0.045"))                                      # a read that began before: kept
    assert "maker:B.tk.1" in c.takers
    c.position_seen(1001, D("0.049"))                                     # a read after: the position has it
    assert c.takers == {}
    assert "over the maximum" in c.admit(buy, D("100000"))               # 0.049 + 0.002 > 0.050 still
    assert c.admit(Instruction("i", "taker", "maker:B.tk.3", "BUY", D("0.001")), D("100000")) == ""


def test_a_slow_rest_read_never_overwrites_a_fresher_stream_position():
    c = core()
    c.position_update(D("-0.005"), 2000)           # the stream saw the fills at 2.0 s
    c.position_seen(1500, D("-0.003"))               # a REST read that began at 1.5 s, answered late
    assert c.position == D("-0.005")
    c.position_seen(2500, D("-0.004"))               # a read begun after: it is the truth now
    assert c.position == D("-0.004")
