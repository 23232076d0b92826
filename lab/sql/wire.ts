// What crosses between the lab and its DuckDB worker: an event table as its column chunks (over
// SharedArrayBuffers, so posting it copies no column), requests and replies.

import { U64_COLUMNS, type EventTable } from "../../runtime/traces/table.js";
import type { TraceExits } from "../../runtime/traces/exits.js";

type Chunks = readonly (ArrayLike<number> | undefined)[];

/** An event table as the worker receives it. */
export interface WireTable {
  length: number;
  num: Record<"ts" | "cycles" | "step" | "cpu" | "vcpu", Chunks>;
  /** Reason id → its number. */
  codes: [number, number][];
  event: Chunks;
  reason: Chunks;
  thread: Chunks;
  bodyId: Chunks;
  present: Chunks;
  lo: Record<string, Chunks>;
  /** High halves as ids into hiWords. */
  hi: Record<string, Chunks>;
  hiWords: Record<string, readonly number[]>;
  names: readonly string[];
  threads: readonly { task: string; pid: number | null }[];
  bodies: readonly string[];
  /** Rows of the exits and each one's cost (NaN: none), in the table's cost unit. */
  exitRows: Uint32Array;
  costs: Float64Array;
}

export type Request =
  | { op: "register"; name: string; key: string; table: WireTable }
  | { op: "query"; sql: string }
  | { op: "copy"; name: string; path: string; format: "parquet" | "csv" | "json" }
  | { op: "exec"; sql: string };

export type Reply =
  | { ok: true; columns?: { name: string; type: string }[]; rows?: unknown[][] }
  | { ok: false; message: string };

/** The table's columns for posting (chunks are shared, not copied). */
export function wireTable(t: EventTable, exits: TraceExits): WireTable {
  const chunks = (c: { chunks: readonly (ArrayLike<number> | undefined)[] }): Chunks => c.chunks.slice();
  const lo: Record<string, Chunks> = {};
  const hi: Record<string, Chunks> = {};
  for (const c of U64_COLUMNS) {
    lo[c] = chunks(t.lo[c]);
    hi[c] = chunks(t.hi[c]);
  }
  return {
    length: t.length,
    num: { ts: chunks(t.num.ts), cycles: chunks(t.num.cycles), step: chunks(t.num.step), cpu: chunks(t.num.cpu), vcpu: chunks(t.num.vcpu) },
    codes: [...t.codes.entries()],
    event: chunks(t.event),
    reason: chunks(t.reason),
    thread: chunks(t.thread),
    bodyId: chunks(t.bodyId),
    present: chunks(t.present),
    lo,
    hi,
    hiWords: t.hiWords,
    names: t.names.strings,
    threads: t.threads,
    bodies: t.bodies,
    exitRows: exits.rows,
    costs: exits.cost(),
  };
}
