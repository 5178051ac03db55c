-- The BigQuery DDL of seed 002 (dataset `aster`), kept verbatim: `data export-bigquery --dry-run`
-- checks the local Parquet schema against it.
CREATE SCHEMA IF NOT EXISTS `<PROJECT_ID>.aster`
OPTIONS(location = 'US');

CREATE TABLE IF NOT EXISTS `<PROJECT_ID>.aster.kline` (
  ts_unix_ms INT64,
  ts_dt_utc STRING,
  symbol STRING,
  k1_start_ms INT64,
  k1_close_ms INT64,
  k1_open FLOAT64,
  k1_high FLOAT64,
  k1_low FLOAT64,
  k1_close FLOAT64,
  k1_base_vol FLOAT64,
  k1_quote_vol FLOAT64,
  k1_trades INT64,
  k1_closed BOOL,
  date DATE,
  hour INT64,
  minute INT64,
  second INT64
)
PARTITION BY date
CLUSTER BY symbol, hour, minute, second;

CREATE TABLE IF NOT EXISTS `<PROJECT_ID>.aster.book_ticker` (
  ts_unix_ms INT64,
  ts_dt_utc STRING,
  symbol STRING,
  bid_px FLOAT64,
  bid_qty FLOAT64,
  ask_px FLOAT64,
  ask_qty FLOAT64,
  spread FLOAT64,
  mid FLOAT64,
  imbalance FLOAT64,
  weighted_mid FLOAT64,
  date DATE,
  hour INT64,
  minute INT64,
  second INT64
)
PARTITION BY date
CLUSTER BY symbol, hour, minute, second;

CREATE TABLE IF NOT EXISTS `<PROJECT_ID>.aster.mark_price` (
  ts_unix_ms INT64,
  ts_dt_utc STRING,
  symbol STRING,
  mark_px FLOAT64,
  index_px FLOAT64,
  funding_rate FLOAT64,
  next_funding_time_ms INT64,
  mark_index_bps FLOAT64,
  date DATE,
  hour INT64,
  minute INT64,
  second INT64
)
PARTITION BY date
CLUSTER BY symbol, hour, minute, second;

CREATE TABLE IF NOT EXISTS `<PROJECT_ID>.aster.agg_trade_1s` (
  ts_unix_ms INT64,
  ts_dt_utc STRING,
  symbol STRING,
  n_trades_1s INT64,
  sum_qty_1s FLOAT64,
  vwap_1s FLOAT64,
  buy_qty_1s FLOAT64,
  sell_qty_1s FLOAT64,
  buy_notional_1s FLOAT64,
  sell_notional_1s FLOAT64,
  date DATE,
  hour INT64,
  minute INT64,
  second INT64
)
PARTITION BY date
CLUSTER BY symbol, hour, minute, second;

CREATE TABLE IF NOT EXISTS `<PROJECT_ID>.aster.depth5` (
  ts_unix_ms INT64,
  ts_dt_utc STRING,
  symbol STRING,
  bid1_px FLOAT64,
  bid2_px FLOAT64,
  bid3_px FLOAT64,
  bid4_px FLOAT64,
  bid5_px FLOAT64,
  bid1_qty FLOAT64,
  bid2_qty FLOAT64,
  bid3_qty FLOAT64,
  bid4_qty FLOAT64,
  bid5_qty FLOAT64,
  ask1_px FLOAT64,
  ask2_px FLOAT64,
  ask3_px FLOAT64,
  ask4_px FLOAT64,
  ask5_px FLOAT64,
  ask1_qty FLOAT64,
  ask2_qty FLOAT64,
  ask3_qty FLOAT64,
  ask4_qty FLOAT64,
  ask5_qty FLOAT64,
  obi5 FLOAT64,
  date DATE,
  hour INT64,
  minute INT64,
  second INT64
)
PARTITION BY date
CLUSTER BY symbol, hour, minute, second;
