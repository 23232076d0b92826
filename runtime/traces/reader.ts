// Streaming readers of trace text into the event table: raw ftrace (`/sys/kernel/tracing/trace`,
// with its `# tracer:` header, with or without the irq-flags column and the tgid column), `trace-cmd
// report` (its `version =`/`cpus=N` header, `CPU n is empty`), `perf script` of `kvm:*` events, and
// exitlab's own `save trace` text (`name: body`, no prefix). Every line is one of: a header or
// note (skipped, lost-event notes counted), an event (its prefix gives ts/cpu/task/pid, its body is
// read by the event table in runtime/traces/events.ts), or malformed — reported with its line
// number and counted; a malformed line never stops the load.

import type { Arch } from "../core/machine.js";
import { forEachLine, forEachLineOf } from "./lines.js";
import { ARM_EXIT_TYPES, EVENT_SPEC, UNRESOLVED, armReason, canonicalX86Reason, hexValue, type EventSpec } from "./events.js";
import { EventTable, type EventRow } from "./table.js";
import { parseStatReportLine, type StatReport } from "./stat-report.js";

/** The kinds of text a reader recognises, as the load reports them. */
export type TraceFormat = "ftrace" | "trace-cmd report" | "perf script" | "exitlab" | "perf kvm stat report";

export interface Malformed {
  line: number;
  column: number;
  message: string;
}

export interface ReadResult {
  table: EventTable;
  /** The architecture the events' formats tell (x86 and arm kvm_exit texts differ), null if none does. */
  arch: Arch | null;
  /** Formats seen, in order of first appearance. */
  formats: TraceFormat[];
  /** Malformed lines (the first MAX_REPORTED); `malformedCount` counts all. */
  malformed: Malformed[];
  malformedCount: number;
  /** Events the kernel said it lost (`[LOST n EVENTS]`, ftrace/trace-cmd). */
  lost: number;
  lines: number;
  /** A `perf kvm stat report` table, when the file is one. */
  report: StatReport | null;
}

/** Malformed lines kept with their message (all are counted). */
export const MAX_REPORTED = 100;

// TASK-PID [(TGID)] [CPU] [FLAGS] TS: EVENT: BODY — ftrace and trace-cmd report (task names may
// hold spaces and dashes: QEMU names its vCPU threads "CPU 0/KVM").
const FTRACE = /^\s*(.+?)-(\d+)\s+(?:\(\s*(?:\d+|-+)\)\s+)?\[(\d+)\]\s+(?:[.a-zA-Z0-9]{4,5}\s+)?(\d+\.\d+):\s+(\w+):\s*(.*)$/;
// TASK PID[/TID] [CPU] TS: [PERIOD] SYSTEM:EVENT: BODY — perf script.
const PERF = /^\s*(.+?)\s+(\d+)(?:\/(\d+))?\s+\[(\d+)\]\s+(\d+\.\d+):\s+(?:\d+\s+)?(\w+):(\w+):\s*(.*)$/;
// EVENT: BODY — exitlab's save trace.
const BARE = /^(\w+):\s(.*)$/;
const LOST = /(?:^|\s)(?:CPU:?\s*\d+\s+)?\[LOST (\d+) EVENTS\]/;
const TRACE_CMD_HEADER = /^(?:cpus=\d+|version = \d+|CPU \d+ is empty|CPU\s*\d+ data recorded at offset=0x[0-9a-fA-F]+|\s+\d+ bytes in size|trace-cmd: .*)\s*$/;

const PREFIX_EXPECTED = "expected `TASK-PID [CPU] TIMESTAMP: EVENT: ...` (ftrace, trace-cmd report), `TASK PID [CPU] TIMESTAMP: kvm:EVENT: ...` (perf script) or `EVENT: ...` (exitlab's save trace)";

/** Reads a trace file (streaming, any size); see readTraceText for text in memory. */
export function readTraceFile(path: string, file = path): ReadResult {
  const r = new TraceReader(file);
  forEachLine(path, (l, n) => r.line(l, n));
  return r.finish();
}

/** Reads trace text (tests, small inputs); `file` names it in messages. */
export function readTraceText(text: string, file = "<text>"): ReadResult {
  const r = new TraceReader(file);
  forEachLineOf(text, (l, n) => r.line(l, n));
  return r.finish();
}

/** The reader's state across lines (feed it with `line`, end with `finish`): the table, the arch once known, exits waiting for their reason. */
export class TraceReader {
  readonly table = new EventTable();
  readonly formats: TraceFormat[] = [];
  readonly malformed: Malformed[] = [];
  malformedCount = 0;
  lost = 0;
  lines = 0;
  report: StatReport | null = null;
  /** arm64 v4.1: the kvm_exit row of each thread whose reason a later event gives. */
  private readonly pending = new Map<string, number>();
  private readonly row: EventRow = { event: "" };
  /** Printed x86 reason → canonical (a trace repeats a few names millions of times). */
  private readonly reasons = new Map<string, { reason: string; code?: number }>();

  /** `arch`: the trace's architecture when known beforehand (a VM's own trace). */
  constructor(readonly file: string, public arch: Arch | null = null) {}

  private bad(line: number, column: number, message: string): void {
    this.malformedCount++;
    if (this.malformed.length < MAX_REPORTED) this.malformed.push({ line, column, message: `${this.file} line ${line}, column ${column}: ${message}` });
  }

  private saw(f: TraceFormat): void {
    if (!this.formats.includes(f)) this.formats.push(f);
  }

  line(text: string, n: number): void {
    this.lines = n;
    if (this.report) {
      const bad = parseStatReportLine(this.report, text);
      if (bad) this.bad(n, 1, bad);
      return;
    }
    const row = this.row;
    row.ts = row.cpu = row.pid = row.vcpu = row.code = undefined;
    row.task = row.reason = row.body = undefined;
    row.pc = row.info1 = row.info2 = row.intr_info = row.error_code = row.gpa = undefined;
    let body: string;
    let bodyAt: number;
    let m = FTRACE.exec(text);
    if (m) {
      if (!this.formats.includes("ftrace") && !this.formats.includes("trace-cmd report")) this.saw("ftrace");
      row.task = m[1]!;
      row.pid = Number(m[2]);
      row.cpu = Number(m[3]);
      row.ts = Number(m[4]);
      row.event = m[5]!;
      body = m[6]!;
    } else if ((m = PERF.exec(text))) {
      this.saw("perf script");
      row.task = m[1]!;
      row.pid = Number(m[3] ?? m[2]);
      row.cpu = Number(m[4]);
      row.ts = Number(m[5]);
      row.event = m[7]!;
      body = m[8]!;
    } else if ((m = BARE.exec(text))) {
      this.saw("exitlab");
      row.event = m[1]!;
      body = m[2]!;
    } else {
      this.other(text, n);
      return;
    }
    bodyAt = text.length - body.length + 1;
    body = body.trimEnd();
    const spec = EVENT_SPEC.get(row.event);
    if (!spec) {
      row.body = body;
      this.table.push(row);
      return;
    }
    if (!this.readBody(spec, body, row)) {
      this.bad(n, bodyAt, `\`${row.event}\`: expected its text as ${spec.source}; got ${JSON.stringify(body.length > 60 ? body.slice(0, 60) + "…" : body)}`);
      return;
    }
    if (spec.keepBody) row.body = body;
    this.place(spec, row);
  }

  /** A line that is no event: a header or note (skipped, lost events counted), else malformed. */
  private other(text: string, n: number): void {
    const t = text.trimStart();
    if (t === "") return;
    if (t.startsWith("#")) {
      if (/^#\s*tracer:/.test(t)) this.saw("ftrace");
      return;
    }
    const lost = LOST.exec(text);
    if (lost) {
      this.lost += Number(lost[1]);
      return;
    }
    if (TRACE_CMD_HEADER.test(text)) {
      this.saw("trace-cmd report");
      return;
    }
    if (/^\s*Analyze events for /.test(text) || /^\s*VM-EXIT\s+Samples\s+Samples%/.test(text)) {
      this.saw("perf kvm stat report");
      this.report = { rows: [], totalSamples: null, totalTimeUs: null, title: t };
      return;
    }
    this.bad(n, 1, `not a trace line: ${PREFIX_EXPECTED}; got ${JSON.stringify(text.length > 60 ? text.slice(0, 60) + "…" : text)}`);
  }

  /** Fills `row` from the event's body; false when no pattern of the event matches. */
  private readBody(spec: EventSpec, body: string, row: EventRow): boolean {
    for (const p of spec.patterns) {
      if (p.arch && this.arch && p.arch !== this.arch) continue;
      const m = p.re.exec(body);
      if (!m) continue;
      if (p.arch && !this.arch && (spec.event === "kvm_exit" || spec.event === "kvm_entry" || spec.event === "kvm_guest_fault")) this.arch = p.arch;
      const g = m.groups ?? {};
      if (g.vcpu !== undefined) row.vcpu = Number(g.vcpu);
      for (const k of ["pc", "info1", "info2", "intr_info", "error_code", "gpa"] as const) {
        const text = g[k];
        if (text !== undefined) row[k] = hexValue(text);
      }
      if (spec.event === "kvm_exit") {
        if (g.reason !== undefined) {
          let c = this.reasons.get(g.reason);
          if (!c) this.reasons.set(g.reason, (c = canonicalX86Reason(g.reason)));
          row.reason = c.reason;
          row.code = c.code;
        } else if (g.type !== undefined) {
          const type = g.type.toUpperCase();
          if (type === "TRAP") {
            const ec = Number(hexValue(g.ec!));
            row.reason = armReason(ec);
            row.code = ec;
          } else row.reason = (ARM_EXIT_TYPES as readonly string[]).includes(type) ? type : type;
        }
      }
      return true;
    }
    return false;
  }

  /** The thread an exit is paired by: the pid (a vCPU thread), else the vCPU, else the CPU. */
  private key(row: EventRow): string {
    return row.pid !== undefined ? `p${row.pid}` : row.vcpu !== undefined ? `v${row.vcpu}` : row.cpu !== undefined ? `c${row.cpu}` : "";
  }

  /** Appends the event; arm64 v4.1 exits get their class from the events that follow them. */
  private place(spec: EventSpec, row: EventRow): void {
    const at = this.table.push(row);
    if (this.arch !== "arm64") return;
    const key = this.key(row);
    if (spec.event === "kvm_exit") {
      if (row.reason === undefined) this.pending.set(key, at);
      return;
    }
    if (spec.event === "kvm_entry") {
      this.settle(key);
      return;
    }
    const exitRow = this.pending.get(key);
    if (exitRow === undefined || spec.resolvesEc === undefined) return;
    const ec = spec.resolvesEc === "hsr" ? Number((BigInt(row.info1 ?? 0) >> 26n) & 0x3fn) : spec.resolvesEc;
    this.table.setReason(exitRow, armReason(ec), ec);
    this.pending.delete(key);
  }

  /** An exit left without a reason when its thread re-entered the guest (or the trace ended). */
  private settle(key: string): void {
    const exitRow = this.pending.get(key);
    if (exitRow === undefined) return;
    this.table.setReason(exitRow, UNRESOLVED);
    this.pending.delete(key);
  }

  finish(): ReadResult {
    for (const key of [...this.pending.keys()]) this.settle(key);
    return { table: this.table, arch: this.arch, formats: this.formats, malformed: this.malformed, malformedCount: this.malformedCount, lost: this.lost, lines: this.lines, report: this.report };
  }
}
