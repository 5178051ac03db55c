"""Seed 003's cycle maker: a coordinator (market data, decisions) driving two executor services, each
owning one account, maker first with taker rebalancing; and its trade statistics. docs/maker.md."""
