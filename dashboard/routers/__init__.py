"""Thin routers: each one reads the request, calls one service, shapes the answer."""
