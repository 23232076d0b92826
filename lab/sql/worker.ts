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

/**
 * The view each trace is queried through: the event model's columns (runtime/traces/table.ts) and
 * each exit's cost, computed from the raw table (numbers only, filled from the event table's
 * chunks a vector at a time) and its dimension tables (names, threads, bodies).
 */
const U64 = ["pc", "info1", "info2", "intr_info", "error_code", "gpa"];
/** Raw columns: [name, DuckDB type, kind]. */
const RAW: readonly [string, string, "f64" | "u16" | "u32"][] = [
  ["seq", "UINTEGER", "u32"], ["ts", "DOUBLE", "f64"], ["cycles", "DOUBLE", "f64"], ["step", "DOUBLE", "f64"],
  ["cpu", "USMALLINT", "u16"], ["vcpu", "USMALLINT", "u16"], ["thread", "UINTEGER", "u32"], ["event", "USMALLINT", "u16"],
  ["reason", "USMALLINT", "u16"], ["present", "USMALLINT", "u16"],
  ...U64.flatMap((c) => [[`${c}_lo`, "UINTEGER", "u32"], [`${c}_hi`, "UINTEGER", "u32"]] as [string, string, "u32"][]),
  ["body", "UINTEGER", "u32"], ["cost", "DOUBLE", "f64"],
];
const BATCH = 2048;

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

function viewSql(name: string): string {
  const r = (c: string) => `r.${c}`;
  const dbl = (c: string) => `CASE WHEN isnan(${r(c)}) THEN NULL ELSE ${r(c)} END AS ${c}`;
  const u16 = (c: string) => `CAST(NULLIF(${r(c)}, 65535) AS INTEGER) AS ${c}`;
  const u64 = U64.map((c, k) => `CASE WHEN (r.present & ${1 << k}) <> 0 THEN (CAST(r.${c}_hi AS UBIGINT) << 32) | r.${c}_lo END AS ${c}`);
  const cols = [
    "CAST(r.seq AS BIGINT) AS seq", dbl("ts"), dbl("cycles"), dbl("step"), u16("cpu"), u16("vcpu"),
    "NULLIF(th.task, '') AS task", "th.pid AS pid", "en.name AS event", "NULLIF(rn.name, '') AS reason", "rn.code AS code",
    ...u64, "NULLIF(b.body, '') AS body", dbl("cost"),
  ];
  const t = (suffix: string) => quote(`${name}$${suffix}`);
  return `CREATE OR REPLACE VIEW ${quote(name)} AS SELECT ${cols.join(", ")} FROM ${t("rows")} r JOIN ${t("names")} en ON en.id = r.event JOIN ${t("names")} rn ON rn.id = r.reason JOIN ${t("threads")} th ON th.id = r.thread JOIN ${t("bodies")} b ON b.id = r.body`;
}

async function register(name: string, t: WireTable): Promise<void> {
  const { DuckDBDataChunk, DOUBLE, UINTEGER, USMALLINT } = duck;
  const types = { DOUBLE, UINTEGER, USMALLINT } as Record<string, import("@duckdb/node-api").DuckDBType>;
  const table = (suffix: string) => quote(`${name}$${suffix}`);
  await conn.run(`CREATE OR REPLACE TABLE ${table("rows")} (${RAW.map(([c, ty]) => `${c} ${ty}`).join(", ")})`);
  await conn.run(`CREATE OR REPLACE TABLE ${table("names")} (id USMALLINT, name VARCHAR, code INTEGER)`);
  await conn.run(`CREATE OR REPLACE TABLE ${table("threads")} (id UINTEGER, task VARCHAR, pid INTEGER)`);
  await conn.run(`CREATE OR REPLACE TABLE ${table("bodies")} (id UINTEGER, body VARCHAR)`);
  const small = async (suffix: string, rows: unknown[][]) => {
    const app = await conn.createAppender(`${name}$${suffix}`);
    for (const row of rows) {
      for (const v of row) {
        if (v === null) app.appendNull();
        else if (typeof v === "string") app.appendVarchar(v);
        else app.appendInteger(v as number);
      }
      app.endRow();
    }
    app.closeSync();
  };
  const codes = new Map(t.codes);
  await small("names", t.names.map((n, i) => [i, n, codes.get(i) ?? null]));
  await small("threads", t.threads.map((th, i) => [i, th.task, th.pid]));
  await small("bodies", t.bodies.map((b, i) => [i, b]));

  // Each exit's cost at its row; the rest NaN (NULL in the view).
  const cost = new Float64Array(t.length).fill(NaN);
  for (let k = 0; k < t.exitRows.length; k++) cost[t.exitRows[k]!] = t.costs[k]!;
  const sources: { chunks: readonly (ArrayLike<number> | undefined)[]; dflt: number; words?: readonly number[] }[] = RAW.map(([c]) => {
    if (c === "seq" || c === "cost") return { chunks: [], dflt: 0 };
    if (c in t.num) return { chunks: t.num[c as keyof WireTable["num"]], dflt: c === "ts" || c === "cycles" || c === "step" ? NaN : 0xffff };
    if (c === "thread" || c === "event" || c === "reason" || c === "present") return { chunks: t[c], dflt: 0 };
    if (c === "body") return { chunks: t.bodyId, dflt: 0 };
    const [col, half] = [c.slice(0, c.lastIndexOf("_")), c.slice(c.lastIndexOf("_") + 1)];
    return half === "lo" ? { chunks: t.lo[col]!, dflt: 0 } : { chunks: t.hi[col]!, dflt: 0, words: t.hiWords[col]! };
  });
  const appender = await conn.createAppender(`${name}$rows`);
  const chunk = DuckDBDataChunk.create(RAW.map(([, ty]) => types[ty]!));
  for (let start = 0; start < t.length; start += BATCH) {
    const n = Math.min(BATCH, t.length - start);
    chunk.reset();
    chunk.rowCount = n;
    // A batch never crosses a 64 Ki-row chunk of the event table (BATCH divides it).
    const c = start >>> 16;
    const off = start & 0xffff;
    for (let j = 0; j < RAW.length; j++) {
      const v = chunk.getColumnVector(j) as unknown as { items: Float64Array | Uint32Array | Uint16Array; flush(): void };
      const items = v.items;
      const name = RAW[j]![0];
      if (name === "seq") for (let i = 0; i < n; i++) items[i] = start + i;
      else if (name === "cost") (items as Float64Array).set(cost.subarray(start, start + n));
      else {
        const src = sources[j]!;
        const a = src.chunks[c] as Float64Array | Uint32Array | Uint16Array | Uint8Array | undefined;
        if (!a) items.fill(src.dflt, 0, n);
        else if (src.words) for (let i = 0; i < n; i++) items[i] = src.words[a[off + i]!]!;
        else items.set(a.subarray(off, off + n));
      }
      v.flush();
    }
    appender.appendDataChunk(chunk);
  }
  appender.flushSync();
  appender.closeSync();
  await conn.run(viewSql(name));
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
