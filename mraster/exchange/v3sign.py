"""Aster V3 request signing (API wallet / agent) and its server-side verification.

Pure functions, no I/O. The current scheme (aster-v3.md §2): the parameter
string `k1=v1&k2=v2&...` exactly as transmitted is the `msg` of an EIP-712
typed message (domain `AsterSignTransaction`, version `1`, chain id 1666 on
mainnet / 714 on testnet, zero verifying contract; type `Message(string msg)`),
signed with the agent's secp256k1 key; the signature (`0x` + 130 hex, v 27/28)
is appended as the last parameter `&signature=...` and is never part of `msg`.

The legacy scheme (§4: sorted compact JSON, ABI-encoded with user, signer and
nonce, keccak, EIP-191 personal_sign) is kept for the paper exchange's optional
legacy mode and for the L0/L1 vectors.

Stable API (the paper exchange imports it): `CHAIN_IDS`, `typed_message`,
`digest`, `sign_msg`, `signed_payload`, `split_signed`, `parse_signature`,
`recover_msg`, `verify_payload`, `address_of`, `is_address`,
`legacy_json`, `legacy_hash`, `legacy_sign`, `legacy_recover`, `SignatureError`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping
from urllib.parse import parse_qsl

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_keys import keys as eth_keys
from eth_utils import is_hex_address, keccak, to_checksum_address

from mraster.exchange.signing import encode_params

if TYPE_CHECKING:                   # `eth_keys.keys` is a KeyAPI instance: its classes live in datatypes
    from eth_keys.datatypes import PrivateKey, Signature

_coincurve: ModuleType | None
try:                                # optional speed-up (a core dependency; eth_keys also uses it when present)
    import coincurve as _coincurve
except ImportError:                 # pragma: no cover - pure-Python eth_keys backend
    _coincurve = None

MAINNET_CHAIN_ID = 1666
TESTNET_CHAIN_ID = 714
#: network name -> EIP-712 chain id of ordinary V3 requests (never "corrected" to another chain's id)
CHAIN_IDS: dict[str, int] = {"mainnet": MAINNET_CHAIN_ID, "testnet": TESTNET_CHAIN_ID}
DOMAIN_NAME, DOMAIN_VERSION = "AsterSignTransaction", "1"
ZERO_ADDRESS = "0x" + "00" * 20

_DOMAIN_TYPE = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
_MESSAGE_TYPE = keccak(text="Message(string msg)")

# venue error codes a verifier answers with (aster-v3.md §6)
INVALID_SIGNATURE = -1022
MANDATORY_PARAM_MISSING = -1102
PARAM_SENT_TWICE = -1101


class SignatureError(ValueError):
    """A signed string or signature that cannot be verified; `code` is the venue error to answer with."""

    def __init__(self, message: str, code: int = INVALID_SIGNATURE):
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------ EIP-712 (current scheme)
def typed_message(msg: str, chain_id: int) -> dict[str, Any]:
    """The full EIP-712 typed-data document of one request, as the official demo builds it."""
    return {
        "types": {"EIP712Domain": [{"name": "name", "type": "string"},
                                   {"name": "version", "type": "string"},
                                   {"name": "chainId", "type": "uint256"},
                                   {"name": "verifyingContract", "type": "address"}],
                  "Message": [{"name": "msg", "type": "string"}]},
        "primaryType": "Message",
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": int(chain_id),
                   "verifyingContract": ZERO_ADDRESS},
        "message": {"msg": msg},
    }


@lru_cache(maxsize=16)
def domain_separator(chain_id: int) -> bytes:
    """keccak(typeHash(EIP712Domain) ‖ keccak(name) ‖ keccak(version) ‖ uint256(chainId) ‖ address(0))."""
    return keccak(_DOMAIN_TYPE + keccak(text=DOMAIN_NAME) + keccak(text=DOMAIN_VERSION)
                  + int(chain_id).to_bytes(32, "big") + bytes(32))


def struct_hash(msg: str) -> bytes:
    return keccak(_MESSAGE_TYPE + keccak(msg.encode("utf-8")))


def digest(msg: str, chain_id: int) -> bytes:
    """The 32-byte EIP-712 digest that is signed (standard eth_signTypedData_v4, no EIP-191 prefix).

    Computed directly (the per-request cost matters); tests check it against eth-account's
    `encode_typed_data` of `typed_message` byte for byte."""
    return keccak(b"\x19\x01" + domain_separator(chain_id) + struct_hash(msg))


@lru_cache(maxsize=8)
def _private_key(key: str) -> PrivateKey:
    raw = key[2:] if key[:2].lower() == "0x" else key
    try:
        data = bytes.fromhex(raw)
    except ValueError:
        raise SignatureError("the signer private key is not hex") from None
    if len(data) != 32:
        raise SignatureError(f"the signer private key must be 32 bytes (64 hex), got {len(data)} bytes")
    try:
        return eth_keys.PrivateKey(data)
    except Exception:   # noqa: BLE001 - eth_keys raises ValidationError for out-of-range keys
        raise SignatureError("the signer private key is not a valid secp256k1 key") from None


@lru_cache(maxsize=8)
def address_of(private_key: str) -> str:
    """Checksum address of a hex private key (with or without 0x)."""
    return _private_key(private_key).public_key.to_checksum_address()


def is_address(value: str) -> bool:
    return isinstance(value, str) and is_hex_address(value)


def _rsv_hex(sig: Signature) -> str:
    rsv: bytes = sig.r.to_bytes(32, "big") + sig.s.to_bytes(32, "big") + bytes([sig.v + 27])
    return "0x" + rsv.hex()


@lru_cache(maxsize=8)
def _fast_key(key: str) -> Any:
    """libsecp256k1 key object (coincurve), built once per key: eth_keys would rebuild it on every signature."""
    if _coincurve is None:
        return None
    return _coincurve.PrivateKey(_private_key(key).to_bytes())


def sign_msg(msg: str, private_key: str, chain_id: int) -> str:
    """`0x` + r‖s‖v hex (v 27/28, lower case) of `msg` under the EIP-712 wrapper; RFC 6979 deterministic,
    so equal to the official demo's and ccxt's output for the same string and key."""
    hashed = digest(msg, chain_id)
    fast = _fast_key(private_key)
    if fast is None:
        return _rsv_hex(_private_key(private_key).sign_msg_hash(hashed))
    sig: bytes = fast.sign_recoverable(hashed, hasher=None)     # r(32) ‖ s(32) ‖ recovery id (0/1), low-s
    return "0x" + (sig[:64] + bytes([sig[64] + 27])).hex()


def signed_payload(params: Iterable[tuple[str, str]], *, signer: str, private_key: str, nonce_us: int,
                   chain_id: int, user: str | None = None,
                   encode: Callable[[Iterable[tuple[str, str]]], str] = encode_params) -> str:
    """The full string to transmit: business params in the given order, then `nonce`, `user` (if any),
    `signer` (the older demo / Noop-demo order, §2.2), encoded once, signed, `&signature=` appended.
    Whatever goes on the wire must be exactly this string (query string, or form body)."""
    pairs = [(k, v) for k, v in params if k not in ("nonce", "user", "signer", "signature")]
    pairs.append(("nonce", str(int(nonce_us))))
    if user:
        pairs.append(("user", user))
    pairs.append(("signer", signer))
    msg = encode(pairs)
    return f"{msg}&signature={sign_msg(msg, private_key, chain_id)}"


# ------------------------------------------------------------------ server side
def split_signed(raw: str) -> tuple[str, str]:
    """(msg, signature hex) of a received query string or form body: the `signature=` pair removed,
    everything else byte for byte as received (never decoded and re-encoded)."""
    parts = raw.split("&")
    sigs = [p for p in parts if p.startswith("signature=")]
    if not sigs:
        raise SignatureError("mandatory parameter 'signature' was not sent", MANDATORY_PARAM_MISSING)
    if len(sigs) > 1:
        raise SignatureError("parameter 'signature' sent more than once", PARAM_SENT_TWICE)
    return "&".join(p for p in parts if not p.startswith("signature=")), sigs[0][len("signature="):]


def parse_signature(sig_hex: str) -> bytes:
    """65 bytes r‖s‖v from hex with or without 0x, any case; v 0/1 normalised to 27/28."""
    text = sig_hex.strip()
    if text[:2].lower() == "0x":
        text = text[2:]
    try:
        sig = bytes.fromhex(text)
    except ValueError:
        raise SignatureError("signature is not hex") from None
    if len(sig) != 65:
        raise SignatureError(f"signature must be 65 bytes, got {len(sig)}")
    v = sig[64]
    if v in (0, 1):
        v += 27
    if v not in (27, 28):
        raise SignatureError(f"signature v must be 27 or 28, got {sig[64]}")
    return sig[:64] + bytes([v])


def recover_msg(msg: str, signature: str | bytes, chain_id: int) -> str:
    """Checksum address that signed `msg` (EIP-712, `chain_id`). A wrong chain id or a changed byte
    recovers some other address; an unrecoverable signature raises SignatureError."""
    sig = parse_signature(signature) if isinstance(signature, str) else parse_signature(signature.hex())
    hashed = digest(msg, chain_id)
    try:
        if _coincurve is not None:
            pub = _coincurve.PublicKey.from_signature_and_message(sig[:64] + bytes([sig[64] - 27]), hashed,
                                                                  hasher=None)
            return to_checksum_address(keccak(pub.format(compressed=False)[1:])[-20:])
        vrs = eth_keys.Signature(vrs=(sig[64] - 27, int.from_bytes(sig[:32], "big"),
                                      int.from_bytes(sig[32:64], "big")))
        return vrs.recover_public_key_from_msg_hash(hashed).to_checksum_address()
    except SignatureError:
        raise
    except Exception as exc:   # noqa: BLE001 - coincurve / eth_keys raise their own errors for bad points
        raise SignatureError(f"signature cannot be recovered: {type(exc).__name__}") from None


@dataclass(frozen=True)
class Verified:
    """Result of `verify_payload`: the signed string, its decoded params and the recovered address."""
    msg: str
    params: dict[str, str]
    signer: str       # as sent (the claimed agent)
    recovered: str    # checksum address recovered from the signature
    nonce: int
    user: str | None

    @property
    def ok(self) -> bool:
        return self.recovered.lower() == self.signer.lower()


def verify_payload(raw: str, chain_id: int) -> Verified:
    """Steps 2-5 of aster-v3.md §5.1 over the raw received string. Raises SignatureError (with the venue
    code) for a missing/duplicate signature, missing signer/nonce, a malformed signature, or a signature
    by anyone but `signer`. Authorisation (is the signer an agent of `user`?) and the nonce window are
    the caller's business."""
    msg, sig = split_signed(raw)
    params = dict(parse_qsl(msg, keep_blank_values=True))
    for name in ("signer", "nonce"):
        if not params.get(name):
            raise SignatureError(f"mandatory parameter '{name}' was not sent", MANDATORY_PARAM_MISSING)
    try:
        nonce = int(params["nonce"])
    except ValueError:
        raise SignatureError("nonce must be an integer (microseconds)", MANDATORY_PARAM_MISSING) from None
    if not is_address(params["signer"]):
        raise SignatureError("signer is not an address")
    result = Verified(msg, params, params["signer"], recover_msg(msg, sig, chain_id), nonce, params.get("user"))
    if not result.ok:
        raise SignatureError("Signature for this request is not valid.")
    return result


def recover_with_eth_account(msg: str, signature: str, chain_id: int) -> str:
    """The reference recovery path (`Account.recover_message(encode_typed_data(...))`), for cross-checks."""
    address: str = Account.recover_message(encode_typed_data(full_message=typed_message(msg, chain_id)),
                                           signature=parse_signature(signature))
    return address


# ------------------------------------------------------------------ legacy ABI scheme (§4)
def legacy_json(params: Mapping[str, Any]) -> str:
    """Compact JSON of the business params with sorted keys and string values, spaces removed and `'`
    turned into `"` exactly as the 2025 demo did (nonce/user/signer/signature excluded)."""
    business = {k: _legacy_value(v) for k, v in params.items()
                if v is not None and k not in ("nonce", "user", "signer", "signature")}
    return json.dumps(business, sort_keys=True).replace(" ", "").replace("'", '"')


def _legacy_value(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [json.dumps(v) if isinstance(v, (dict, list)) else str(v) for v in value]
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def legacy_hash(params: Mapping[str, Any], user: str, signer: str, nonce: int) -> bytes:
    """keccak(abi.encode(string json, address user, address signer, uint256 nonce))."""
    encoded = abi_encode(["string", "address", "address", "uint256"],
                         [legacy_json(params), to_checksum_address(user), to_checksum_address(signer), int(nonce)])
    return keccak(encoded)


def legacy_sign(params: Mapping[str, Any], user: str, signer: str, nonce: int, private_key: str) -> str:
    """`0x` + hex personal_sign (EIP-191) signature of `legacy_hash`."""
    signed = Account.sign_message(encode_defunct(primitive=legacy_hash(params, user, signer, nonce)),
                                  private_key=_private_key(private_key).to_bytes())
    return "0x" + bytes(signed.signature).hex()


def legacy_recover(params: Mapping[str, Any], user: str, signer: str, nonce: int, signature: str) -> str:
    try:
        address: str = Account.recover_message(encode_defunct(primitive=legacy_hash(params, user, signer, nonce)),
                                               signature=parse_signature(signature))
        return address
    except SignatureError:
        raise
    except Exception as exc:   # noqa: BLE001
        raise SignatureError(f"signature cannot be recovered: {type(exc).__name__}") from None
