// Statements over traces as data: `load trace` (real hosts' ftrace, trace-cmd report, perf script,
// perf kvm stat report, exitlab's own text), `save trace` (text, or Parquet/CSV/JSON through
// DuckDB), `stat` (perf kvm stat report's summary) and `sql` (DuckDB over every VM and trace).

import { writeFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import type { Pos, Statement, Word } from "../../grammar/ast.js";
import type { ExitList } from "../../runtime/core/exits.js";
import type { Arch } from "../../runtime/core/machine.js";
import { suggestion } from "../../grammar/words.js";
import { readTraceFile, MAX_REPORTED } from "../../runtime/traces/reader.js";
import { ReportExits, TraceExits, type CostUnit } from "../../runtime/traces/exits.js";
import { adaptTrace } from "../../runtime/traces/adapt.js";
import { statRows, type StatRow } from "../../runtime/traces/stat-report.js";
import { EVENT_COLUMNS, U64_COLUMNS, type EventTable } from "../../runtime/traces/table.js";
import { LabError, nameError } from "../errors.js";
import type { Cell, Column, ColumnType, Result, TableResult } from "../results.js";
import { queryBarSpec } from "../charts.js";
import type { Context, HandlerTable, LoadedTrace } from "../session.js";
import { SqlEngine, SqlError } from "../sql/engine.js";
import { wireTable } from "../sql/wire.js";
import { requireVm, text } from "./common.js";

type S<T extends Statement["type"]> = Extract<Statement, { type: T }>;

/** A VM or a loaded trace, as the trace statements see it. */
export interface TraceSource {
  name: string;
  kind: "vm" | "trace";
  arch: Arch | null;
  exits: ExitList;
  /** What each exit's cost is in: modelled cycles (VMs), µs (timestamps) or nothing. */
  unit: CostUnit;
  loaded?: LoadedTrace;
}

/** The unit's column title ("cycles", "time (µs)"). */
export function costTitle(unit: CostUnit): string {
  return unit === "us" ? "time (µs)" : unit === "cycles" ? "cycles" : "cost";
}

/** NAME (a VM or a loaded trace), or the current VM; a NameError with the known names otherwise. */
export function traceSource(ctx: Context, w: Word | null, pos: Pos): TraceSource {
  if (!w) {
    const vm = requireVm(ctx, pos);
    return { name: vm.name, kind: "vm", arch: vm.arch, exits: vm.machine.exits, unit: "cycles" };
  }
  const vm = ctx.session.vms.get(w.text);
  if (vm) return { name: vm.name, kind: "vm", arch: vm.arch, exits: vm.machine.exits, unit: "cycles" };
  const t = ctx.session.traces.get(w.text);
  if (t) return { name: t.name, kind: "trace", arch: t.read.arch, exits: t.exits, unit: t.exits.unit, loaded: t };
  const pool = [...ctx.session.vms.keys(), ...ctx.session.traces.keys()];
  throw nameError(`no VM or loaded trace named \`${w.text}\``, w.pos, suggestion(w.text, pool) ?? (pool.length ? `known: ${pool.join(", ")}` : "boot a VM (`vm boot x86_64 as NAME`) or load a trace (`load trace \"FILE\" as NAME`)"));
}

function loadTrace(s: S<"loadTrace">, ctx: Context): Result[] {
  const path = resolve(ctx.options.baseDir ?? process.cwd(), s.path);
  const name = s.name?.text ?? (basename(s.path).replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9_]/g, "_") || "trace");
  if (ctx.session.vms.has(name)) throw new LabError("NameError", `\`${name}\` is a VM: a loaded trace needs another name`, s.name?.pos ?? s.pos, `\`load trace "${s.path}" as ${name}_trace\``);
  let read: ReturnType<typeof readTraceFile>;
  try {
    read = readTraceFile(path, s.path);
  } catch (e) {
    throw new LabError("FileError", `cannot read ${s.path}: ${(e as Error).message}`, s.pos);
  }
  if (read.table.length === 0 && !read.report?.rows.length) {
    const first = read.malformed[0];
    throw new LabError("ValueError", `${s.path}: no trace events in ${read.lines} lines${first ? ` (${read.malformedCount} malformed; first: ${first.message})` : ""}`, s.pos, "expected ftrace text, `trace-cmd report`, `perf script` of kvm:* events, a `perf kvm stat report` or exitlab's `save trace` text");
  }
  const exits = read.report ? new ReportExits(read.report) : new TraceExits(read.table, read.arch);
  ctx.session.traces.set(name, { name, path: s.path, read, exits, id: ++ctx.session.traceLoads });
  const what = read.report
    ? `a perf kvm stat report of ${read.report.rows.length} events`
    : `${read.table.length} events (${exits.length} exits${read.arch ? `, ${read.arch}` : ""})`;
  const out: string[] = [`loaded ${what} from ${s.path} (${read.formats.join(", ")}) as \`${name}\``];
  if (read.lost) out.push(`the kernel lost ${read.lost} events (\`[LOST n EVENTS]\` lines)`);
  if (read.malformedCount) {
    out.push(`${read.malformedCount} malformed line${read.malformedCount === 1 ? "" : "s"} skipped:`);
    for (const m of read.malformed.slice(0, 10)) out.push(`  ${m.message}`);
    if (read.malformedCount > 10) out.push(`  … ${read.malformedCount - 10} more${read.malformedCount > MAX_REPORTED ? ` (the first ${MAX_REPORTED} are kept)` : ""}`);
  }
  return [text(out.join("\n"), s.pos)];
}

/** The event table and exits of a source, for SQL and exports: a VM's adapted now, a trace's as loaded. */
function tableOf(ctx: Context, src: TraceSource): { table: EventTable; exits: TraceExits; key: string } {
  if (src.loaded) return { table: src.loaded.read.table, exits: src.loaded.exits, key: `trace#${src.loaded.id}` };
  const vm = ctx.session.vms.get(src.name)!;
  const m = vm.machine;
  const read = adaptTrace(m.trace, m.settings.era, vm.arch, vm.name);
  return { table: read.table, exits: new TraceExits(read.table, vm.arch), key: `vm:${m.trace.total}:${m.settings.era}:${m.exits.total}` };
}

function sqlEngine(ctx: Context): SqlEngine {
  return (ctx.session.sql ??= new SqlEngine());
}

/** Registers every VM and loaded trace as a table (those changed since the last query). */
function registerAll(ctx: Context, engine: SqlEngine): void {
  const names = new Set<string>();
  const sources = [...[...ctx.session.vms.keys()].map((n) => traceSource(ctx, { text: n, pos: ZERO }, ZERO)), ...[...ctx.session.traces.keys()].map((n) => traceSource(ctx, { text: n, pos: ZERO }, ZERO))];
  for (const src of sources) {
    names.add(src.name);
    const vmKey = src.kind === "vm" ? `vm:${ctx.session.vms.get(src.name)!.machine.trace.total}:${ctx.session.vms.get(src.name)!.machine.settings.era}:${src.exits.total}` : `trace#${src.loaded!.id}`;
    engine.ensure(src.name, vmKey, () => {
      const { table, exits } = tableOf(ctx, src);
      return { op: "register", name: src.name, key: vmKey, table: wireTable(table, exits) };
    });
  }
  engine.retain(names);
}

const ZERO: Pos = { line: 1, col: 1, offset: 0, end: 0 };

function sqlError(e: unknown, pos: Pos, ctx: Context): never {
  if (!(e instanceof SqlError)) throw e;
  const tables = [...ctx.session.vms.keys(), ...ctx.session.traces.keys()];
  const [first, ...rest] = e.message.split("\n");
  const detail = rest.filter((l) => l.trim() !== "").join(" ").replace(/\s+/g, " ").trim();
  throw new LabError("SqlError", `${first}${detail ? ` (${detail})` : ""}`, pos, tables.length ? `tables: ${tables.join(", ")}; columns: ${EVENT_COLUMNS.join(", ")}, cost` : "no tables yet: boot a VM or load a trace first");
}

/** A SQL value as a table cell: 64-bit hardware columns in hex, NULL as an empty cell. */
function cellOf(v: unknown, hex: boolean): Cell {
  if (v === null || v === undefined) return "";
  if (typeof v === "bigint") return hex ? "0x" + v.toString(16) : v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (typeof v === "number") return hex ? "0x" + v.toString(16) : v;
  if (typeof v === "boolean" || typeof v === "string") return v;
  return v instanceof Date ? v.toISOString() : JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x));
}

function columnType(name: string, type: string): ColumnType {
  if ((U64_COLUMNS as readonly string[]).includes(name) && /INT/.test(type)) return "hex";
  if (/^(?:U?(?:TINY|SMALL|BIG|HUGE)?INT(?:EGER)?|DOUBLE|FLOAT|REAL|DECIMAL.*)$/.test(type)) return "number";
  if (type === "BOOLEAN") return "bool";
  return "string";
}

function sql(s: S<"sql">, ctx: Context): Result[] {
  const engine = sqlEngine(ctx);
  let reply: ReturnType<SqlEngine["call"]>;
  try {
    registerAll(ctx, engine);
    reply = engine.call({ op: "query", sql: s.query });
  } catch (e) {
    sqlError(e, s.queryPos, ctx);
  }
  const cols = reply.columns ?? [];
  const columns: Column[] = cols.map((c) => ({ name: c.name, type: columnType(c.name, c.type) }));
  const rows = (reply.rows ?? []).map((r) => r.map((v, i) => cellOf(v, columns[i]!.type === "hex")));
  const q = s.query.replace(/\s+/g, " ").trim();
  return [{ kind: "table", title: `sql: ${q.length > 80 ? q.slice(0, 80) + "…" : q} (${rows.length} row${rows.length === 1 ? "" : "s"})`, columns, rows, line: s.pos.line }];
}

/** `chart sql "QUERY"`: the query's rows as bars (first column: labels; first numeric column: lengths). */
function chartSql(s: S<"chartSql">, ctx: Context): Result[] {
  const [t] = sql({ type: "sql", query: s.query, queryPos: s.queryPos, pos: s.pos }, ctx) as [TableResult];
  const value = t.columns.findIndex((c, i) => i > 0 && c.type === "number");
  if (t.columns.length < 2 || value < 0) throw new LabError("ValueError", `a chart of a query needs a label column and a numeric column; this query gives ${t.columns.map((c) => `${c.name} (${c.type})`).join(", ")}`, s.queryPos, "e.g. `chart sql \"select reason, count(*) as exits from host where event = 'kvm_exit' group by reason order by exits desc\"`");
  const label = t.columns[0]!.name;
  const measure = t.columns[value]!.name;
  const rows = t.rows.map((r) => ({ label: String(r[0]), value: typeof r[value] === "number" ? (r[value] as number) : 0 }));
  const q = s.query.replace(/\s+/g, " ").trim();
  const title = `${measure} by ${label}`;
  return [{ kind: "chart", title, spec: queryBarSpec(title, label, measure, rows), summary: `${title} (sql: ${q.length > 60 ? q.slice(0, 60) + "…" : q}): ` + (rows.length ? rows.map((r) => `${r.label} ${r.value}`).join(", ") : "no rows"), line: s.pos.line }];
}

const EXPORTS: Record<string, "parquet" | "csv" | "json"> = { ".parquet": "parquet", ".csv": "csv", ".json": "json" };

function saveTrace(s: S<"saveTrace">, ctx: Context): Result[] {
  const src = traceSource(ctx, s.source, s.pos);
  const path = resolve(ctx.options.baseDir ?? process.cwd(), s.path);
  const ext = /\.[^./]*$/.exec(s.path)?.[0]?.toLowerCase() ?? "";
  const format = EXPORTS[ext];
  if (format) {
    const engine = sqlEngine(ctx);
    try {
      registerAll(ctx, engine);
      engine.call({ op: "copy", name: src.name, path, format });
    } catch (e) {
      if (e instanceof SqlError) throw new LabError("FileError", `cannot write ${s.path}: ${e.message.split("\n")[0]}`, s.pos);
      throw e;
    }
    return [text(`saved the events of \`${src.name}\` to ${s.path} (${format}; columns ${EVENT_COLUMNS.join(", ")}, cost)`, s.pos)];
  }
  if (src.kind !== "vm") throw new LabError("ValueError", `\`${src.name}\` is a loaded trace: it saves as .parquet, .csv or .json`, s.pos, `\`save trace ${src.name} "${s.path.replace(/\.[^./]*$/, "")}.parquet"\``);
  const vm = ctx.session.vms.get(src.name)!;
  const lines = vm.machine.trace.lines(vm.machine.settings.era);
  try {
    writeFileSync(path, lines.join("\n") + (lines.length ? "\n" : ""));
  } catch (e) {
    throw new LabError("FileError", `cannot write ${s.path}: ${(e as Error).message}`, s.pos);
  }
  return [text(`saved ${lines.length} trace lines of \`${vm.name}\` to ${s.path}`, s.pos)];
}

/** perf kvm stat's rows for a source: a saved report's own, or computed from its exits. */
function statOf(src: TraceSource): { rows: StatRow[]; unit: CostUnit; totalSamples: number; totalTime: number | null } {
  const report = src.loaded?.read.report;
  if (report) return { rows: report.rows, unit: "us", totalSamples: report.totalSamples ?? report.rows.reduce((a, r) => a + r.samples, 0), totalTime: report.totalTimeUs };
  const e = src.exits;
  const reasons: string[] = new Array(e.length);
  let times: Float64Array;
  if (e instanceof TraceExits) {
    for (let k = 0; k < e.length; k++) reasons[k] = e.reasonAt(k);
    times = e.unit === "none" ? new Float64Array(e.length).fill(NaN) : e.cost();
  } else {
    times = new Float64Array(e.length);
    let k = 0;
    for (const x of e) {
      reasons[k] = x.reason;
      times[k++] = x.cycles;
    }
  }
  let total = 0;
  let timed = 0;
  for (const t of times) if (t === t) {
    total += t;
    timed++;
  }
  return { rows: statRows(reasons, times), unit: src.unit, totalSamples: e.length, totalTime: timed ? total : null };
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

function stat(s: S<"stat">, ctx: Context): Result[] {
  const src = traceSource(ctx, s.source, s.pos);
  const st = statOf(src);
  const u = st.unit === "us" ? "us" : st.unit === "cycles" ? "cycles" : "";
  const t = (x: number): number => (st.unit === "cycles" ? Math.round(x) : round2(x));
  const columns: Column[] = [
    { name: "VM-EXIT", type: "string" }, { name: "Samples", type: "number" }, { name: "Samples%", type: "number" }, { name: "Time%", type: "number" },
    { name: `Min Time (${u || "-"})`, type: "number" }, { name: `Max Time (${u || "-"})`, type: "number" }, { name: `Avg time (${u || "-"})`, type: "number" }, { name: "+-%", type: "number" },
  ];
  const rows: Cell[][] = st.rows.map((r) => [r.event, r.samples, round2(r.samplesPct), round2(r.timePct), t(r.min), t(r.max), t(r.avg), round2(r.stddevPct)]);
  const how = src.loaded?.read.report ? "a saved perf kvm stat report" : st.unit === "us" ? "timestamps: kvm_exit to the next kvm_entry of the same vCPU thread" : st.unit === "cycles" ? "modelled host cycles per exit" : "no timestamps: samples only";
  const total = `Total Samples:${st.totalSamples}, Total events handled time:${st.totalTime === null ? "-" : st.unit === "cycles" ? Math.round(st.totalTime) : st.totalTime.toFixed(2)}${u}.`;
  return [
    { kind: "table", title: `stat of ${src.name}: Analyze events for all VMs, all VCPUs (${how})`, columns, rows, line: s.pos.line },
    text(total, s.pos),
  ];
}

export const TRACE_STATEMENTS: HandlerTable = { loadTrace, saveTrace, stat, sql, chartSql };
