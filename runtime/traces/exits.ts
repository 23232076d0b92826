// A loaded trace's exits (its kvm_exit events) as an ExitList, so `table`, `count`, `first`,
// `where`, `compare` and `chart` read a trace as they read a VM. Each exit's cost is the time to the
// next kvm_entry of the same vCPU thread (µs from timestamps; modelled cycles for exitlab's own
// trace text when it carries them), as perf kvm stat measures it.

import type { Arch, Exit } from "../core/machine.js";
import { ExitQueries, type ExitList } from "../core/exits.js";
import type { FieldValue } from "../core/trace.js";
import { decodeBits } from "../core/bitfields.js";
import { QUAL_LAYOUTS } from "../x86/exit-schema.js";
import { esrFields } from "../arm64/esr.js";
import { CHUNK, EventTable } from "./table.js";
import type { StatReport } from "./stat-report.js";

/** What an exit's cost is measured in. */
export type CostUnit = "us" | "cycles" | "none";

export class TraceExits extends ExitQueries implements ExitList {
  /** Rows of the kvm_exit events, in order. */
  readonly rows: Uint32Array;
  private costs: Float64Array | null = null;
  private readonly costUnit: CostUnit;
  readonly cap: number;

  constructor(readonly table: EventTable, readonly arch: Arch | null) {
    super();
    this.rows = table.rowsOf("kvm_exit");
    this.cap = this.rows.length;
    const first = this.rows.length ? this.rows[0]! : -1;
    this.costUnit = first < 0 ? "none" : table.numAt("ts", first) !== null ? "us" : table.numAt("cycles", first) !== null ? "cycles" : "none";
  }

  /** What each exit's cost is in: µs (timestamps), modelled cycles (exitlab's text) or nothing. */
  get unit(): CostUnit {
    return this.costUnit;
  }

  get length(): number {
    return this.rows.length;
  }
  get total(): number {
    return this.rows.length;
  }
  get dropped(): number {
    return 0;
  }

  /**
   * Each exit's time to the next kvm_entry of its thread (NaN: none followed, or no clock). One
   * pass over the columns a chunk at a time; open exits by pairing key in a typed array.
   */
  cost(): Float64Array {
    if (this.costs) return this.costs;
    const t = this.table;
    const out = new Float64Array(this.rows.length).fill(NaN);
    const entry = t.names.find("kvm_entry");
    const exit = t.names.find("kvm_exit");
    if (this.unit !== "none" && entry !== undefined && exit !== undefined) {
      const clock = (this.unit === "us" ? t.num.ts : t.num.cycles).chunks;
      const scale = this.unit === "us" ? 1e6 : 1;
      // Keys: a thread with a pid; else NTH + the CPU; else one key for all (NTH + 65535).
      const nth = t.threads.length;
      const withPid = new Uint8Array(nth);
      for (let i = 1; i < nth; i++) withPid[i] = t.threads[i]!.pid !== null ? 1 : 0;
      const open = new Int32Array(nth + 65536).fill(-1);
      const evChunks = t.event.chunks;
      const thChunks = t.thread.chunks;
      const cpuChunks = t.num.cpu.chunks;
      let k = 0;
      for (let c = 0; c * CHUNK < t.length; c++) {
        const ev = evChunks[c];
        if (!ev) continue;
        const th = thChunks[c];
        const cpu = cpuChunks[c];
        const clk = clock[c];
        const n = Math.min(CHUNK, t.length - c * CHUNK);
        for (let i = 0; i < n; i++) {
          const e = ev[i];
          if (e !== exit && e !== entry) continue;
          const tid = th ? th[i]! : 0;
          const key = tid !== 0 && withPid[tid] === 1 ? tid : cpu && cpu[i] !== 0xffff ? nth + cpu[i]! : nth + 65535;
          if (e === exit) {
            open[key] = k++;
            continue;
          }
          const x = open[key]!;
          if (x < 0) continue;
          open[key] = -1;
          const row = this.rows[x]!;
          const at = clock[row >>> 16];
          out[x] = clk && at ? (clk[i]! - at[row & (CHUNK - 1)]!) * scale : NaN;
        }
      }
    }
    return (this.costs = out);
  }

  /** The reason of the k-th exit. */
  reasonAt(k: number): string {
    return this.table.reasonName(this.rows[k]!) ?? "kvm_exit";
  }

  at(k: number): Exit | undefined {
    if (k < 0) k += this.rows.length;
    if (k < 0 || k >= this.rows.length) return undefined;
    const t = this.table;
    const row = this.rows[k]!;
    const c = this.cost()[k]!;
    const reason = this.reasonAt(k);
    const code = t.codeAt(row) ?? -1;
    return {
      index: k,
      arch: this.arch ?? "x86_64",
      step: t.numAt("step", row) ?? row,
      reason,
      code,
      pc: t.u64At("pc", row) ?? 0n,
      info: this.infoOf(row, reason, code),
      cycles: c === c ? c : 0,
    };
  }

  /** The exit's fields, decoded by the machines' own tables (x86 qualification layouts, arm64 ESR). */
  private infoOf(row: number, reason: string, code: number): Record<string, FieldValue> {
    const t = this.table;
    const info: Record<string, FieldValue> = {};
    const ts = t.numAt("ts", row);
    if (ts !== null) info.ts = ts;
    const cpu = t.numAt("cpu", row);
    if (cpu !== null) info.cpu = cpu;
    const vcpu = t.numAt("vcpu", row);
    if (vcpu !== null) info.vcpu = vcpu;
    const th = t.threadOf(row);
    if (th.pid !== null) info.pid = th.pid;
    if (th.task !== null) info.task = th.task;
    for (const c of ["info1", "info2", "intr_info", "error_code", "gpa"] as const) {
      const v = t.u64At(c, row);
      if (v !== null) info[c] = v;
    }
    if (this.arch === "x86_64" && info.info1 !== undefined) {
      info.exit_qualification = info.info1;
      const layout = QUAL_LAYOUTS[reason];
      if (layout) for (const [k, v] of Object.entries(decodeBits(layout, info.info1 as bigint))) info[`qual.${k}`] = v;
    }
    if (this.arch === "arm64" && code >= 0) {
      info["esr.ec"] = BigInt(code);
      if (info.info1 !== undefined) Object.assign(info, esrFields(info.info1 as bigint));
    }
    return info;
  }

  byIndex(n: number): Exit | undefined {
    return this.at(n);
  }
  *[Symbol.iterator](): IterableIterator<Exit> {
    for (let k = 0; k < this.rows.length; k++) yield this.at(k)!;
  }
  toArray(): Exit[] {
    return [...this];
  }
  slice(start?: number, end?: number): Exit[] {
    const out: Exit[] = [];
    const n = this.rows.length;
    const s = start === undefined ? 0 : start < 0 ? Math.max(0, n + start) : Math.min(start, n);
    const e = end === undefined ? n : end < 0 ? Math.max(0, n + end) : Math.min(end, n);
    for (let k = s; k < e; k++) out.push(this.at(k)!);
    return out;
  }

  /** Count and cost by reason, in first-seen order, from the columns (no exit objects). */
  byReason(): { reason: string; count: number; cycles: number }[] {
    const t = this.table;
    const cost = this.unit === "none" ? null : this.cost();
    const by = new Map<number, { reason: string; count: number; cycles: number }>();
    const reasons = t.reason.chunks;
    for (let k = 0; k < this.rows.length; k++) {
      const row = this.rows[k]!;
      const chunk = reasons[row >>> 16];
      const id = chunk ? chunk[row & (CHUNK - 1)]! : 0;
      let e = by.get(id);
      if (!e) by.set(id, (e = { reason: id === 0 ? "kvm_exit" : t.names.strings[id]!, count: 0, cycles: 0 }));
      e.count++;
      if (cost) {
        const c = cost[k]!;
        if (c === c) e.cycles += c;
      }
    }
    return [...by.values()];
  }

  get totalCycles(): number {
    return this.byReason().reduce((a, r) => a + r.cycles, 0);
  }
}

/**
 * A saved `perf kvm stat report` as exits: no exit of its own (nothing to iterate or filter), but
 * its samples and total time per event, so `table`, `compare` and `chart` show it beside a VM.
 */
export class ReportExits extends TraceExits {
  constructor(readonly report: StatReport) {
    super(new EventTable(), null);
  }
  override get unit(): CostUnit {
    return "us";
  }
  override get total(): number {
    return this.report.rows.reduce((a, r) => a + r.samples, 0);
  }
  override byReason(): { reason: string; count: number; cycles: number }[] {
    return this.report.rows.map((r) => ({ reason: r.event, count: r.samples, cycles: Math.round(r.samples * r.avg * 100) / 100 }));
  }
}
