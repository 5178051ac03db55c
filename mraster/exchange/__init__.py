"""The exchange interface, the Binance-compatible client and the paper venue."""
