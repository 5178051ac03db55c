"""Market-data recorder and analytic store (issue 16).

`recorder.schema`   the five tables of seed 002 (columns, order, types) and the CSV family names
`recorder.rows`     cache snapshot -> CSV rows with the derived columns (pure)
`recorder.csvfiles` dated, SIGKILL-safe CSV files (header once, torn tail repair)
`recorder.gaps`     reconnects, missing seconds, stale streams
`recorder.runner`   the recording loop and its status file
`recorder.store`    CSV day -> Parquet + DuckDB, coverage, cleanup, BigQuery export
"""
