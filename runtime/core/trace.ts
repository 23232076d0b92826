// Typed trace events and their Linux tracepoint text. Events are stored in columns (one typed
// array per field of each tracepoint, declared with the tracepoint); TraceEvent objects and text
// are produced only when shown, from a table of tracepoint declarations that carry the
// TP_printk format of each KVM era. Each machine owns a table of its tracepoints: the same name
// (kvm_exit, kvm_entry) prints differently on x86 and arm64, so there is no global registry.

import { printf, type PrintfArg } from "./printf.js";
import { CHUNK_MASK, CHUNK_ROWS, Columns, Interner, getU64, putU64, type ColumnArray, type ColumnType } from "./columns.js";

export type FieldValue = bigint | number | string | boolean;
export type KvmEra = "2015" | "today";
export const KVM_ERAS: readonly KvmEra[] = ["2015", "today"];

export interface TraceEvent {
  /** Position in this VM's trace, from 0. */
  seq: number;
  /** Guest instructions retired when the event happened. */
  step: number;
  /** Modelled host cycles elapsed when the event happened (cost model). */
  cycles: number;
  /** Tracepoint name, e.g. "kvm_exit", "kvm_guest_fault". */
  name: string;
  fields: Record<string, FieldValue>;
}

export interface TracepointFormat {
  /** TP_printk format string of that era (C printf syntax). */
  format: string;
  /** Produces the printf arguments from the event's fields. */
  args: (fields: Record<string, FieldValue>) => PrintfArg[];
}

/**
 * A field of a tracepoint's record (TP_STRUCT__entry): `u64` values are kept and read back as
 * bigint, `u32` (32-bit fields: 4 bytes) and `num` (exact to 2^53) as number, `bool` as boolean,
 * `str` as an interned string.
 */
export type TraceFieldType = "u64" | "u32" | "num" | "bool" | "str";
export interface TraceField {
  name: string;
  type: TraceFieldType;
}

/** Field declarations from "name:type" words: `traceFields("vcpu_pc:u64 esr_ec:num")`. */
export function traceFields(spec: string): readonly TraceField[] {
  return spec.split(/\s+/).filter(Boolean).map((w) => {
    const [name, type] = w.split(":") as [string, TraceFieldType];
    if (!["u64", "u32", "num", "bool", "str"].includes(type)) throw new Error(`trace field ${w}: type must be u64, u32, num, bool or str`);
    return { name, type };
  });
}

export interface Tracepoint {
  name: string;
  /** The record's fields; events of a tracepoint without them are kept as objects (slow path). */
  fields?: readonly TraceField[];
  /** What the event means, for `help` and the kernel's inspect. */
  doc: string;
  /** Source of the format, e.g. "arch/arm/kvm/trace.h (v4.1)". */
  source: string;
  /** Format per era; "today" falls back to "2015" when absent. */
  eras: { "2015": TracepointFormat; today?: TracepointFormat };
}

/** An architecture's tracepoints by name. */
export type TracepointTable = ReadonlyMap<string, Tracepoint>;

/** One table from lists of declarations; a name declared twice is a bug in the tables. */
export function tracepointTable(...lists: readonly (readonly Tracepoint[])[]): TracepointTable {
  const table = new Map<string, Tracepoint>();
  for (const p of lists.flat()) {
    if (table.has(p.name)) throw new Error(`tracepoint ${p.name} declared twice`);
    table.set(p.name, p);
  }
  return table;
}

/** "name: text" as trace-cmd/ftrace print it; events without a declaration print their fields. */
export function formatEvent(event: TraceEvent, era: KvmEra, table: TracepointTable): string {
  const tp = table.get(event.name);
  if (!tp) {
    const body = Object.entries(event.fields)
      .map(([k, v]) => `${k}=${typeof v === "bigint" ? "0x" + v.toString(16) : String(v)}`)
      .join(" ");
    return `${event.name}: ${body}`;
  }
  const fmt = (era === "today" ? tp.eras.today : undefined) ?? tp.eras["2015"];
  return `${event.name}: ${printf(fmt.format, fmt.args(event.fields))}`;
}

export interface TraceOptions {
  /** Most events kept; past it the oldest are dropped and counted (default 1,000,000). */
  capEvents?: number;
}

// A u64 field is a u64 column (columns.ts: stored as 32-bit halves): emit sites pass numbers
// (exact below 2^53) or BigInts, and storing a non-negative number makes no BigInt.
const COLUMN_OF: Record<TraceFieldType, ColumnType> = { u64: "u64", u32: "u32", num: "f64", bool: "u8", str: "u32" };

/** Records one event of a tracepoint: its fields (read with constant keys), step and cycles. */
export type TraceEmitter = (step: number, cycles: number, fields: Record<string, FieldValue>) => void;
type EmitterFactory = (log: TraceLog, rows: Columns, kind: number, intern: (s: string) => number, putU64: (col: ColumnArray, s: number, v: bigint | number) => void) => TraceEmitter;

/** Factories by generated source: tracepoints with the same fields share one (and so do TraceLogs). */
const FACTORIES = new Map<string, EmitterFactory>();

/**
 * The emitter of one tracepoint's events, generated from its declaration: each field read with a
 * constant key and stored in its column, no loop, no switch. Emitters of tracepoints with the same
 * fields are closures of one generated function, so a hot emit site that calls its own emitter
 * stays monomorphic whichever VM (or how many) it serves.
 */
function emitterFactory(fields: readonly TraceField[]): EmitterFactory {
  const body = fields.map((f, j) => {
    const v = `f[${JSON.stringify(f.name)}]`;
    switch (f.type) {
      // A number in [0, 2^53): its halves stored here; anything else through putU64.
      case "u64": return `{ const v = ${v}; if (typeof v === "number" && v >= 0 && v <= 9007199254740991) { const a = cols[${j}]; a[2 * at] = v >>> 0; a[2 * at + 1] = (v / 4294967296) >>> 0; } else putU64(cols[${j}], at, typeof v === "bigint" || typeof v === "number" ? v : v === undefined ? 0 : Number(v)); }`;
      case "num": case "u32": return `{ const v = ${v}; cols[${j}][at] = v === undefined ? 0 : Number(v); }`;
      case "bool": return `cols[${j}][at] = ${v} ? 1 : 0;`;
      case "str": return `{ const v = ${v}; cols[${j}][at] = intern(v === undefined ? "" : String(v)); }`;
    }
  });
  const src = `"use strict";\nreturn function emit(step, cycles, f) {\nlog.makeRoom();\nconst row = rows.push();\nconst cols = rows.chunk(row);\nconst at = row & ${CHUNK_MASK};\n${body.join("\n")}\nlog.pushEvent(kind, row, step, cycles);\n};`;
  let factory = FACTORIES.get(src);
  if (!factory) {
    factory = new Function("log", "rows", "kind", "intern", "putU64", src) as EmitterFactory;
    FACTORIES.set(src, factory);
  }
  return factory;
}

/** Events stored past the cap before they are dropped in one pass (at most the cap itself). */
const DROP_SLACK = 4096;

/** The rows of one tracepoint's events (a column per declared field) and its emitter. */
class TracepointRows {
  readonly rows: Columns;
  readonly emit: TraceEmitter;
  constructor(log: TraceLog, kind: number, intern: (s: string) => number, readonly tp: Tracepoint | undefined, readonly fields: readonly TraceField[]) {
    const rows = (this.rows = new Columns(tp?.fields ? fields.map((f) => COLUMN_OF[f.type]) : ["ref"], 16));
    // Without declared fields (slow path): the fields object itself, copied.
    this.emit = tp?.fields
      ? emitterFactory(fields)(log, rows, kind, intern, putU64)
      : (step, cycles, f) => {
          log.makeRoom();
          const row = rows.push();
          (rows.chunk(row)[0] as unknown[])[row & CHUNK_MASK] = { ...f };
          log.pushEvent(kind, row, step, cycles);
        };
  }
}

/**
 * One VM's trace: an append-only sequence of typed events with a size cap. Each event is a row of
 * the event columns (tracepoint, its row in that tracepoint's columns, step, cycles); the fields
 * live in the tracepoint's own columns. Nothing per event is an object.
 */
export class TraceLog {
  capEvents: number;
  private readonly strings = new Interner();
  private readonly intern = (s: string): number => this.strings.id(s);
  private readonly byName = new Map<string, number>();
  private readonly kinds: TracepointRows[] = [];
  /** Event columns: kind, row in the kind's columns, step, cycles. */
  private readonly ev = new Columns(["u16", "u32", "f64", "f64"], 256);
  private cache: { key: string; events: TraceEvent[] } | null = null;

  /** `tracepoints`: the machine's table, which gives the events their text and their fields. */
  constructor(readonly tracepoints: TracepointTable, options: TraceOptions = {}) {
    this.capEvents = options.capEvents ?? 1_000_000;
  }

  // Past the cap, the oldest events are dropped in batches of up to `slack` (one pass per batch,
  // not per event); until then the ones before `first` are stored but not kept: every reader
  // goes through first/count, so exactly the newest capEvents events are seen.

  /** Row of the oldest kept event in the event columns. */
  private get first(): number {
    return this.ev.first + this.ev.count - this.count;
  }

  /** Events kept: min(stored, capEvents). */
  private get count(): number {
    return Math.min(this.ev.count, this.capEvents);
  }

  /** Events dropped by the cap so far (the oldest ones). */
  get dropped(): number {
    return this.first;
  }

  /** Events kept (at most capEvents). */
  get length(): number {
    return this.count;
  }

  /** Events emitted in all (kept + dropped). */
  get total(): number {
    return this.ev.total;
  }

  /**
   * The kept events, oldest first (at most capEvents), materialized as objects: for tests and
   * small traces. `length`, `at`, `lines` and iteration read the columns without building them all.
   */
  get events(): readonly TraceEvent[] {
    const key = `${this.first}:${this.count}`;
    if (this.cache?.key !== key) this.cache = { key, events: [...this] };
    return this.cache.events;
  }

  *[Symbol.iterator](): IterableIterator<TraceEvent> {
    for (let k = 0; k < this.count; k++) yield this.at(k)!;
  }

  private kindOf(name: string): number {
    let k = this.byName.get(name);
    if (k === undefined) {
      const tp = this.tracepoints.get(name);
      k = this.kinds.length;
      this.kinds.push(new TracepointRows(this, k, this.intern, tp, tp?.fields ?? []));
      this.byName.set(name, k);
    }
    return k;
  }

  /** The number of a tracepoint's events, for emitKind (hot emit sites resolve it once). */
  kindId(name: string): number {
    return this.kindOf(name);
  }

  emit(name: string, step: number, cycles: number, fields: Record<string, FieldValue>): void {
    this.emitKind(this.kindOf(name), step, cycles, fields);
  }

  /** emit() with the tracepoint given by kindId(name). */
  emitKind(kind: number, step: number, cycles: number, fields: Record<string, FieldValue>): void {
    this.kinds[kind]!.emit(step, cycles, fields);
  }

  /**
   * The emitter of a tracepoint (by kindId): emitKind without the lookup, for hot emit sites
   * that keep it (each site then calls one function).
   */
  emitterOf(kind: number): TraceEmitter {
    return this.kinds[kind]!.emit;
  }

  /** Before an event is stored (emitters call it): past the cap plus the slack, drop the stored events no longer kept. */
  makeRoom(): void {
    if (this.ev.count >= this.capEvents + Math.min(this.capEvents, DROP_SLACK)) this.dropOldest(this.ev.count - this.capEvents);
  }

  /** The event row of an event whose fields are stored at `row` of tracepoint `kind`'s columns (emitters call it). */
  pushEvent(kind: number, row: number, step: number, cycles: number): void {
    const ev = this.ev;
    const e = ev.push();
    const c = ev.chunk(e);
    const s = e & CHUNK_MASK;
    // The event columns of the current chunk, typed once per chunk (monomorphic stores).
    if (c !== this.evChunk) {
      this.evChunk = c;
      this.evKind = c[0] as Uint16Array;
      this.evRow = c[1] as Uint32Array;
      this.evStep = c[2] as Float64Array;
      this.evCycles = c[3] as Float64Array;
    }
    this.evKind[s] = kind;
    this.evRow[s] = row;
    this.evStep[s] = step;
    this.evCycles[s] = cycles;
  }
  private evChunk: unknown = null;
  private evKind = new Uint16Array(0);
  private evRow = new Uint32Array(0);
  private evStep = new Float64Array(0);
  private evCycles = new Float64Array(0);

  /** Removes the `n` oldest stored events from the columns (theirs and their rows in their tracepoint's). */
  private dropOldest(n: number): void {
    const ev = this.ev;
    const perKind = new Array<number>(this.kinds.length).fill(0);
    for (let e = ev.first, end = ev.first + n; e < end; ) {
      // A chunk at a time: its kind column once.
      const kinds = ev.chunk(e)[0] as Uint16Array;
      const stop = Math.min(end, e - (e & CHUNK_MASK) + CHUNK_ROWS);
      for (; e < stop; e++) perKind[kinds[e & CHUNK_MASK]!]!++;
    }
    for (let k = 0; k < perKind.length; k++) if (perKind[k] !== 0) this.kinds[k]!.rows.dropFront(perKind[k]!);
    ev.dropFront(n);
  }

  /** Lowers (or raises) the cap; the oldest events past it are dropped now. */
  setCap(capEvents: number): void {
    // Stored events past the old cap were already dropped: they do not come back.
    if (this.ev.count > this.capEvents) this.dropOldest(this.ev.count - this.capEvents);
    this.capEvents = capEvents;
    if (this.ev.count > capEvents) this.dropOldest(this.ev.count - capEvents);
  }

  /** Name and fields of the k-th kept event. */
  private record(k: number): { name: string; fields: Record<string, FieldValue>; step: number; cycles: number; seq: number } {
    const ev = this.ev;
    const e = this.first + k;
    const c = ev.chunk(e);
    const s = e & CHUNK_MASK;
    const t = this.kinds[(c[0] as Uint16Array)[s]!]!;
    const rows = t.rows;
    const row = (c[1] as Uint32Array)[s]!;
    const rc = rows.chunk(row);
    const r = row & CHUNK_MASK;
    let fields: Record<string, FieldValue>;
    if (t.tp?.fields) {
      fields = {};
      const decl = t.fields;
      for (let j = 0; j < decl.length; j++) {
        const f = decl[j]!;
        const v = rc[j]![r] as number;
        fields[f.name] = f.type === "bool" ? v === 1 : f.type === "str" ? this.strings.strings[v]! : f.type === "u64" ? getU64(rc[j]!, r) : v;
      }
    } else fields = { ...(rc[0] as Record<string, FieldValue>[])[r]! };
    const name = t.tp?.name ?? [...this.byName.entries()].find(([, i]) => this.kinds[i] === t)![0];
    return { seq: e, name, fields, step: (c[2] as Float64Array)[s]!, cycles: (c[3] as Float64Array)[s]! };
  }

  /** The k-th kept event (negative: from the end), as an object. */
  at(k: number): TraceEvent | undefined {
    if (k < 0) k += this.count;
    if (k < 0 || k >= this.count) return undefined;
    const r = this.record(k);
    return { seq: r.seq, step: r.step, cycles: r.cycles, name: r.name, fields: r.fields };
  }

  /** Text lines of the kept events, optionally only some tracepoints. */
  lines(era: KvmEra = "2015", names?: readonly string[]): string[] {
    const keep = names ? new Set(names.map((n) => this.byName.get(n)).filter((k) => k !== undefined)) : undefined;
    const out: string[] = [];
    const ev = this.ev;
    const first = this.first;
    for (let k = 0, n = this.count; k < n; k++) {
      const e = first + k;
      if (keep && !keep.has((ev.chunk(e)[0] as Uint16Array)[e & CHUNK_MASK]!)) continue;
      const r = this.record(k);
      out.push(formatEvent(r as TraceEvent, era, this.tracepoints));
    }
    return out;
  }

  clear(): void {
    this.ev.clear();
    for (const t of this.kinds) t.rows.clear();
    this.cache = null;
  }
}
