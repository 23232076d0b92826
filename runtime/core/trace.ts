// Typed trace events and their Linux tracepoint text. Events are stored packed, one record of
// words per event laid out by its tracepoint's declared fields (trace-pages.ts); TraceEvent objects and text
// are produced only when shown, from a table of tracepoint declarations that carry the
// TP_printk format of each KVM era. Each machine owns a table of its tracepoints: the same name
// (kvm_exit, kvm_entry) prints differently on x86 and arm64, so there is no global registry.

import { printf, type PrintfArg } from "./printf.js";
import { Interner } from "./columns.js";
import { HEADER_WORDS, TracePages, putU64Words, readFields, recordLayout, type RecordLayout } from "./trace-pages.js";

export type FieldValue = bigint | number | string | boolean;
export type KvmEra = "2015" | "today";
export const KVM_ERAS: readonly KvmEra[] = ["2015", "today"];

export interface TraceEvent {
  /** Position in this VM's trace, from 0. */
  seq: number;
  /** Guest instructions retired when the event happened. */
  step: number;
  /** The event's time stamp: the VM's modelled clock in cycles when it happened (busy cycles plus time blocked in WFI/HLT; core/clock.ts). */
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

/** Records one event of a tracepoint: its fields (read with constant keys), step and cycles. */
export type TraceEmitter = (step: number, cycles: number, fields: Record<string, FieldValue>) => void;
type EmitterFactory = (pages: TracePages, kind: number, intern: (s: string) => number, putU64Words: (w: Uint32Array, o: number, v: bigint | number) => void) => TraceEmitter;

/** Factories by generated source: tracepoints with the same record layout share one (and so do TraceLogs). */
const FACTORIES = new Map<string, EmitterFactory>();

/**
 * The emitter of one tracepoint's events, generated from its record layout (trace-pages.ts): one
 * room test, then each field read with a constant key and stored at a constant offset — no loop,
 * no switch, no object. Emitters of tracepoints with the same layout are closures of one
 * generated function, so a hot emit site stays monomorphic whichever VM (or how many) it serves.
 */
function emitterFactory(layout: RecordLayout, declared: boolean): EmitterFactory {
  const size = layout.words;
  const body = declared
    ? layout.slots.map((sl) => {
        const v = `f[${JSON.stringify(sl.name)}]`;
        const o = `p + ${sl.off}`;
        switch (sl.type) {
          // A number in [0, 2^53): its halves stored here; anything else through putU64Words.
          case "u64": return `{ const v = ${v}; if (typeof v === "number" && v >= 0 && v <= 9007199254740991) { w[${o}] = v >>> 0; w[${o} + 1] = (v / 4294967296) >>> 0; } else putU64Words(w, ${o}, typeof v === "bigint" || typeof v === "number" ? v : v === undefined ? 0 : Number(v)); }`;
          case "num": return `{ const v = ${v}; d[h + ${sl.off / 2}] = v === undefined ? 0 : Number(v); }`;
          case "u32": return `{ const v = ${v}; w[${o}] = v === undefined ? 0 : Number(v); }`;
          case "bool": return `w[${o}] = ${v} ? 1 : 0;`;
          case "str": return `{ const v = ${v}; w[${o}] = intern(v === undefined ? "" : String(v)); }`;
        }
      })
    : [`w[p + ${HEADER_WORDS}] = T.refs.length; T.refs.push({ ...f });`];
  const src = `"use strict";
return function emit(step, cycles, f) {
const T = pages;
let p = T.pos;
if (p + ${size} > T.end) p = T.nextPage(${size});
T.offs[T.n++] = p;
T.pos = p + ${size};
const w = T.w, d = T.d, h = p >> 1;
w[p] = kind;
d[h + 1] = step;
d[h + 2] = cycles;
${body.join("\n")}
};`;
  let factory = FACTORIES.get(src);
  if (!factory) {
    factory = new Function("pages", "kind", "intern", "putU64Words", src) as EmitterFactory;
    FACTORIES.set(src, factory);
  }
  return factory;
}

/** A tracepoint as one trace stores it: its record layout and emitter. */
interface TraceKind {
  readonly name: string;
  readonly tp: Tracepoint | undefined;
  readonly layout: RecordLayout;
  readonly declared: boolean;
  readonly emit: TraceEmitter;
}

/**
 * One VM's trace: an append-only sequence of typed events with a size cap, packed into pages of
 * words (trace-pages.ts): each event one record of its tracepoint's layout. Nothing per event is
 * an object (except for tracepoints declared without fields).
 */
export class TraceLog {
  private readonly strings = new Interner();
  private readonly intern = (s: string): number => this.strings.id(s);
  private readonly byName = new Map<string, number>();
  private readonly kinds: TraceKind[] = [];
  private readonly pages: TracePages;
  private cache: { key: string; events: TraceEvent[] } | null = null;

  /** `tracepoints`: the machine's table, which gives the events their text and their fields. */
  constructor(readonly tracepoints: TracepointTable, options: TraceOptions = {}) {
    this.pages = new TracePages(options.capEvents ?? 1_000_000);
  }

  /** Most events kept. */
  get capEvents(): number {
    return this.pages.cap;
  }

  /** Sequence number of the oldest kept event. */
  private get first(): number {
    return this.pages.first;
  }

  /** Events kept: min(stored, capEvents). */
  private get count(): number {
    return this.pages.total - this.pages.first;
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
    return this.pages.total;
  }

  /**
   * The kept events, oldest first (at most capEvents), materialized as objects: for tests and
   * small traces. `length`, `at`, `lines` and iteration read the pages without building them all.
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
      const declared = tp?.fields !== undefined;
      const layout = recordLayout(tp?.fields);
      this.kinds.push({ name, tp, layout, declared, emit: emitterFactory(layout, declared)(this.pages, k, this.intern, putU64Words) });
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

  /** Lowers (or raises) the cap; the oldest events past it are dropped now. Dropped events do not come back. */
  setCap(capEvents: number): void {
    this.pages.setCap(capEvents);
  }

  /** Name and fields of the k-th kept event. */
  private record(k: number): TraceEvent {
    const seq = this.first + k;
    const [page, i] = this.pages.locate(seq);
    const o = page.offs[i]!;
    const t = this.kinds[page.w[o]!]!;
    const fields = readFields(page, o, t.layout, t.declared, this.strings.strings);
    return { seq, name: t.name, fields, step: page.d[(o >> 1) + 1]!, cycles: page.d[(o >> 1) + 2]! };
  }

  /** The k-th kept event (negative: from the end), as an object. */
  at(k: number): TraceEvent | undefined {
    if (k < 0) k += this.count;
    if (k < 0 || k >= this.count) return undefined;
    return this.record(k);
  }

  /** Text lines of the kept events, optionally only some tracepoints. */
  lines(era: KvmEra = "2015", names?: readonly string[]): string[] {
    const keep = names ? new Set(names.map((n) => this.byName.get(n)).filter((k) => k !== undefined)) : undefined;
    const out: string[] = [];
    const first = this.first;
    for (let k = 0, n = this.count; k < n; k++) {
      if (keep && !keep.has(this.pages.kindAt(first + k))) continue;
      out.push(formatEvent(this.record(k), era, this.tracepoints));
    }
    return out;
  }

  clear(): void {
    this.pages.clear();
    this.cache = null;
  }
}
