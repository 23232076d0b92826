// Column storage for records kept in bulk (exits, trace events): one typed array per field, rows
// appended at the end and dropped from the front (a bounded window over a growing sequence), no
// object per row. The arrays are chunks of CHUNK_ROWS rows: appending never copies what is stored,
// a chunk whose rows are all dropped is reused for new rows, so a window of N rows costs about
// N × (row width) bytes plus a chunk, and the same-sized chunks do not fragment the process's heap.
// No column holds objects: a `ref` column stores ids into the store's own table of the objects
// rows refer to (shared ones, e.g. decoded instructions), so writing a row is number stores only,
// with no pointer store and its GC write barrier.

import { join64, split64 } from "./bits.js";

export type ColumnType = "f64" | "u32" | "i32" | "u16" | "u8" | "u64" | "ref";

export type ColumnArray = Float64Array | Uint32Array | Int32Array | Uint16Array | Uint8Array;

const CHUNK_SHIFT = 14;
/** Objects a `ref` table holds before it starts a new epoch, and epochs before ids repeat (ids stay below 2^32). */
const REF_TABLE_ROWS = 1 << 16;
const REF_EPOCHS = 1 << 15;
/** Rows per chunk. */
export const CHUNK_ROWS = 1 << CHUNK_SHIFT;
/** `row & CHUNK_MASK` is a row's offset in its chunk's arrays. */
export const CHUNK_MASK = CHUNK_ROWS - 1;

function alloc(type: ColumnType, n: number): ColumnArray {
  switch (type) {
    case "f64": return new Float64Array(n);
    case "u32": return new Uint32Array(n);
    case "i32": return new Int32Array(n);
    case "u16": return new Uint16Array(n);
    case "u8": return new Uint8Array(n);
    case "u64": return new Uint32Array(2 * n); // low and high halves at 2s, 2s + 1: see setU64/getU64
    case "ref": return new Uint32Array(n); // ids: Columns.refId/refAt
  }
}

const BYTES: Record<ColumnType, number> = { f64: 8, u64: 8, u32: 4, i32: 4, u16: 2, u8: 1, ref: 4 };

/**
 * The column arrays of one chunk of `rows` rows, every typed one a view of a single buffer (one
 * allocation a chunk, not one a column: fewer large external allocations for the GC to account).
 */
function allocChunk(types: readonly ColumnType[], rows: number): ColumnArray[] {
  const order = types.map((_t, j) => j).sort((a, b) => BYTES[types[b]!] - BYTES[types[a]!]); // widest first: each view aligned
  let bytes = 0;
  for (const j of order) bytes += BYTES[types[j]!] * rows;
  const buf = new ArrayBuffer(bytes);
  const out: ColumnArray[] = new Array(types.length);
  let at = 0;
  for (const j of order) {
    const t = types[j]!;
    switch (t) {
      case "f64": out[j] = new Float64Array(buf, at, rows); break;
      case "u64": out[j] = new Uint32Array(buf, at, 2 * rows); break;
      case "u32": out[j] = new Uint32Array(buf, at, rows); break;
      case "i32": out[j] = new Int32Array(buf, at, rows); break;
      case "u16": out[j] = new Uint16Array(buf, at, rows); break;
      case "u8": out[j] = new Uint8Array(buf, at, rows); break;
      case "ref": out[j] = new Uint32Array(buf, at, rows); break;
    }
    at += BYTES[t] * rows;
  }
  return out;
}

/** Store row `s` of a u64 column from its 32-bit halves (no BigInt). */
export function setU64(col: ColumnArray, s: number, lo: number, hi: number): void {
  const a = col as Uint32Array;
  a[2 * s] = lo;
  a[2 * s + 1] = hi;
}

/** Store row `s` of a u64 column from a BigInt or an integer number (negative ones wrap modulo 2^64, as BigUint64Array did). */
export function putU64(col: ColumnArray, s: number, v: bigint | number): void {
  if (typeof v === "number" && v >= 0) setU64(col, s, v >>> 0, (v / 4294967296) >>> 0);
  // A BigInt below 2^53 (most exit qualifications): exact as a number, no BigInt arithmetic.
  else if (typeof v === "bigint" && v >= 0n && v <= 0x1f_ffff_ffff_ffffn) {
    const n = Number(v);
    setU64(col, s, n >>> 0, (n / 4294967296) >>> 0);
  }
  else {
    const [lo, hi] = split64(typeof v === "bigint" ? v : BigInt(Math.trunc(v)));
    setU64(col, s, lo, hi);
  }
}

/** Row `s` of a u64 column. */
export function getU64(col: ColumnArray, s: number): bigint {
  const a = col as Uint32Array;
  return join64(a[2 * s]!, a[2 * s + 1]!);
}

/**
 * Rows numbered from 0 in the order they were appended; the live ones are `first .. first+count-1`.
 * `chunk(row)[j][row & CHUNK_MASK]` is column j of a live row. The first chunk starts small and
 * grows (small machines stay small); later ones are allocated whole.
 */
export class Columns {
  readonly types: readonly ColumnType[];
  /** Row number of the oldest live row. */
  first = 0;
  /** Live rows. */
  count = 0;
  /** Chunks from the one holding row `base * CHUNK_ROWS`. */
  private chunks: ColumnArray[][] = [];
  private base = 0;
  private spare: ColumnArray[] | null = null;
  /** Column 0 is u64 (two numbers a row): chunk capacity is half its length. */
  private readonly firstIsU64: boolean;

  constructor(types: readonly ColumnType[], private readonly initial = 64) {
    this.types = types.length ? types : ["u8"]; // a row needs a column to live in
    this.firstIsU64 = this.types[0] === "u64";
  }

  /** Rows appended so far (live + dropped). */
  get total(): number {
    return this.first + this.count;
  }

  /** Appends a row (write every column: a reused chunk holds old values) and returns its number. */
  push(): number {
    const row = this.first + this.count;
    if (row >= this.end) this.makeRoom(row);
    this.count++;
    return row;
  }

  /**
   * Rows below this number have room in the last chunk (0 before the first): push's one test.
   * Dropping never moves it past a live row's chunk; makeRoom and clear recompute it.
   */
  private end = 0;

  private makeRoom(row: number): void {
    const ci = (row >>> CHUNK_SHIFT) - this.base;
    if (ci === this.chunks.length) this.chunks.push(this.newChunk(this.chunks.length === 0 && this.base === 0 ? this.initial : CHUNK_ROWS));
    else if ((row & CHUNK_MASK) >= this.rowsIn(this.chunks[ci]!)) this.growChunk(ci);
    this.end = row - (row & CHUNK_MASK) + this.rowsIn(this.chunks[ci]!);
  }

  /** The column arrays of the chunk holding a live row (index them with `row & CHUNK_MASK`). */
  chunk(row: number): ColumnArray[] {
    return this.chunks[(row >>> CHUNK_SHIFT) - this.base]!;
  }

  has(row: number): boolean {
    return row >= this.first && row < this.first + this.count;
  }

  /** Drops the `n` oldest rows. */
  dropFront(n: number): void {
    n = Math.min(n, this.count);
    this.first += n;
    this.count -= n;
    while (this.base < this.first >>> CHUNK_SHIFT) {
      const c = this.chunks.shift()!;
      if (this.rowsIn(c) === CHUNK_ROWS) this.spare = c;
      this.base++;
    }
  }

  clear(): void {
    this.end = 0;
    this.first = 0;
    this.count = 0;
    this.base = 0;
    this.chunks = [];
    this.spare = null;
    this.refTable = [];
    this.refPrev = [];
    this.refIds = new Map();
    this.refEpoch = 0;
    this.lastRef = undefined;
    this.lastRefId = 0;
  }

  /**
   * The objects `ref` columns refer to, by id: ids are epoch × REF_TABLE_ROWS + index + 1 (0:
   * none). The table holds at most REF_TABLE_ROWS objects; when full it starts again (a new epoch)
   * and keeps the previous one, so only rows two epochs old lose their object.
   */
  private refTable: unknown[] = [];
  private refPrev: unknown[] = [];
  private refIds = new Map<unknown, number>();
  private refEpoch = 0;
  private lastRef: unknown = undefined;
  private lastRefId = 0;

  /** The id a `ref` column stores for `o` (0 for undefined/null); the same object gets the same id within an epoch. */
  refId(o: unknown): number {
    if (o === this.lastRef) return this.lastRefId;
    if (o === undefined || o === null) return 0;
    let id = this.refIds.get(o);
    if (id === undefined) {
      if (this.refTable.length === REF_TABLE_ROWS) {
        this.refPrev = this.refTable;
        this.refTable = [];
        this.refIds = new Map();
        this.refEpoch = (this.refEpoch + 1) % REF_EPOCHS;
      }
      this.refTable.push(o);
      id = this.refEpoch * REF_TABLE_ROWS + this.refTable.length;
      this.refIds.set(o, id);
    }
    this.lastRef = o;
    this.lastRefId = id;
    return id;
  }

  /** The object of a `ref` column's id (undefined: none, or no longer kept). */
  refAt(id: number): unknown {
    if (id === 0) return undefined;
    const epoch = Math.floor((id - 1) / REF_TABLE_ROWS);
    const i = (id - 1) % REF_TABLE_ROWS;
    if (epoch === this.refEpoch) return this.refTable[i];
    if (epoch === (this.refEpoch + REF_EPOCHS - 1) % REF_EPOCHS) return this.refPrev[i];
    return undefined;
  }

  private newChunk(rows: number): ColumnArray[] {
    if (rows === CHUNK_ROWS && this.spare) {
      const c = this.spare;
      this.spare = null;
      return c;
    }
    return allocChunk(this.types, rows);
  }

  /** Rows a chunk has room for (a u64 column holds two numbers a row). */
  private rowsIn(chunk: ColumnArray[]): number {
    const n = (chunk[0] as ArrayLike<unknown>).length;
    return this.firstIsU64 ? n / 2 : n;
  }

  private growChunk(ci: number): void {
    const old = this.chunks[ci]!;
    const rows = Math.min(CHUNK_ROWS, this.rowsIn(old) * 2);
    this.chunks[ci] = old.map((c, j) => {
      const n = alloc(this.types[j]!, rows);
      (n as Uint8Array).set(c as Uint8Array);
      return n;
    });
  }
}

/** Strings to small numbers and back (reason names, tracepoint names, string fields). */
export class Interner {
  private readonly ids = new Map<string, number>();
  readonly strings: string[] = [];

  id(s: string): number {
    let i = this.ids.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.ids.set(s, i);
    }
    return i;
  }
}
