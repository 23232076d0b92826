// The one event model of loaded traces and of exitlab's own (adapted at query time): a table of
// typed columns, one row per tracepoint event, appended in file order. Columns are chunks of
// CHUNK rows over SharedArrayBuffers (so the SQL worker reads them without a copy), each chunk
// allocated only when a value other than the column's default is written to it: a 10 M-event
// trace whose events carry no intr_info costs nothing for that column.
//
// Columns (the field's terms; which tracepoint fills which: runtime/traces/events.ts):
//   ts          seconds, as ftrace/trace-cmd/perf print them (NaN: the line had none)
//   cycles      modelled host cycles when the event happened (exitlab's own traces; NaN otherwise)
//   step        guest instructions retired (exitlab's own traces; NaN otherwise)
//   cpu         host CPU the event was recorded on; vcpu: the vCPU id when the event names it
//   task, pid   the recording thread (the vCPU thread of QEMU/kvmtool), interned as one `thread`
//   event       tracepoint name (kvm_exit, kvm_guest_fault, or any other: a generic event)
//   reason      canonical exit-reason name (kvm_exit only); code: its number (VMX basic reason, ESR EC)
//   pc          guest rip / pc; info1: exit qualification (x86) or ESR_EL2 (hsr); info2: x86 info2 or FAR_EL2
//   intr_info, error_code   x86 (today's kvm_exit); gpa: guest-physical address (gpa, ipa, address)
//   body        the event's text after "name: " for events whose fields are not all in columns

/** Rows per chunk (64 Ki): a chunk of an f64 column is 512 KiB. */
export const CHUNK = 1 << 16;
const MASK = CHUNK - 1;

type Typed = Float64Array | Uint32Array | Uint16Array | Uint8Array;
type Kind = "f64" | "u32" | "u16" | "u8";

/** A column of numbers in lazily allocated chunks; unallocated chunks read as `dflt`. */
class NumColumn {
  readonly chunks: (Typed | undefined)[] = [];
  constructor(public kind: Kind, readonly dflt: number) {}
  private make(): Typed {
    const bytes = this.kind === "f64" ? 8 : this.kind === "u32" ? 4 : this.kind === "u16" ? 2 : 1;
    const buf = new SharedArrayBuffer(CHUNK * bytes);
    const a = this.kind === "f64" ? new Float64Array(buf) : this.kind === "u32" ? new Uint32Array(buf) : this.kind === "u16" ? new Uint16Array(buf) : new Uint8Array(buf);
    if (this.dflt !== 0) a.fill(this.dflt);
    return a;
  }
  /** The largest value the column's kind holds. */
  private max = Infinity;
  /** An id column: starts at 8 bits and widens (16, then 32) as its values grow, its chunks copied once each time. */
  static ids(): NumColumn {
    const c = new NumColumn("u8", 0);
    c.max = 0xff;
    return c;
  }
  private widen(): void {
    this.kind = this.kind === "u8" ? "u16" : "u32";
    this.max = this.kind === "u16" ? 0xffff : Infinity;
    for (let c = 0; c < this.chunks.length; c++) {
      const old = this.chunks[c];
      if (!old) continue;
      const a = this.make();
      a.set(old);
      this.chunks[c] = a;
    }
  }
  set(row: number, v: number): void {
    if (v > this.max) this.widen();
    const c = row >>> 16;
    let a = this.chunks[c];
    if (a === undefined) {
      if (v === this.dflt || (v !== v && this.dflt !== this.dflt)) return;
      while (this.chunks.length <= c) this.chunks.push(undefined);
      a = this.chunks[c] = this.make();
    }
    a[row & MASK] = v;
  }
  get(row: number): number {
    const a = this.chunks[row >>> 16];
    return a === undefined ? this.dflt : a[row & MASK]!;
  }
}

/** Names of the numeric columns, in the order SQL and exports show them. */
export const NUM_COLUMNS = ["ts", "cycles", "step", "cpu", "vcpu"] as const;
export type NumColumnName = (typeof NUM_COLUMNS)[number];
/** 64-bit hardware values: each a low and a high u32 column and a presence bit. */
export const U64_COLUMNS = ["pc", "info1", "info2", "intr_info", "error_code", "gpa"] as const;
export type U64ColumnName = (typeof U64_COLUMNS)[number];

/** Every column, in the order exports and `sql` show them. */
export const EVENT_COLUMNS = ["seq", "ts", "cycles", "step", "cpu", "vcpu", "task", "pid", "event", "reason", "code", "pc", "info1", "info2", "intr_info", "error_code", "gpa", "body"] as const;

/** No value in a u16 column (cpu, vcpu). */
export const NONE16 = 0xffff;

/** One event as readers produce it: absent fields undefined. Reused row to row by a reader. */
export interface EventRow {
  ts?: number;
  cycles?: number;
  step?: number;
  cpu?: number;
  vcpu?: number;
  task?: string;
  pid?: number;
  event: string;
  reason?: string;
  code?: number;
  pc?: bigint | number;
  info1?: bigint | number;
  info2?: bigint | number;
  intr_info?: bigint | number;
  error_code?: bigint | number;
  gpa?: bigint | number;
  body?: string;
}

/** An event read back from the table: absent fields null. */
export interface EventRecord {
  seq: number;
  ts: number | null;
  cycles: number | null;
  step: number | null;
  cpu: number | null;
  vcpu: number | null;
  task: string | null;
  pid: number | null;
  event: string;
  reason: string | null;
  code: number | null;
  pc: bigint | null;
  info1: bigint | null;
  info2: bigint | null;
  intr_info: bigint | null;
  error_code: bigint | null;
  gpa: bigint | null;
  body: string | null;
}

/**
 * A string that holds no reference to the text it was cut from: a reader's substrings point into
 * its 1 MiB read buffers, and keeping one would keep the whole buffer alive.
 */
function copy(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, "utf8").toString("utf8");
}

/** Strings by id (id 0 is "no string"). */
export class StringPool {
  readonly strings: string[] = [""];
  private readonly ids = new Map<string, number>([["", 0]]);
  id(s: string): number {
    let i = this.ids.get(s);
    if (i === undefined) {
      s = copy(s);
      i = this.strings.length;
      this.strings.push(s);
      this.ids.set(s, i);
    }
    return i;
  }
  /** The id of a string already interned, or undefined. */
  find(s: string): number | undefined {
    return this.ids.get(s);
  }
}

/**
 * The events of one trace in typed columns. Append with `push(row)`; read with `get*` by row
 * (0-based, file order) or `record(row)`. Strings (event, reason, threads, bodies) are interned.
 */
export class EventTable {
  length = 0;
  readonly names = new StringPool();
  /** Threads by id: task name and pid (id 0: none). */
  readonly threads: { task: string; pid: number | null }[] = [{ task: "", pid: null }];
  private readonly threadIds = new Map<string, number>();
  readonly num: Record<NumColumnName, NumColumn> = {
    ts: new NumColumn("f64", NaN),
    cycles: new NumColumn("f64", NaN),
    step: new NumColumn("f64", NaN),
    cpu: new NumColumn("u16", NONE16),
    vcpu: new NumColumn("u16", NONE16),
  };
  /** Each reason's number (VMX basic reason, ESR EC), by reason id: a name has one number. */
  readonly codes = new Map<number, number>();
  /** Interned ids (8 bits, wider when there are more): event name, reason name, thread, body. */
  readonly event = NumColumn.ids();
  readonly reason = NumColumn.ids();
  readonly thread = NumColumn.ids();
  readonly bodyId = NumColumn.ids();
  /** Bodies by id, interned (a trace repeats the same texts: "pio_write at 0x3f8 size 1 count 1"). */
  readonly bodies: string[] = [""];
  private readonly bodyIds = new Map<string, number>();
  readonly lo: Record<U64ColumnName, NumColumn>;
  /** High halves as ids into `hiWords` (a trace has few: 0, 0xffffffff for kernel addresses, ...). */
  readonly hi: Record<U64ColumnName, NumColumn>;
  readonly hiWords: Record<U64ColumnName, number[]>;
  private readonly hiIds: Record<U64ColumnName, Map<number, number>>;
  /** Bit k set: U64_COLUMNS[k] has a value in this row. */
  readonly present = new NumColumn("u8", 0);

  constructor() {
    const lo = {} as Record<U64ColumnName, NumColumn>;
    const hi = {} as Record<U64ColumnName, NumColumn>;
    const words = {} as Record<U64ColumnName, number[]>;
    const ids = {} as Record<U64ColumnName, Map<number, number>>;
    for (const c of U64_COLUMNS) {
      lo[c] = new NumColumn("u32", 0);
      hi[c] = NumColumn.ids();
      words[c] = [0];
      ids[c] = new Map([[0, 0]]);
    }
    this.lo = lo;
    this.hi = hi;
    this.hiWords = words;
    this.hiIds = ids;
  }

  private lastTask: string | undefined = undefined;
  private lastPid: number | undefined = undefined;
  private lastThread = 0;

  private threadId(task: string, pid: number | undefined): number {
    if (task === this.lastTask && pid === this.lastPid) return this.lastThread;
    const key = `${task}\0${pid ?? ""}`;
    let id = this.threadIds.get(key);
    if (id === undefined) {
      id = this.threads.length;
      this.threads.push({ task: copy(task), pid: pid ?? null });
      this.threadIds.set(key, id);
    }
    this.lastTask = task;
    this.lastPid = pid;
    this.lastThread = id;
    return id;
  }

  /** Appends one event; returns its row. Event names past 65,535 distinct ones are an error. */
  push(r: EventRow): number {
    const row = this.length++;
    const n = this.num;
    if (r.ts !== undefined) n.ts.set(row, r.ts);
    if (r.cycles !== undefined) n.cycles.set(row, r.cycles);
    if (r.step !== undefined) n.step.set(row, r.step);
    if (r.cpu !== undefined) n.cpu.set(row, r.cpu);
    if (r.vcpu !== undefined) n.vcpu.set(row, r.vcpu);
    if (r.task !== undefined || r.pid !== undefined) this.thread.set(row, this.threadId(r.task ?? "", r.pid));
    this.event.set(row, this.small(r.event));
    if (r.reason !== undefined) this.setReason(row, r.reason, r.code);
    if (r.body !== undefined) {
      let id = this.bodyIds.get(r.body);
      if (id === undefined) {
        const b = copy(r.body);
        id = this.bodies.length;
        this.bodies.push(b);
        this.bodyIds.set(b, id);
      }
      this.bodyId.set(row, id);
    }
    let bits = 0;
    for (let k = 0; k < U64_COLUMNS.length; k++) {
      const c = U64_COLUMNS[k]!;
      const v = r[c];
      if (v === undefined) continue;
      bits |= 1 << k;
      let hiWord: number;
      if (typeof v === "number" && v >= 0 && v <= Number.MAX_SAFE_INTEGER) {
        this.lo[c].set(row, v >>> 0);
        hiWord = (v / 4294967296) >>> 0;
      } else {
        const b = BigInt.asUintN(64, BigInt(v));
        this.lo[c].set(row, Number(b & 0xffff_ffffn));
        hiWord = Number(b >> 32n);
      }
      if (hiWord !== 0) {
        let id = this.hiIds[c].get(hiWord);
        if (id === undefined) {
          id = this.hiWords[c].length;
          this.hiWords[c].push(hiWord);
          this.hiIds[c].set(hiWord, id);
        }
        this.hi[c].set(row, id);
      }
    }
    this.present.set(row, bits);
    return row;
  }

  /** Sets (or resolves later) a row's reason and its number. */
  setReason(row: number, reason: string, code?: number): void {
    const id = this.small(reason);
    this.reason.set(row, id);
    if (code !== undefined && !this.codes.has(id)) this.codes.set(id, code);
  }

  private small(s: string): number {
    const id = this.names.id(s);
    if (id > 0xfffe) throw new Error(`more than 65,534 distinct event and reason names`);
    return id;
  }

  eventName(row: number): string {
    return this.names.strings[this.event.get(row)]!;
  }
  /** The canonical exit reason of a kvm_exit row, or null. */
  reasonName(row: number): string | null {
    const id = this.reason.get(row);
    return id === 0 ? null : this.names.strings[id]!;
  }
  /** A number column, null where absent. */
  numAt(col: NumColumnName, row: number): number | null {
    const v = this.num[col].get(row);
    return v !== v || ((col === "cpu" || col === "vcpu") && v === NONE16) ? null : v;
  }
  /** The number of a row's reason, null when it has none (an arm64 IRQ exit, an unknown name). */
  codeAt(row: number): number | null {
    return this.codes.get(this.reason.get(row)) ?? null;
  }
  has(col: U64ColumnName, row: number): boolean {
    return (this.present.get(row) & (1 << U64_COLUMNS.indexOf(col))) !== 0;
  }
  /** A 64-bit column as a bigint, null where absent. */
  u64At(col: U64ColumnName, row: number): bigint | null {
    if (!this.has(col, row)) return null;
    return (BigInt(this.hiWords[col][this.hi[col].get(row)]!) << 32n) | BigInt(this.lo[col].get(row));
  }
  /** A 64-bit column as a number (exact below 2^53), NaN where absent. */
  u64Number(col: U64ColumnName, row: number): number {
    if (!this.has(col, row)) return NaN;
    return this.hiWords[col][this.hi[col].get(row)]! * 4294967296 + this.lo[col].get(row);
  }
  body(row: number): string | null {
    const id = this.bodyId.get(row);
    return id === 0 ? null : this.bodies[id]!;
  }
  /** The recording thread of a row: task and pid, null when the line named none. */
  threadOf(row: number): { task: string | null; pid: number | null } {
    const id = this.thread.get(row);
    if (id === 0) return { task: null, pid: null };
    const t = this.threads[id]!;
    return { task: t.task === "" ? null : t.task, pid: t.pid };
  }

  /** One row as an object (for tests, `exits[i]` and small exports). */
  record(row: number): EventRecord {
    const th = this.threadOf(row);
    return {
      seq: row,
      ts: this.numAt("ts", row),
      cycles: this.numAt("cycles", row),
      step: this.numAt("step", row),
      cpu: this.numAt("cpu", row),
      vcpu: this.numAt("vcpu", row),
      task: th.task,
      pid: th.pid,
      event: this.eventName(row),
      reason: this.reasonName(row),
      code: this.codeAt(row),
      pc: this.u64At("pc", row),
      info1: this.u64At("info1", row),
      info2: this.u64At("info2", row),
      intr_info: this.u64At("intr_info", row),
      error_code: this.u64At("error_code", row),
      gpa: this.u64At("gpa", row),
      body: this.body(row),
    };
  }

  /** Rows of one event name, in order (an empty array when the trace has none). */
  rowsOf(event: string): Uint32Array {
    const id = this.names.find(event);
    if (id === undefined) return new Uint32Array(0);
    let out = new Uint32Array(1024);
    let k = 0;
    const chunks = this.event.chunks;
    for (let c = 0; c * CHUNK < this.length; c++) {
      const a = chunks[c];
      if (!a) continue;
      const n = Math.min(CHUNK, this.length - c * CHUNK);
      for (let i = 0; i < n; i++) {
        if (a[i] !== id) continue;
        if (k === out.length) {
          const grown = new Uint32Array(out.length * 2);
          grown.set(out);
          out = grown;
        }
        out[k++] = c * CHUNK + i;
      }
    }
    return out.slice(0, k);
  }
}
