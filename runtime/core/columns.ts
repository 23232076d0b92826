// Column storage for records kept in bulk (exits, trace events): one typed array per field, rows
// appended at the end and dropped from the front (a bounded window over a growing sequence), no
// object per row. Arrays grow by doubling and are compacted when the dropped front is large, so a
// window of N rows costs about N × (row width) bytes, at most twice that, and nothing for the GC to
// trace (`ref` columns excepted: they hold shared objects, e.g. decoded instructions).

export type ColumnType = "f64" | "u32" | "i32" | "u16" | "u8" | "u64" | "ref";

export type ColumnArray = Float64Array | Uint32Array | Int32Array | Uint16Array | Uint8Array | BigUint64Array | unknown[];

function alloc(type: ColumnType, n: number): ColumnArray {
  switch (type) {
    case "f64": return new Float64Array(n);
    case "u32": return new Uint32Array(n);
    case "i32": return new Int32Array(n);
    case "u16": return new Uint16Array(n);
    case "u8": return new Uint8Array(n);
    case "u64": return new BigUint64Array(n);
    case "ref": return new Array<unknown>(n).fill(undefined);
  }
}

/**
 * Rows numbered from 0 in the order they were appended; the live ones are `first .. first+count-1`.
 * `slot(row)` is where a live row sits in every column (`cols[j][slot]`). Column arrays are
 * replaced when they grow: read `cols` again after `push`.
 */
export class Columns {
  readonly types: readonly ColumnType[];
  cols: ColumnArray[];
  /** Row number of the oldest live row. */
  first = 0;
  /** Live rows. */
  count = 0;
  /** Slot of the oldest live row. */
  private start = 0;
  private capacity: number;
  private readonly refCols: number[];

  constructor(types: readonly ColumnType[], initial = 64) {
    this.types = types;
    this.refCols = types.flatMap((t, j) => (t === "ref" ? [j] : []));
    this.capacity = initial;
    this.cols = types.map((t) => alloc(t, initial));
  }

  /** Rows appended so far (live + dropped). */
  get total(): number {
    return this.first + this.count;
  }

  /** Appends a row (zeroed only if never used) and returns its slot. */
  push(): number {
    if (this.start + this.count === this.capacity) this.makeRoom();
    return this.start + this.count++;
  }

  slot(row: number): number {
    return this.start + (row - this.first);
  }

  has(row: number): boolean {
    return row >= this.first && row < this.first + this.count;
  }

  /** Drops the `n` oldest rows. */
  dropFront(n: number): void {
    n = Math.min(n, this.count);
    for (const j of this.refCols) {
      const c = this.cols[j] as unknown[];
      for (let i = 0; i < n; i++) c[this.start + i] = undefined;
    }
    this.start += n;
    this.count -= n;
    this.first += n;
    if (this.count === 0) this.start = 0;
  }

  clear(): void {
    this.first = 0;
    this.count = 0;
    this.start = 0;
    this.capacity = 64;
    this.cols = this.types.map((t) => alloc(t, 64));
  }

  private makeRoom(): void {
    // Compact when at least half the arrays hold dropped rows, else double.
    const cap = this.start * 2 >= this.capacity ? this.capacity : this.capacity * 2;
    if (cap === this.capacity) {
      for (const c of this.cols) {
        if (Array.isArray(c)) {
          for (let i = 0; i < this.count; i++) c[i] = c[this.start + i];
          for (let i = this.count; i < this.capacity; i++) c[i] = undefined;
        } else (c as Uint8Array).copyWithin(0, this.start, this.start + this.count);
      }
    } else {
      this.cols = this.cols.map((c, j) => {
        const n = alloc(this.types[j]!, cap);
        if (Array.isArray(c)) for (let i = 0; i < this.count; i++) (n as unknown[])[i] = c[this.start + i];
        else (n as Uint8Array).set((c as Uint8Array).subarray(this.start, this.start + this.count));
        return n;
      });
      this.capacity = cap;
    }
    this.start = 0;
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
