// Every page of the dashboard, in navigation order. A page is {id, title, mount(root, ctx, params), unmount()}
// served at #/<id> (params.arg is the next path segment: #/engine/<instance>, #/chart/<SYMBOL>; params.query
// the ?key=value part). Later pages take their slot here: data, backtest, maker, operator, ops.
import overview from "./overview.js";
import engine from "./engine.js";
import trades from "./trades.js";
import chart from "./chart.js";
import logs from "./logs.js";
import settings from "./settings.js";
import data from "./data.js";
import backtest from "./backtest.js";
import ops from "./ops.js";
import maker from "./maker.js";
import operator from "./operator.js";

export const PAGES = [
  overview,
  engine,
  trades,
  chart,
  data,
  backtest,
  maker,
  operator,
  logs,
  settings,
  ops,
];
