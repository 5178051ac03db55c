"""Account settings and balances: leverage, margin type, position mode, isolated margin, deposits."""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from mraster.domain.types import MarginType
from paper.engine.errors import VenueError, bad_symbol
from paper.engine.ledger import money
from paper.engine.margin import AccountView, account_view
from paper.engine.model import ConfigEvent, EAccount

if TYPE_CHECKING:
    from paper.engine.engine import Engine

D0 = Decimal(0)


class AccountOpsMixin:
    def account(self: "Engine", key: str, now: int = 0) -> EAccount:
        """The account of an API key, created with the starting balance on first use."""
        acct = self.accounts.get(key)
        if acct is None:
            acct = self.accounts[key] = EAccount(key, self.start_balance, update_time=now)
            self._changed(acct)
            if self.start_balance:
                self._income(acct, "", "TRANSFER", self.start_balance, now, info="paper account opened")
        return acct

    def view(self: "Engine", key: str) -> AccountView:
        return account_view(self.account(key), self.specs, self._mark_of)

    def set_leverage(self: "Engine", key: str, symbol: str, leverage: int, now: int) -> tuple[int, Decimal]:
        spec = self.specs.get(symbol)
        if spec is None:
            raise bad_symbol()
        if not 1 <= leverage <= spec.max_leverage:
            raise VenueError(-4028, f"Leverage {leverage} is not valid")
        acct = self.account(key, now)
        cap = spec.max_notional(leverage)
        mark = self.markets[symbol].mark()
        positions = [p for p in acct.positions.values() if p.symbol == symbol and p.amount != 0]
        if any(abs(p.amount) * mark > cap for p in positions):
            raise VenueError(-2027, "Exceeded the maximum allowable position at current leverage.")
        old = acct.leverage.get(symbol, self.default_leverage)
        if positions and leverage < old and acct.margin_type.get(symbol) is MarginType.ISOLATED:
            raise VenueError(-4161, "Leverage reduction is not supported in Isolated Margin Mode with open positions.")
        acct.leverage[symbol] = leverage
        acct.update_time = now
        self._changed(acct)
        self.events.append(ConfigEvent(key, now, symbol=symbol, leverage=leverage))
        return leverage, cap

    def set_margin_type(self: "Engine", key: str, symbol: str, margin_type: MarginType, now: int) -> None:
        if symbol not in self.specs:
            raise bad_symbol()
        acct = self.account(key, now)
        if acct.margin_type.get(symbol, MarginType.CROSSED) is margin_type:
            raise VenueError(-4046, "No need to change margin type.")
        if any(o.symbol == symbol for o in acct.open_orders.values()):
            raise VenueError(-4047, "Margin type cannot be changed if there exists open orders.")
        if any(p.symbol == symbol and p.amount != 0 for p in acct.positions.values()):
            raise VenueError(-4048, "Margin type cannot be changed if there exists position.")
        acct.margin_type[symbol] = margin_type
        acct.update_time = now
        self._changed(acct)

    def set_position_mode(self: "Engine", key: str, dual: bool, now: int) -> None:
        acct = self.account(key, now)
        if acct.dual_side == dual:
            raise VenueError(-4059, "No need to change position side.")
        if acct.open_orders:
            raise VenueError(-4067, "Position side cannot be changed if there exists open orders.")
        if any(p.amount != 0 for p in acct.positions.values()):
            raise VenueError(-4068, "Position side cannot be changed if there exists position.")
        acct.dual_side = dual
        acct.positions = {k: p for k, p in acct.positions.items() if p.isolated_wallet != 0}
        acct.update_time = now
        self._changed(acct)
        self.events.append(ConfigEvent(key, now, dual_side=dual))

    def set_multi_assets(self: "Engine", key: str, enabled: bool, now: int) -> None:
        acct = self.account(key, now)
        if acct.multi_assets == enabled:
            raise VenueError(-4171, "Multi-Assets mode is already set.")
        acct.multi_assets = enabled
        self._changed(acct)
        self.events.append(ConfigEvent(key, now, multi_assets=enabled))

    def adjust_isolated_margin(self: "Engine", key: str, symbol: str, position_side, amount: Decimal, add: bool,
                               now: int) -> Decimal:
        if symbol not in self.specs:
            raise bad_symbol()
        acct = self.account(key, now)
        if acct.margin_type.get(symbol) is not MarginType.ISOLATED:
            raise VenueError(-4049, "Add margin only support for isolated position.")
        if amount <= 0:
            raise VenueError(-4052, "The amount must be positive.")
        pos = acct.positions.get((symbol, position_side))
        if pos is None or pos.amount == 0:
            raise VenueError(-4051, "Isolated balance insufficient.")   # no position to add margin to
        if add:
            if amount > self.view(key).available:
                raise VenueError(-4050, "Cross balance insufficient.")
            pos.isolated_wallet += amount
        else:
            mark = self.markets[symbol].mark()
            keep = abs(pos.amount) * mark / acct.leverage.get(symbol, self.default_leverage)
            if pos.isolated_wallet + pos.amount * (mark - pos.entry_price) - amount < keep:
                raise VenueError(-4051, "Isolated balance insufficient.")
            pos.isolated_wallet -= amount
        acct.update_time = now
        self._changed(acct)
        self._account_event(acct, "MARGIN_TRANSFER", now, positions=[pos])
        return amount

    def set_balance(self: "Engine", key: str, balance: Decimal, now: int) -> Decimal:
        """Admin: set the wallet balance; the change is recorded as a TRANSFER and announced."""
        acct = self.account(key, now)
        change = money(balance - acct.wallet)
        acct.wallet = money(balance)
        acct.update_time = now
        self._changed(acct)
        if change:
            self._income(acct, "", "TRANSFER", change, now, info="admin set balance")
        self._account_event(acct, "ADMIN_DEPOSIT" if change >= 0 else "ADMIN_WITHDRAW", now, change=change)
        return change
