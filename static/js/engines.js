// Engine instances as the page knows them. Until the state API lists instances (snapshot.engines), the one
// engine is the scanner, run by the `bot` process.
export function enginesOf(snap) {
  if (snap && Array.isArray(snap.engines) && snap.engines.length) return snap.engines;
  return [{ instance: "scanner", kind: "scanner", account: "default", process: "bot" }];
}

export function engineByName(snap, name) {
  return enginesOf(snap).find((e) => e.instance === name) || null;
}
