"""Market-data recorder and analytic store (issue 16).

`recorder.rows`     cache snapshot -> CSV rows with the derived columns (pure)
`recorder.csvfiles` dated, SIGKILL-safe CSV files (header once, torn tail repair)
`recorder.gaps`     reconnects, missing seconds, stale streams
`recorder.runner`   the recording loop and its status file
`recorder.store`    CSV day -> Parquet + DuckDB, coverage, cleanup, BigQuery export

The five tables of seed 002 and the torn-line-safe CSV reader are shared with the backtester, so they
live in the kernel: `mraster.marketdata`.
"""
