// Child process of the trace-load measure (bench/traces.ts): `node dist/bench/trace-child.js FILE`
// loads the trace through the lab (`load trace`), then times `table … by reason` and an SQL
// group-by on DuckDB (`sql`), and prints one JSON line with each time, the exits by reason and its
// peak RSS after the load (its own process: the figure is this load's alone) and at the end.

import { performance } from "node:perf_hooks";
import { Session } from "../lab/session.js";
import type { Result } from "../lab/results.js";

export interface TraceChildResult {
  events: number;
  loadMs: number;
  tableMs: number;
  /** The first query: DuckDB starts and the trace's columns are appended to its table. */
  sqlRegisterMs: number;
  /** The group-by itself, on the registered table. */
  sqlMs: number;
  rssAfterLoad: number;
  rssEnd: number;
  byReason: Record<string, number>;
  sqlByReason: Record<string, number>;
}

function timed(s: Session, src: string): { ms: number; results: Result[] } {
  const t0 = performance.now();
  const results = s.execute(src);
  const ms = performance.now() - t0;
  const err = results.find((r) => r.kind === "error");
  if (err) throw new Error(`${src}: ${JSON.stringify(err)}`);
  return { ms, results };
}

const rss = () => process.resourceUsage().maxRSS * 1024;

async function main(): Promise<void> {
  const file = process.argv[2]!;
  const s = await Session.create();
  const load = timed(s, `load trace "${file}" as t`);
  const rssAfterLoad = rss();
  const events = s.traces.get("t")!.read.table.length;
  const table = timed(s, "table t by reason");
  const byReason: Record<string, number> = {};
  for (const r of table.results) if (r.kind === "table") for (const row of r.rows) if (row[0] !== "total") byReason[String(row[0])] = Number(row[1]);
  const first = timed(s, `sql "select count(*) from t"`);
  const q = timed(s, `sql "select reason, count(*) as n, avg(cost) from t where event = 'kvm_exit' group by reason"`);
  const sqlByReason: Record<string, number> = {};
  for (const r of q.results) if (r.kind === "table") for (const row of r.rows) sqlByReason[String(row[0])] = Number(row[1]);
  const out: TraceChildResult = { events, loadMs: load.ms, tableMs: table.ms, sqlRegisterMs: first.ms, sqlMs: q.ms, rssAfterLoad, rssEnd: rss(), byReason, sqlByReason };
  console.log(JSON.stringify(out));
  s.sql?.close();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : String(e));
  process.exit(1);
});
