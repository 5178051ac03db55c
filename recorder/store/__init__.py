"""The analytic store over the recorder's CSV files: Parquet partitioned by date and symbol, registered in
an embedded DuckDB database (zero setup), with an optional BigQuery export. See docs/marketdata.md.
(Reading a CSV day directly: `mraster.marketdata.csvread.read_csv_day`.)"""
from recorder.store.duck import Store, StoreError, TableLoad

__all__ = ["Store", "StoreError", "TableLoad"]
