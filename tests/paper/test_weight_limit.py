"""The request weight a paper exchange announces is configurable, and the project's client budgets by it."""
from __future__ import annotations

import asyncio

import httpx

from mraster.exchange.factory import make_exchange
from mraster.settings import load_settings
from paper.testing import PaperExchange


def _limits(ex: PaperExchange) -> dict[str, int]:
    info = httpx.get(ex.url + "/fapi/v1/exchangeInfo", timeout=10).json()
    return {f"{x['rateLimitType']}/{x['interval']}/{x['intervalNum']}": x["limit"] for x in info["rateLimits"]}


def _client_limit(ex: PaperExchange) -> int:
    async def go() -> int:
        client = make_exchange(load_settings(env={**ex.env(), "ASTER_DOTENV_FILE": "/nonexistent.env"}).settings)
        try:
            await client.symbol_rules()
            return client.status().weight_limit_1m
        finally:
            await client.close()
    return asyncio.run(go())


def test_the_venues_limit_by_default_and_a_raised_one_for_a_shared_test_bed(tmp_path):
    with PaperExchange(tmp_path / "default") as ex:
        assert _limits(ex)["REQUEST_WEIGHT/MINUTE/1"] == 2400
        assert _client_limit(ex) == 2400
    with PaperExchange(tmp_path / "raised", env={"ASTER_PAPER_WEIGHT_LIMIT": "24000"}) as ex:
        assert _limits(ex)["REQUEST_WEIGHT/MINUTE/1"] == 24000
        assert _limits(ex)["ORDERS/MINUTE/1"] == 1200             # the order limits stay the venue's
        assert _client_limit(ex) == 24000                         # and budgets 80 % of it
