"""Aster V3 (API wallet) authentication as the paper exchange checks it (aster-v3.md 2.7, 5, 6).

The signed string is the raw query string (when it carries `signature=`) or else the raw form body,
verified byte for byte as received, so clients that order and encode their parameters differently (the
official demo, ccxt, the project's client) all verify. The recovery itself is mraster/exchange/v3sign.py
(one copy for client and server). Then, in this order (a forged request never burns a nonce slot):

1. signature recovers `signer` under the exchange's chain id, else -1022;
2. `signer` is a registered, unexpired agent, and `user` (when sent) is its owner, else -1002;
   an agent without `canPerpTrade`, or outside its IP whitelist, -2015;
3. the nonce (microseconds) lies within the window around venue time: older -4225 "Nonce Expired",
   further ahead -1021; then the agent's last 100 nonces: a repeat, or (with 100 kept) one older than
   all of them, -4225; else it is kept and the oldest dropped. Guarded cancels are the exception: their
   nonce must be the placement nonce of the order(s) they cancel (routes_v3.py).

The account is the owner's address (lower case). A user registered as its own agent signs with its
main key (ccxt's default mode). The kept nonces still inside the window are saved with the venue clock
(every few seconds and at a clean stop), so a restart does not reopen them to a replay (after a SIGKILL,
those of the last few seconds can be replayed once within the window).
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Iterable

from mraster.exchange.v3sign import SignatureError, is_address, verify_payload
from paper.engine.errors import VenueError

NONCES_KEPT = 100
_INVALID = "Signature for this request is not valid."
_UNAUTHORIZED = "You are not authorized to execute this request."


@dataclass
class Agent:
    user: str                     # owner (main wallet), lower case
    agent: str                    # API wallet address, lower case
    name: str = ""
    expired_ms: int = 0           # 0 = no expiry
    can_perp: bool = True
    ip_whitelist: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"user": self.user, "agent": self.agent, "name": self.name, "expired": self.expired_ms,
                "canPerpTrade": self.can_perp, "ipWhitelist": list(self.ip_whitelist)}


@dataclass
class NonceBook:
    """The last NONCES_KEPT nonces of one agent (min-heap plus set)."""
    heap: list[int] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)

    def take(self, nonce: int) -> bool:
        if nonce in self.seen:
            return False
        if len(self.heap) >= NONCES_KEPT:
            if nonce < self.heap[0]:
                return False
            self.seen.discard(heapq.heappushpop(self.heap, nonce))
        else:
            heapq.heappush(self.heap, nonce)
        self.seen.add(nonce)
        return True


def parse_agents(spec: str) -> list[tuple[str, str]]:
    """`user:agent[,user:agent...]` (ASTER_PAPER_AGENTS) -> pairs; ValueError naming a bad entry."""
    out = []
    for item in (spec or "").replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        user, _, agent = item.partition(":")
        user, agent = user.strip(), (agent.strip() or user.strip())
        if not (is_address(user) and is_address(agent)):
            raise ValueError(f"ASTER_PAPER_AGENTS: {item!r} is not user:agent (two 0x addresses)")
        out.append((user, agent))
    return out


class V3Auth:
    def __init__(self, chain_id: int, window_ms: int, agents: Iterable[Agent] = ()):
        self.chain_id = chain_id
        self.window_us = int(window_ms) * 1000
        self.agents: dict[str, Agent] = {a.agent: a for a in agents}
        self.nonces: dict[str, NonceBook] = {}

    def nonces_state(self, now_ms: int) -> dict[str, list[int]]:
        """The kept nonces still inside the window, per agent (saved with the clock, so a restart keeps them)."""
        low = now_ms * 1000 - self.window_us
        return {a: sorted(n for n in book.heap if n >= low) for a, book in self.nonces.items()
                if any(n >= low for n in book.heap)}

    def restore_nonces(self, state: dict) -> None:
        for agent, nonces in state.items():
            book = self.nonces.setdefault(str(agent), NonceBook())
            for n in sorted(int(x) for x in nonces)[-NONCES_KEPT:]:
                book.take(n)

    def register(self, agent: Agent) -> Agent:
        self.agents[agent.agent] = agent
        return agent

    def remove(self, address: str) -> bool:
        return self.agents.pop(address.lower(), None) is not None

    def authenticate(self, query: bytes, body: bytes, now_ms: int, client_ip: str = "",
                     guarded: bool = False) -> tuple[str, int]:
        """(account = owner address in lower case, nonce) of a V3-signed request, or the venue's VenueError.
        `guarded` (guardedCancelOrder / guardedBatchOrders): the nonce repeats the placement nonce of the
        order(s), so the repeat rule is not applied here (the handler compares); the window still is."""
        q_signed = query.startswith(b"signature=") or b"&signature=" in query
        if q_signed and body and b"=" in body:
            raise VenueError(-1022, _INVALID + " (parameters in both the query string and the body)")
        raw = query if q_signed else body
        if not raw:
            raise VenueError(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        try:
            verified = verify_payload(raw.decode("utf-8"), self.chain_id)
        except UnicodeDecodeError:
            raise VenueError(-1022, _INVALID) from None
        except SignatureError as exc:
            if exc.code == -1022:
                raise VenueError(-1022, _INVALID) from None
            raise VenueError(exc.code, str(exc)) from None
        agent = self.agents.get(verified.signer.lower())
        if agent is None or (agent.expired_ms and agent.expired_ms <= now_ms):
            raise VenueError(-1002, _UNAUTHORIZED, 401)
        if verified.user and verified.user.lower() != agent.user:
            raise VenueError(-1002, _UNAUTHORIZED, 401)
        if not agent.can_perp or (agent.ip_whitelist and client_ip not in agent.ip_whitelist):
            raise VenueError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        now_us = now_ms * 1000
        nonce = verified.nonce
        if nonce < now_us - self.window_us:
            raise VenueError(-4225, "Nonce Expired")
        if nonce > now_us + self.window_us:
            raise VenueError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if guarded:
            return agent.user, nonce
        book = self.nonces.get(agent.agent)
        if book is None:
            book = self.nonces[agent.agent] = NonceBook()
        if not book.take(nonce):
            raise VenueError(-4225, "Nonce Expired")
        return agent.user, nonce
