// Measure: loading a real-host-sized trace. A generated `trace-cmd report` text of N events
// (default 10,000,000; EXITLAB_BENCH_TRACE_EVENTS) is loaded by the lab in a child process (its
// own peak RSS: the load streams, the target is < 512 MiB), which then times `table … by reason`
// and an SQL group-by on DuckDB; in the same run DuckDB itself reads the same events from CSV
// (read_csv) and groups them — the anchor. Counts are checked against what was generated.

import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { runChild } from "./child.js";
import { generateTrace, type GeneratedTrace } from "./trace-gen.js";
import type { TraceChildResult } from "./trace-child.js";

export const TRACE_TARGET_RSS = 512 * 1024 * 1024;

export interface TraceBenchResult {
  generated: GeneratedTrace;
  fileBytes: number;
  exitlab?: TraceChildResult;
  duck?: { loadMs: number; groupMs: number; byReason: Record<string, number> };
  error?: string;
  /** Where the counts disagree with the generated ones (empty: all agree). */
  mismatches: string[];
}

function child(file: string): Promise<TraceChildResult> {
  return runChild<TraceChildResult>("./trace-child.js", [file], "trace-child");
}

/** DuckDB's own: read_csv of the same events into a table, then the group-by. */
async function duckAnchor(csv: string): Promise<NonNullable<TraceBenchResult["duck"]>> {
  const duck = await import("@duckdb/node-api");
  const instance = await duck.DuckDBInstance.create(":memory:");
  const conn = await instance.connect();
  let t0 = performance.now();
  await conn.run(`CREATE TABLE t AS SELECT * FROM read_csv('${csv.replace(/'/g, "''")}', header = true)`);
  const loadMs = performance.now() - t0;
  t0 = performance.now();
  const reader = await conn.runAndReadAll("SELECT reason, count(*) AS n FROM t WHERE event = 'kvm_exit' GROUP BY reason");
  const groupMs = performance.now() - t0;
  const byReason: Record<string, number> = {};
  for (const [reason, n] of reader.getRowsJS()) byReason[String(reason)] = Number(n);
  conn.closeSync();
  instance.closeSync();
  return { loadMs, groupMs, byReason };
}

function compareCounts(what: string, want: Record<string, number>, got: Record<string, number> | undefined, out: string[]): void {
  if (!got) return;
  for (const k of new Set([...Object.keys(want), ...Object.keys(got)])) if (want[k] !== got[k]) out.push(`${what} ${k}: ${got[k] ?? 0} (generated ${want[k] ?? 0})`);
}

export async function benchTraces(events: number, log: (s: string) => void): Promise<TraceBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "exitlab-bench-trace-"));
  const file = join(dir, "host.trace");
  const csv = join(dir, "host.csv");
  try {
    log(`trace: generating ${events.toLocaleString("en-US")} events`);
    const generated = generateTrace(file, csv, events);
    const r: TraceBenchResult = { generated, fileBytes: statSync(file).size, mismatches: [] };
    try {
      log("trace: exitlab load, table by reason, sql (child process)");
      r.exitlab = await child(file);
      log("trace: DuckDB read_csv and group-by");
      r.duck = await duckAnchor(csv);
    } catch (e) {
      r.error = (e as Error).message;
    }
    compareCounts("table", generated.byReason, r.exitlab?.byReason, r.mismatches);
    compareCounts("sql", generated.byReason, r.exitlab?.sqlByReason, r.mismatches);
    compareCounts("duckdb", generated.byReason, r.duck?.byReason, r.mismatches);
    return r;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
