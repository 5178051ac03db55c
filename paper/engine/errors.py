"""The venue's rejections, as the engine raises them: a code and message exactly as the venue sends."""
from __future__ import annotations


class VenueError(Exception):
    """A request the venue refuses. `status` is the HTTP status the API answers with."""

    def __init__(self, code: int, msg: str, status: int = 400):
        super().__init__(f"{code}: {msg}")
        self.code, self.msg, self.status = code, msg, status

    def body(self) -> dict:
        return {"code": self.code, "msg": self.msg}


def mandatory(name: str) -> VenueError:
    return VenueError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def not_required(name: str) -> VenueError:
    return VenueError(-1106, f"Parameter '{name}' sent when not required.")


def invalid(name: str) -> VenueError:
    return VenueError(-1130, f"Data sent for parameter '{name}' is not valid.")


def bad_symbol() -> VenueError:
    return VenueError(-1121, "Invalid symbol.")


def no_such_order() -> VenueError:
    return VenueError(-2013, "Order does not exist.")


def unknown_order() -> VenueError:
    return VenueError(-2011, "Unknown order sent.")


class PaperStateError(ValueError):
    """The saved paper state cannot be served by this market (e.g. a position on a symbol the feed does
    not list); the exchange refuses to start rather than drop it."""
