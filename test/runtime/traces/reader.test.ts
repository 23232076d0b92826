// The trace readers on hand-written fixtures: each format (raw ftrace, trace-cmd report, perf
// script) × both architectures × both eras loads into the same columns, with the expected exits,
// reasons and times; a malformed file reports its bad lines by number; exitlab's own traces of
// both eras and architectures read back into the same columns as the VM's adapted trace.

import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readTraceFile, readTraceText } from "../../../runtime/traces/reader.js";
import { TraceExits } from "../../../runtime/traces/exits.js";
import { adaptTrace } from "../../../runtime/traces/adapt.js";
import { statRows } from "../../../runtime/traces/stat-report.js";
import { createMachine } from "../../../runtime/index.js";
import { X86_TRACEPOINTS } from "../../../runtime/x86/tracepoints.js";
import { ARM64_TRACEPOINTS } from "../../../runtime/arm64/tracepoints.js";
import { formatEvent, tracepointTable, type FieldValue } from "../../../runtime/core/trace.js";

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** Per arch and era: the exits' reasons with their µs to the next entry of the same thread. */
const EXPECTED: Record<string, { arch: string; events: number; exits: [string, number][] }> = {
  "x86-2015": { arch: "x86_64", events: 15, exits: [["EPT_VIOLATION", 5], ["HLT", 300], ["CR_ACCESS", 2], ["IO_INSTRUCTION", 10], ["EPT_VIOLATION", 3]] },
  "x86-today": { arch: "x86_64", events: 15, exits: [["EPT_VIOLATION", 5], ["HLT", 300], ["CR_ACCESS", 2], ["IO_INSTRUCTION", 10], ["PENDING_INTERRUPT", 3]] },
  "arm64-2015": { arch: "arm64", events: 15, exits: [["IABT_LOW", 10], ["DABT_LOW", 4], ["SYS64", 2], ["UNRESOLVED", 1], ["HVC64", 3]] },
  "arm64-today": { arch: "arm64", events: 16, exits: [["IABT_LOW", 10], ["DABT_LOW", 4], ["SYS64", 2], ["IRQ", 1], ["WFx", 3]] },
};
const FORMATS: [string, string][] = [["ftrace", "ftrace"], ["trace-cmd", "trace-cmd report"], ["perf-script", "perf script"]];

describe("fixtures: each format × architecture × era", () => {
  for (const [prefix, format] of FORMATS) {
    for (const [key, want] of Object.entries(EXPECTED)) {
      it(`${prefix}-${key}`, () => {
        const r = readTraceFile(fixture(`${prefix}-${key}.txt`));
        expect(r.malformedCount, JSON.stringify(r.malformed)).toBe(0);
        expect(r.formats).toContain(format);
        expect(r.arch).toBe(want.arch);
        expect(r.table.length).toBe(want.events);
        const exits = new TraceExits(r.table, r.arch);
        expect(exits.unit).toBe("us");
        const cost = exits.cost();
        const got = [...Array(exits.length).keys()].map((k) => [exits.reasonAt(k), Math.round(cost[k]! * 1000) / 1000]);
        expect(got).toEqual(want.exits);
        // Prefix columns: the first event's time, cpu and thread.
        const first = r.table.record(0);
        expect(first.ts).toBeCloseTo(want.arch === "x86_64" ? 100.0001 : 200.0001, 9);
        expect(first.cpu).toBe(1);
        expect(first.pid).toBe(want.arch === "x86_64" ? 4242 : 5151);
        expect(first.event).toBe("kvm_exit");
        expect(first.task).toMatch(/^(?:qemu-system-\w+|CPU 0\/KVM)$/);
        // Other events are kept as generic events, with their text.
        const last = r.table.record(r.table.length - 1);
        expect(last.event).toMatch(/^(?:sched_switch|kvm_set_irq)$/);
        expect(last.body).toMatch(/prev_comm=|gsi 33/);
      });
    }
  }

  it("x86 exit columns: reason number, rip, qualification, vCPU (today), decoded fields", () => {
    const r = readTraceFile(fixture("ftrace-x86-today.txt"));
    const e = r.table.record(r.table.rowsOf("kvm_exit")[3]!);
    expect(e).toMatchObject({ reason: "IO_INSTRUCTION", code: 30, pc: 0x4001c0n, info1: 0x3f80008n, info2: 0n, intr_info: 0n, error_code: 0n, vcpu: 0 });
    const exit = new TraceExits(r.table, r.arch).at(3)!;
    expect(exit.info["qual.port"]).toBe(0x3f8);
    const fault = r.table.record(1);
    expect(fault).toMatchObject({ event: "kvm_page_fault", gpa: 0x40015en, error_code: 0x184n, pc: 0x40015en });
  });

  it("arm64 2015: the exception class comes from the hsr of the guest fault that follows", () => {
    const r = readTraceFile(fixture("trace-cmd-arm64-2015.txt"));
    const rows = r.table.rowsOf("kvm_exit");
    expect(r.table.record(rows[1]!)).toMatchObject({ reason: "DABT_LOW", code: 0x24, pc: 0x4008001cn });
    const fault = r.table.record(rows[1]! + 1);
    expect(fault).toMatchObject({ event: "kvm_guest_fault", gpa: 0x400af000n, info1: 0x92000047n, info2: 0x400affe0n });
    const exit = new TraceExits(r.table, r.arch).at(0)!;
    expect(exit.info["esr.ec"]).toBe(0x20n);
  });

  it("arm64 today: IRQ exits count as IRQ, not as the stale UNKNOWN class", () => {
    const r = readTraceText("kvm_exit: IRQ: HSR_EC: 0x0000 (UNKNOWN), PC: 0x0000000040081000\nkvm_exit: TRAP: ESR_EC: 0x0016 (HVC64), PC: 0x0000000040081004\n");
    expect([0, 1].map((i) => r.table.reasonName(i))).toEqual(["IRQ", "HVC64"]);
    expect(r.table.codeAt(0)).toBeNull();
  });

  it("reason names are case-folded to one spelling; today's renames and hex numbers too", () => {
    const r = readTraceText(["reason io_instruction rip 0x1 info 0 0", "reason IO_INSTRUCTION rip 0x1 info 0 0", "reason Io_Instruction rip 0x1 info 0 0", "vcpu 0 reason INTERRUPT_WINDOW rip 0x1 info1 0x0 info2 0x0 intr_info 0x00000000 error_code 0x00000000", "reason 0x5 rip 0x1 info 0 0"].map((b) => `kvm_exit: ${b}`).join("\n"));
    expect([0, 1, 2, 3, 4].map((i) => r.table.reasonName(i))).toEqual(["IO_INSTRUCTION", "IO_INSTRUCTION", "IO_INSTRUCTION", "PENDING_INTERRUPT", "IO_SMI"]);
    expect(r.table.codeAt(3)).toBe(7);
  });

  it("a malformed file: each bad line reported with its line number and counted, the rest loaded", () => {
    const r = readTraceFile(fixture("malformed-x86.txt"), "malformed-x86.txt");
    expect(r.malformedCount).toBe(3);
    expect(r.malformed.map((m) => [m.line, m.column])).toEqual([[7, 1], [8, 54], [12, 1]]);
    expect(r.malformed[0]!.message).toMatch(/^malformed-x86\.txt line 7, column 1: not a trace line: expected/);
    expect(r.malformed[1]!.message).toMatch(/line 8, column 54: `kvm_exit`: expected its text as .*got "reason CR_ACCESS rip 0x4001"/);
    expect(r.lost).toBe(7);
    expect(r.table.length).toBe(4);
    expect(new TraceExits(r.table, r.arch).byReason()).toEqual([
      { reason: "EPT_VIOLATION", count: 1, cycles: 5 },
      { reason: "CR_ACCESS", count: 1, cycles: 2 },
    ].map((x) => ({ ...x, cycles: expect.closeTo(x.cycles, 6) })));
  });

  it("a saved perf kvm stat report loads as its table", () => {
    const r = readTraceFile(fixture("perf-kvm-stat-x86.txt"));
    expect(r.report?.rows.map((x) => [x.event, x.samples, x.avg, x.stddevPct])).toEqual([["EPT_VIOLATION", 4785, 4.68, 8.69], ["IO_INSTRUCTION", 3109, 26.61, 2.97], ["HLT", 2210, 57.02, 22.18], ["CR_ACCESS", 1435, 0.94, 2.11]]);
    expect(r.report?.totalSamples).toBe(11539);
    expect(r.malformedCount).toBe(0);
  });
});

describe("stat rows as perf kvm stat computes them", () => {
  it("samples, percentages, min/max/avg and the mean's relative standard error", () => {
    const rows = statRows(["A", "B", "A", "A"], [1, 10, 2, 3]);
    expect(rows[0]).toMatchObject({ event: "A", samples: 3, samplesPct: 75, min: 1, max: 3, avg: 2 });
    expect(rows[0]!.timePct).toBeCloseTo(37.5, 9);
    // stddev of the mean: sqrt(var / n) = sqrt(1 / 3); relative to the mean 2: 28.87 %.
    expect(rows[0]!.stddevPct).toBeCloseTo((100 * Math.sqrt(1 / 3)) / 2, 9);
    expect(rows[1]).toMatchObject({ event: "B", samples: 1, stddevPct: 0 });
  });
});

describe("exitlab's own traces round-trip through save trace text", () => {
  for (const arch of ["x86_64", "arm64"] as const) {
    for (const era of ["2015", "today"] as const) {
      it(`${arch} ${era}: every event reads back into the columns of the VM's adapted trace`, () => {
        const m = createMachine(arch, { settings: { era } });
        m.run({ maxSteps: 1_000_000 });
        expect(m.settings.era).toBe(era);
        expect(m.exits.length).toBeGreaterThan(30);
        const own = adaptTrace(m.trace, era, arch);
        const saved = m.trace.lines(era).join("\n") + "\n";
        const back = readTraceText(saved, "saved");
        expect(back.malformedCount, JSON.stringify(back.malformed.slice(0, 3))).toBe(0);
        expect(back.table.length).toBe(m.trace.length);
        expect(back.arch).toBe(arch);
        const strip = (r: ReturnType<typeof own.table.record>) => ({ ...r, cycles: null, step: null });
        for (let i = 0; i < back.table.length; i++) expect(back.table.record(i)).toEqual(strip(own.table.record(i)));
        // The loaded exits are the VM's, reason by reason.
        const exits = new TraceExits(back.table, arch);
        const reasons = [...Array(exits.length).keys()].map((k) => exits.reasonAt(k));
        const vm = m.exits.map((e) => e.reason);
        if (arch === "arm64" && era === "2015") expect(reasons.filter((r, i) => r !== vm[i])).toEqual([]);
        else expect(reasons).toEqual(vm);
      });
    }
  }
});

describe("every tracepoint exitlab prints, in both eras, reads back", () => {
  const tables = { x86_64: X86_TRACEPOINTS, arm64: ARM64_TRACEPOINTS } as const;
  for (const [arch, tps] of Object.entries(tables) as [keyof typeof tables, typeof X86_TRACEPOINTS][]) {
    for (const era of ["2015", "today"] as const) {
      it(`${arch} ${era}: no line is malformed; pc, reason and addresses land in their columns`, () => {
        const table = tracepointTable(tps);
        const lines: string[] = [];
        for (const tp of tps) {
          const fields: Record<string, FieldValue> = {};
          (tp.fields ?? []).forEach((f, j) => {
            fields[f.name] = f.type === "u64" ? 0x40081000n + BigInt(j) * 0x10n : f.type === "u32" ? 1 : f.type === "num" ? 1 : f.type === "bool" ? true : "TCR_EL1";
          });
          if (arch === "x86_64") Object.assign(fields, { exit_reason: 28, guest_rip: 0x400196n, info1: 0x4n, rip: 0x400196n });
          else Object.assign(fields, { esr_ec: 0x24, hsr: 0x92000047n, vcpu_pc: 0x4008001cn, ipa: 0x400af000n, type: 2 }); // kvm_exit type 2: ARM_EXCEPTION_TRAP
          lines.push(formatEvent({ seq: 0, step: 0, cycles: 0, name: tp.name, fields }, era, table));
        }
        const r = readTraceText(lines.join("\n"), "all");
        expect(r.malformed.map((m) => m.message)).toEqual([]);
        expect(r.table.length).toBe(tps.length);
        expect([...Array(r.table.length).keys()].map((i) => r.table.eventName(i))).toEqual(tps.map((t) => t.name));
        const exit = r.table.record(r.table.rowsOf("kvm_exit")[0]!);
        if (arch === "x86_64") expect(exit).toMatchObject({ reason: "CR_ACCESS", code: 28, pc: 0x400196n, info1: 0x4n });
        else {
          expect(exit).toMatchObject({ reason: "DABT_LOW", code: 0x24, pc: 0x4008001cn });
          expect(r.table.record(r.table.rowsOf("kvm_guest_fault")[0]!)).toMatchObject({ gpa: 0x400af000n, info1: 0x92000047n, pc: 0x4008001cn });
        }
      });
    }
  }
});

describe("the event table's compact columns", () => {
  it("64-bit values keep their high halves; id columns widen past 255 and 65,535 distinct values", () => {
    const lines = ["kvm_exit: reason HLT rip 0xffffffff81001234 info 0 0", "kvm_exit: reason HLT rip 0x7fff00001000 info ffffffffffffffff 0"];
    for (let i = 0; i < 300; i++) lines.push(`event_${i}: text ${i}`);
    const r = readTraceText(lines.join("\n"));
    expect(r.table.u64At("pc", 0)).toBe(0xffffffff81001234n);
    expect(r.table.u64At("pc", 1)).toBe(0x7fff00001000n);
    expect(r.table.u64At("info1", 1)).toBe(0xffffffffffffffffn);
    expect(r.table.eventName(2 + 299)).toBe("event_299");
    expect(r.table.body(2 + 299)).toBe("text 299");
    expect(r.table.eventName(2)).toBe("event_0");
    const many = Array.from({ length: 70_000 }, (_, i) => `t-${i} [000] 1.000000: kvm_entry: vcpu 0`).join("\n");
    const t = readTraceText(many).table;
    expect(t.threadOf(69_999)).toEqual({ task: "t", pid: 69_999 });
    expect(t.threadOf(3)).toEqual({ task: "t", pid: 3 });
  });
});
