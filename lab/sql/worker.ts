// The DuckDB worker: an in-memory DuckDB (@duckdb/node-api) that holds the session's traces as
// tables and answers queries. The lab's statements are synchronous and DuckDB's API is not, so the
// lab posts a request and sleeps on a shared flag until this thread posts the reply and wakes it
// (lab/sql/engine.ts). Started on the first `sql` (or export), never at start-up.

import { workerData, type MessagePort } from "node:worker_threads";
import type { Reply, Request, WireTable } from "./wire.js";

type Duck = typeof import("@duckdb/node-api");
const { port, flag } = workerData as { port: MessagePort; flag: SharedArrayBuffer };
const done = new Int32Array(flag);

let duck: Duck;
let conn: import("@duckdb/node-api").DuckDBConnection;

/** The DDL column list: the event model's columns (runtime/traces/table.ts) and the exit's cost. */
const COLUMNS: readonly [string, string][] = [
  ["seq", "BIGINT"], ["ts", "DOUBLE"], ["cycles", "DOUBLE"], ["step", "DOUBLE"], ["cpu", "INTEGER"], ["vcpu", "INTEGER"],
  ["task", "VARCHAR"], ["pid", "INTEGER"], ["event", "VARCHAR"], ["reason", "VARCHAR"], ["code", "INTEGER"],
  ["pc", "UBIGINT"], ["info1", "UBIGINT"], ["info2", "UBIGINT"], ["intr_info", "UBIGINT"], ["error_code", "UBIGINT"], ["gpa", "UBIGINT"],
  ["body", "VARCHAR"], ["cost", "DOUBLE"],
];
const U64 = ["pc", "info1", "info2", "intr_info", "error_code", "gpa"];
const BATCH = 2048;

const at = (chunks: readonly (ArrayLike<number> | undefined)[], row: number, dflt: number): number => {
  const a = chunks[row >>> 16];
  return a === undefined ? dflt : a[row & 0xffff]!;
};
const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

async function register(name: string, t: WireTable): Promise<void> {
  const { DuckDBDataChunk, DOUBLE, BIGINT, INTEGER, UBIGINT, VARCHAR } = duck;
  const types = { DOUBLE, BIGINT, INTEGER, UBIGINT, VARCHAR } as Record<string, import("@duckdb/node-api").DuckDBType>;
  await conn.run(`CREATE OR REPLACE TABLE ${quote(name)} (${COLUMNS.map(([c, ty]) => `${c} ${ty}`).join(", ")})`);
  const appender = await conn.createAppender(name);
  const chunk = DuckDBDataChunk.create(COLUMNS.map(([, ty]) => types[ty]!));
  const cost = new Float64Array(t.length).fill(NaN);
  for (let k = 0; k < t.exitRows.length; k++) cost[t.exitRows[k]!] = t.costs[k]!;
  for (let start = 0; start < t.length; start += BATCH) {
    const n = Math.min(BATCH, t.length - start);
    const cols: unknown[][] = COLUMNS.map(() => new Array(n));
    for (let i = 0; i < n; i++) {
      const r = start + i;
      const f = (v: number): number | null => (v === v ? v : null);
      const u16 = (v: number): number | null => (v === 0xffff ? null : v);
      cols[0]![i] = BigInt(r);
      cols[1]![i] = f(at(t.num.ts, r, NaN));
      cols[2]![i] = f(at(t.num.cycles, r, NaN));
      cols[3]![i] = f(at(t.num.step, r, NaN));
      cols[4]![i] = u16(at(t.num.cpu, r, 0xffff));
      cols[5]![i] = u16(at(t.num.vcpu, r, 0xffff));
      const th = at(t.thread, r, 0);
      const thread = th === 0 ? null : t.threads[th]!;
      cols[6]![i] = thread && thread.task !== "" ? thread.task : null;
      cols[7]![i] = thread ? thread.pid : null;
      cols[8]![i] = t.names[at(t.event, r, 0)]!;
      const reason = at(t.reason, r, 0);
      cols[9]![i] = reason === 0 ? null : t.names[reason]!;
      cols[10]![i] = u16(at(t.num.code, r, 0xffff));
      const present = at(t.present, r, 0);
      for (let k = 0; k < U64.length; k++) {
        if ((present & (1 << k)) === 0) {
          cols[11 + k]![i] = null;
          continue;
        }
        const c = U64[k]!;
        const lo = at(t.lo[c]!, r, 0);
        const hi = at(t.hi[c]!, r, 0);
        cols[11 + k]![i] = hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
      }
      const body = at(t.bodyId, r, 0);
      cols[17]![i] = body === 0 ? null : t.bodies[body]!;
      cols[18]![i] = f(cost[r]!);
    }
    chunk.rowCount = n;
    chunk.setColumns(cols as never);
    appender.appendDataChunk(chunk);
  }
  appender.flushSync();
  appender.closeSync();
}

async function handle(req: Request): Promise<Reply> {
  if (!duck) {
    duck = await import("@duckdb/node-api");
    const instance = await duck.DuckDBInstance.create(":memory:");
    conn = await instance.connect();
  }
  switch (req.op) {
    case "register":
      await register(req.name, req.table);
      return { ok: true };
    case "exec":
      await conn.run(req.sql);
      return { ok: true };
    case "copy":
      await conn.run(`COPY (SELECT * FROM ${quote(req.name)} ORDER BY seq) TO '${req.path.replace(/'/g, "''")}' (FORMAT ${req.format})`);
      return { ok: true };
    case "query": {
      const reader = await conn.runAndReadAll(req.sql);
      const names = reader.columnNames();
      const types = reader.columnTypes().map((t) => t.toString());
      return { ok: true, columns: names.map((name, i) => ({ name, type: types[i]! })), rows: reader.getRowsJS() as unknown[][] };
    }
  }
}

port.on("message", (req: Request) => {
  handle(req)
    .then((reply) => port.postMessage(reply), (e: unknown) => port.postMessage({ ok: false, message: e instanceof Error ? e.message : String(e) } satisfies Reply))
    .finally(() => {
      Atomics.store(done, 0, 1);
      Atomics.notify(done, 0);
    });
});
