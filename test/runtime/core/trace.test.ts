// Tracepoint tables are per machine: kvm_exit and kvm_entry are declared by both architectures
// with different text, and both machines live in one process (the lab, the kernel, npm start).

import { describe, expect, test } from "vitest";
import { createMachine } from "../../../runtime/index.js";
import { TraceLog, tracepointTable, type Tracepoint } from "../../../runtime/core/trace.js";

describe("tracepoint tables", () => {
  test("x86 and arm64 print their own kvm_exit in the same process", () => {
    const x86 = createMachine("x86_64");
    const arm = createMachine("arm64");
    x86.runUntilExit();
    arm.runUntilExit();
    expect(x86.trace.lines("2015", ["kvm_exit"])).toEqual(["kvm_exit: reason EPT_VIOLATION rip 0x400000 info 184 0"]);
    expect(arm.trace.lines("2015", ["kvm_exit"])).toEqual(["kvm_exit: PC: 0x40080000"]);
    // Creating another machine of the other kind changes nothing.
    createMachine("arm64");
    expect(x86.trace.lines("2015", ["kvm_exit"])).toEqual(["kvm_exit: reason EPT_VIOLATION rip 0x400000 info 184 0"]);
  });

  test("a name declared twice is refused", () => {
    const tp: Tracepoint = { name: "kvm_x", doc: "", source: "", eras: { "2015": { format: "", args: () => [] } } };
    expect(() => tracepointTable([tp], [tp])).toThrow(/kvm_x declared twice/);
  });
});

describe("TraceLog cap", () => {
  test("keeps the newest capEvents events and counts the dropped ones", () => {
    for (const cap of [3, 5000]) {
      const log = new TraceLog(tracepointTable(), { capEvents: cap });
      const n = cap * 4 + 7;
      for (let i = 0; i < n; i++) log.emit("e", i, i, { i });
      expect(log.events.length).toBe(cap);
      expect(log.dropped).toBe(n - cap);
      expect(log.events[0]!.seq).toBe(n - cap);
      expect(log.events.at(-1)!.seq).toBe(n - 1);
      log.emit("e", n, n, {});
      expect(log.events.length).toBe(cap);
      expect(log.events[0]!.seq).toBe(n - cap + 1);
    }
  });

  test("past the cap, at every count (events dropped in batches): exactly the newest cap, in order, fields intact", async () => {
    const { traceFields } = await import("../../../runtime/core/trace.js");
    const mk = (name: string): Tracepoint => ({ name, doc: "", source: "", fields: traceFields("i:u32"), eras: { "2015": { format: "%u", args: (f) => [f.i as number] } } });
    const log = new TraceLog(tracepointTable([mk("kvm_a"), mk("kvm_b")]), { capEvents: 700 });
    for (let i = 0; i < 20_000; i++) {
      log.emit(i % 3 === 0 ? "kvm_a" : "kvm_b", i, 2 * i, { i });
      const kept = Math.min(i + 1, 700);
      if (i % 997 === 0 || i > 19_990) {
        expect(log.length).toBe(kept);
        expect(log.dropped).toBe(i + 1 - kept);
        const first = log.at(0)!;
        expect([first.seq, first.fields.i, first.step, first.name]).toEqual([i + 1 - kept, i + 1 - kept, i + 1 - kept, (i + 1 - kept) % 3 === 0 ? "kvm_a" : "kvm_b"]);
        expect(log.at(-1)!.fields.i).toBe(i);
        expect(log.lines().length).toBe(kept);
      }
    }
    // A raised cap does not bring dropped events back; a lowered one drops now.
    log.setCap(5000);
    expect([log.length, log.dropped]).toEqual([700, 19_300]);
    log.setCap(10);
    expect([log.length, log.dropped, log.at(0)!.fields.i]).toEqual([10, 19_990, 19_990]);
  });

  test("clear empties the trace", () => {
    const log = new TraceLog(tracepointTable(), { capEvents: 2 });
    for (let i = 0; i < 5; i++) log.emit("e", i, i, {});
    log.clear();
    expect(log.events).toEqual([]);
    expect(log.dropped).toBe(0);
  });
});

describe("u64 trace fields", () => {
  test("read back exactly whether emitted as numbers or BigInts, at any size", async () => {
    const { traceFields } = await import("../../../runtime/core/trace.js");
    const tp: Tracepoint = { name: "kvm_t", doc: "", source: "", fields: traceFields("a:u64 b:u32"), eras: { "2015": { format: "%llx", args: (f) => [f.a as bigint] } } };
    const log = new TraceLog(tracepointTable([tp]));
    const cases: [number | bigint, bigint][] = [[0x4008_0000, 0x4008_0000n], [2 ** 40 + 3, 2n ** 40n + 3n], [0xffff_8000_0010_0000n, 0xffff_8000_0010_0000n], [-1, 2n ** 64n - 1n]];
    for (const [a] of cases) log.emit("kvm_t", 0, 0, { a, b: 7 });
    expect(log.events.map((e) => e.fields.a)).toEqual(cases.map(([, want]) => want));
    expect(log.events.map((e) => e.fields.b)).toEqual(cases.map(() => 7));
  });
});

describe("caps given as settings at creation", () => {
  test("traceCap and exitCap in createMachine's settings bound the new machine's trace and exits", () => {
    for (const arch of ["x86_64", "arm64"] as const) {
      const m = createMachine(arch, { settings: { traceCap: 5, exitCap: 3 } });
      expect([m.trace.capEvents, m.exits.cap]).toEqual([5, 3]);
      for (let i = 0; i < 6 && !m.halted; i++) m.run({ maxSteps: 1000 });
      expect(m.trace.length).toBeLessThanOrEqual(5);
      expect(m.exits.length).toBeLessThanOrEqual(3);
    }
  });
});
