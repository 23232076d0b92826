// Exits kept in columns. Each architecture declares an exit schema: the raw columns its hardware
// model records per exit (numbers and 64-bit values, no objects), and the fields every exit shows
// (name, width, format, which exits have it, how it is derived from the columns). The trap rules
// write the columns (ExitStore.record), KVM's handlers read the raw values, and `show exit`,
// queries (`exit.FIELD`, `count(exits where ...)`), tables and the trace loader read the fields.
// Exit objects are built only when asked for (at/byIndex/iteration); their `info` on first read.
// The store keeps the newest `cap` exits; counts and cycles by reason are kept for all of them.

import { CHUNK_MASK, Columns, Interner, getU64, setU64, type ColumnArray, type ColumnType } from "./columns.js";
import type { CostComponent } from "./cost.js";
import type { Arch, Exit, MachineView } from "./machine.js";
import type { FieldValue } from "./trace.js";

/** Read access to one stored exit's columns, for schema fields. */
export interface ExitRow {
  readonly code: number;
  readonly pc: bigint;
  /** A raw column by name: number for numeric columns, bigint for u64 ones. */
  num(col: string): number;
  big(col: string): bigint;
  ref(col: string): unknown;
  /** Presence flags (bit per optional value), as the arch schema defines them. */
  readonly flags: number;
}

/** A field of an exit as shown and queried (`exit.NAME`). */
export interface ExitField {
  name: string;
  /** Width in bits of the value (64 for addresses, 1 for flags...); 0 for strings. */
  width: number;
  /** How `show exit` writes it: hex (bigint values), dec, or a name (string). */
  format: "hex" | "dec" | "name";
  /** Whether an exit has this field (default: every exit). */
  when?: (row: ExitRow) => boolean;
  get: (row: ExitRow) => FieldValue;
  doc?: string;
}

export interface ExitSchema {
  arch: Arch;
  /** What `show exit` calls the guest pc ("pc", "rip"). */
  pcName: string;
  /** The reason's number as `show exit` writes it after the name ("EC 0x16", "10"). */
  codeText(code: number): string;
  /** Columns recorded per exit besides the common ones (step, pc, code, cycles, flags). */
  columns: readonly { name: string; type: ColumnType }[];
  reasonName(code: number): string;
  /** The fields of an exit with this code, in show order (cost parts excluded). */
  fields(code: number): readonly ExitField[];
  /** The exit's modelled cost by part, from its columns (computed when shown). */
  cost(row: ExitRow): readonly CostComponent[];
}

/** The read-only face of the exits a machine keeps: `machine.exits`. */
export interface ExitList extends Iterable<Exit> {
  /** Exits kept (the newest `cap`). */
  readonly length: number;
  /** Exits recorded in all (kept + dropped). */
  readonly total: number;
  /** Oldest exits dropped by the cap. */
  readonly dropped: number;
  readonly cap: number;
  /** The k-th kept exit (negative: from the end). */
  at(k: number): Exit | undefined;
  /** The exit whose `index` is n, if it is still kept. */
  byIndex(n: number): Exit | undefined;
  toArray(): Exit[];
  slice(start?: number, end?: number): Exit[];
  filter(f: (e: Exit) => boolean): Exit[];
  map<T>(f: (e: Exit) => T): T[];
  find(f: (e: Exit) => boolean): Exit | undefined;
  some(f: (e: Exit) => boolean): boolean;
  /** Count and modelled cycles by reason over every exit (dropped ones too), in first-seen order. */
  byReason(): { reason: string; count: number; cycles: number }[];
  /** Cycles of every exit (dropped ones too). */
  readonly totalCycles: number;
}

/** step, pc (a u64 column: written from its 32-bit halves, no BigInt per exit), code, cycles (an exit's cost fits 32 bits), flags. */
const COMMON: readonly ColumnType[] = ["f64", "u64", "u16", "u32", "u8"];
const C_STEP = 0, C_PC = 1, C_CODE = 2, C_CYCLES = 3, C_FLAGS = 4;

export const DEFAULT_EXIT_CAP = 1_000_000;


/**
 * The array-like queries of an ExitList over its iteration (exit objects built one at a time):
 * what the machines' ExitStore and a loaded trace's exits share.
 */
export abstract class ExitQueries implements Iterable<Exit> {
  abstract [Symbol.iterator](): IterableIterator<Exit>;
  filter(f: (e: Exit) => boolean): Exit[] {
    const out: Exit[] = [];
    for (const e of this) if (f(e)) out.push(e);
    return out;
  }
  map<T>(f: (e: Exit) => T): T[] {
    const out: T[] = [];
    for (const e of this) out.push(f(e));
    return out;
  }
  find(f: (e: Exit) => boolean): Exit | undefined {
    for (const e of this) if (f(e)) return e;
    return undefined;
  }
  some(f: (e: Exit) => boolean): boolean {
    return this.find(f) !== undefined;
  }
}

export class ExitStore extends ExitQueries implements ExitList {
  cap: number;
  readonly cols: Columns;
  /** Column index of each arch column by name. */
  readonly colIndex: ReadonlyMap<string, number>;
  private readonly reasons = new Interner();
  private readonly counts: number[] = [];
  private readonly cycles: number[] = [];
  private readonly seen: number[] = [];
  totalCycles = 0;
  private recChunk: unknown = null;
  private recStep = new Float64Array(0);
  private recPc = new Uint32Array(0);
  private recCode = new Uint16Array(0);
  private recCycles = new Uint32Array(0);
  private recFlags = new Uint8Array(0);

  constructor(readonly schema: ExitSchema, cap = DEFAULT_EXIT_CAP) {
    super();
    this.cap = checkCap(cap);
    this.cols = new Columns([...COMMON, ...schema.columns.map((c) => c.type)], 64);
    this.colIndex = new Map(schema.columns.map((c, j) => [c.name, COMMON.length + j]));
  }

  /** The id a `ref` column stores for `o` (Columns.refId). */
  refId(o: unknown): number {
    return this.cols.refId(o);
  }

  /** The object of a `ref` column's id (Columns.refAt; undefined: none, or no longer kept). */
  refAt(id: number): unknown {
    return this.cols.refAt(id);
  }

  get length(): number {
    return this.cols.count;
  }
  get total(): number {
    return this.cols.total;
  }
  get dropped(): number {
    return this.cols.first;
  }

  /**
   * Appends an exit and returns its index; the arch writes its columns in `chunk(index)` at
   * `index & CHUNK_MASK`.
   */
  record(step: number, pcLo: number, pcHi: number, code: number, cycles: number, flags: number): number {
    const c = this.cols;
    if (c.count >= this.cap) c.dropFront(c.count - this.cap + 1);
    const index = c.push();
    const a = c.chunk(index);
    const s = index & CHUNK_MASK;
    // The common columns of the current chunk, typed once per chunk (monomorphic stores).
    if (a !== this.recChunk) {
      this.recChunk = a;
      this.recStep = a[C_STEP] as Float64Array;
      this.recPc = a[C_PC] as Uint32Array;
      this.recCode = a[C_CODE] as Uint16Array;
      this.recCycles = a[C_CYCLES] as Uint32Array;
      this.recFlags = a[C_FLAGS] as Uint8Array;
    }
    this.recStep[s] = step;
    setU64(this.recPc, s, pcLo, pcHi);
    this.recCode[s] = code;
    this.recCycles[s] = cycles;
    this.recFlags[s] = flags;
    if (this.counts[code] === undefined) {
      this.counts[code] = 0;
      this.cycles[code] = 0;
      this.seen.push(code);
    }
    this.counts[code]!++;
    this.cycles[code]! += cycles;
    this.totalCycles += cycles;
    return index;
  }

  /** The column arrays holding a kept exit (at `index & CHUNK_MASK`). */
  chunk(index: number): ColumnArray[] {
    return this.cols.chunk(index);
  }

  has(index: number): boolean {
    return this.cols.has(index);
  }

  /** Changes an exit's cycles (KVM's handling turned out to cost more); totals follow. */
  setCycles(index: number, cycles: number): void {
    const a = this.cols.chunk(index);
    const s = index & CHUNK_MASK;
    const old = (a[C_CYCLES] as Uint32Array)[s]!;
    const code = (a[C_CODE] as Uint16Array)[s]!;
    (a[C_CYCLES] as Uint32Array)[s] = cycles;
    this.cycles[code]! += cycles - old;
    this.totalCycles += cycles - old;
  }

  setFlags(index: number, flags: number): void {
    (this.cols.chunk(index)[C_FLAGS] as Uint8Array)[index & CHUNK_MASK] = flags;
  }

  setCap(cap: number): void {
    this.cap = checkCap(cap);
    if (this.cols.count > this.cap) this.cols.dropFront(this.cols.count - this.cap);
  }

  /** Raw access to a kept exit's columns. */
  row(index: number): ExitRow {
    return new Row(this, this.cols.chunk(index), index & CHUNK_MASK);
  }

  cyclesOf(index: number): number {
    return (this.cols.chunk(index)[C_CYCLES] as Uint32Array)[index & CHUNK_MASK]!;
  }

  codeOf(index: number): number {
    return (this.cols.chunk(index)[C_CODE] as Uint16Array)[index & CHUNK_MASK]!;
  }

  stepOf(index: number): number {
    return (this.cols.chunk(index)[C_STEP] as Float64Array)[index & CHUNK_MASK]!;
  }

  pcOf(index: number): bigint {
    return getU64(this.cols.chunk(index)[C_PC]!, index & CHUNK_MASK);
  }

  reasonOf(code: number): string {
    return this.reasons.strings[this.reasons.id(this.schema.reasonName(code))]!;
  }

  /** The info record of a kept exit: its schema fields in order, then its cost parts. */
  info(index: number): Record<string, FieldValue> {
    const row = this.row(index);
    const out: Record<string, FieldValue> = {};
    for (const f of this.schema.fields(row.code)) if (!f.when || f.when(row)) out[f.name] = f.get(row);
    for (const c of this.schema.cost(row)) out[`cost.${c.key}`] = c.cycles;
    return out;
  }

  /** One field of a kept exit by name (case-insensitive), without building the whole record. */
  field(index: number, name: string): FieldValue | undefined {
    const row = this.row(index);
    const k = name.toLowerCase();
    for (const f of this.schema.fields(row.code)) if (f.name.toLowerCase() === k) return !f.when || f.when(row) ? f.get(row) : undefined;
    if (k.startsWith("cost.")) return this.schema.cost(row).find((c) => `cost.${c.key}` === k)?.cycles;
    return undefined;
  }

  byIndex(n: number): Exit | undefined {
    return this.has(n) ? new StoredExit(this, n) : undefined;
  }

  at(k: number): Exit | undefined {
    if (k < 0) k += this.cols.count;
    if (k < 0 || k >= this.cols.count) return undefined;
    return new StoredExit(this, this.cols.first + k);
  }

  *[Symbol.iterator](): IterableIterator<Exit> {
    const first = this.cols.first;
    const n = this.cols.count;
    for (let k = 0; k < n && this.has(first + k); k++) yield new StoredExit(this, first + k);
  }

  toArray(): Exit[] {
    return [...this];
  }
  slice(start?: number, end?: number): Exit[] {
    return this.toArray().slice(start, end);
  }

  byReason(): { reason: string; count: number; cycles: number }[] {
    return this.seen.map((code) => ({ reason: this.reasonOf(code), count: this.counts[code]!, cycles: this.cycles[code]! }));
  }

  clear(): void {
    this.cols.clear();
    this.counts.length = 0;
    this.cycles.length = 0;
    this.seen.length = 0;
    this.totalCycles = 0;
  }
}

function checkCap(cap: number): number {
  if (!Number.isInteger(cap) || cap < 1) throw new RangeError(`the exit cap must be a positive integer, not ${cap}`);
  return cap;
}

class Row implements ExitRow {
  constructor(private readonly store: ExitStore, private readonly a: ColumnArray[], private readonly s: number) {}
  get code(): number {
    return (this.a[C_CODE] as Uint16Array)[this.s]!;
  }
  get pc(): bigint {
    return getU64(this.a[C_PC]!, this.s);
  }
  get flags(): number {
    return (this.a[C_FLAGS] as Uint8Array)[this.s]!;
  }
  private col(name: string): ArrayLike<unknown> {
    const j = this.store.colIndex.get(name);
    if (j === undefined) throw new Error(`no exit column ${name}`);
    return this.a[j] as ArrayLike<unknown>;
  }
  num(name: string): number {
    return this.col(name)[this.s] as number;
  }
  big(name: string): bigint {
    const j = this.store.colIndex.get(name);
    if (j !== undefined && this.store.cols.types[j] === "u64") return getU64(this.a[j]!, this.s);
    return BigInt(this.col(name)[this.s] as number);
  }
  ref(name: string): unknown {
    const j = this.store.colIndex.get(name);
    const v = this.col(name)[this.s];
    return j !== undefined && this.store.cols.types[j] === "ref" ? this.store.refAt(v as number) : v;
  }
}

/**
 * An exit read from the store. The scalar fields are read when it is built; `cycles` and `info`
 * follow the store while the exit is kept (handling may add to its cost) and keep their last
 * value once the cap drops it.
 */
export class StoredExit implements Exit {
  readonly arch: Arch;
  readonly step: number;
  readonly reason: string;
  readonly code: number;
  readonly pc: bigint;
  private lastCycles: number;
  private infoCache: { cycles: number; info: Record<string, FieldValue> } | null = null;

  constructor(private readonly store: ExitStore, readonly index: number) {
    this.arch = store.schema.arch;
    this.code = store.codeOf(index);
    this.step = store.stepOf(index);
    this.pc = store.pcOf(index);
    this.reason = store.reasonOf(this.code);
    this.lastCycles = store.cyclesOf(index);
  }

  /** One field by name (case-insensitive), read from the store's columns while the exit is kept. */
  field(name: string): FieldValue | undefined {
    if (this.store.has(this.index) && !this.infoCache) return this.store.field(this.index, name);
    const k = name.toLowerCase();
    const info = this.info;
    for (const key in info) if (key.toLowerCase() === k) return info[key];
    return undefined;
  }

  get cycles(): number {
    if (this.store.has(this.index)) this.lastCycles = this.store.cyclesOf(this.index);
    return this.lastCycles;
  }

  get info(): Record<string, FieldValue> {
    const kept = this.store.has(this.index);
    const cycles = this.cycles;
    if (kept && (!this.infoCache || this.infoCache.cycles !== cycles)) this.infoCache = { cycles, info: this.store.info(this.index) };
    return this.infoCache?.info ?? {};
  }

  toJSON(): Omit<Exit, never> {
    return { index: this.index, arch: this.arch, step: this.step, reason: this.reason, code: this.code, pc: this.pc, info: this.info, cycles: this.cycles };
  }
}

const hex = (v: bigint | number) => "0x" + BigInt(v).toString(16);

/** `show exit`: the pending exit, else the last one, field by field (both machines). */
export function exitView(store: ExitStore, pending: Exit | null): MachineView {
  const e = pending ?? store.at(-1);
  if (!e) return { title: "no exit yet", columns: ["field", "value"], rows: [] };
  const rows: FieldValue[][] = [["reason", `${e.reason} (${store.schema.codeText(e.code)})`], [store.schema.pcName, hex(e.pc)], ["step", e.step], ["cycles", e.cycles]];
  for (const [k, v] of Object.entries(e.info)) rows.push([k, typeof v === "bigint" ? hex(v) : v]);
  return { title: `exit #${e.index}${pending === e ? " (pending)" : ""}`, columns: ["field", "value"], rows };
}
