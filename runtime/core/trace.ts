// Typed trace events and their Linux tracepoint text. Events are stored as data (name + fields);
// text is produced only when shown, from a table of tracepoint declarations that carry the
// TP_printk format of each KVM era. Each machine owns a table of its tracepoints: the same name
// (kvm_exit, kvm_entry) prints differently on x86 and arm64, so there is no global registry.

import { printf, type PrintfArg } from "./printf.js";

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

export interface Tracepoint {
  name: string;
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

/** One VM's trace: an append-only list of typed events with a size cap. */
export class TraceLog {
  readonly capEvents: number;
  dropped = 0;
  private nextSeq = 0;
  /** Events, of which the first `head` are dropped but not yet removed. */
  private buffer: TraceEvent[] = [];
  private head = 0;

  /** `tracepoints`: the machine's table, which gives the events their text. */
  constructor(readonly tracepoints: TracepointTable, options: TraceOptions = {}) {
    this.capEvents = options.capEvents ?? 1_000_000;
  }

  /** The kept events, oldest first (at most capEvents). */
  get events(): readonly TraceEvent[] {
    this.compact();
    return this.buffer;
  }

  emit(name: string, step: number, cycles: number, fields: Record<string, FieldValue>): TraceEvent {
    const event: TraceEvent = { seq: this.nextSeq++, step, cycles, name, fields };
    this.buffer.push(event);
    if (this.buffer.length - this.head > this.capEvents) {
      // Drop the oldest by moving the head; removing them one at a time would cost O(cap) each.
      this.head++;
      this.dropped++;
      if (this.head >= Math.max(1024, this.capEvents >> 2)) this.compact();
    }
    return event;
  }

  private compact(): void {
    if (this.head === 0) return;
    this.buffer.splice(0, this.head);
    this.head = 0;
  }

  /** Text lines, optionally only some tracepoints. */
  lines(era: KvmEra = "2015", names?: readonly string[]): string[] {
    const keep = names ? new Set(names) : undefined;
    return this.events.filter((e) => !keep || keep.has(e.name)).map((e) => formatEvent(e, era, this.tracepoints));
  }

  clear(): void {
    this.buffer = [];
    this.head = 0;
    this.dropped = 0;
  }
}
