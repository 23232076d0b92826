// TSC-polling loops skipped in modelled time (runtime/x86/tsc-poll.ts): kvm-unit-tests'
// `do { pause(); } while (rdtsc() - start < N);` gives the same registers, rip and modelled time
// with the skip as pass by pass (the skip turned off), in far fewer executed instructions; loops
// of another shape are left alone.

import { describe, expect, test } from "vitest";
import { createX86Machine, type X86Machine } from "../../../runtime/x86/machine.js";
import { LONG_MODE_ENTRY, LONG_MODE_TABLES } from "../../../runtime/guests/x86_64/long-mode.js";
import { analyseTscPoll, tscCyclesToSkip } from "../../../runtime/x86/tsc-poll.js";
import { assembleX86 } from "../../../runtime/x86/isa/asm/assembler.js";

const READ = "rdtsc\n  shl $32, %rdx\n  mov %eax, %eax\n  or %rax, %rdx";
/** Start count in RCX, then wait `wait` cycles with `loop` (the body before `cmp`), leaving the last count read in RDX. */
const guest = (body: string) => `.code32\nstart:\n  mov $0x5f0000, %esp\n${LONG_MODE_ENTRY}\n  ${READ}\n  mov %rdx, %rcx\n${body}\n  hlt\n${LONG_MODE_TABLES}`;
const KUT_WAIT = `1:\n  pause\n  ${READ}\n  sub %rcx, %rdx\n  cmp $999999, %rdx\n  jbe 1b`;

function run(body: string, skip: boolean): X86Machine {
  const m = createX86Machine({ guest: { source: guest(body) }, settings: { stepLimit: 5_000_000 } });
  if (!skip) for (const v of m.vcpus) v.cpu.onRdtsc = null;
  m.run();
  return m;
}
const state = (m: X86Machine) => ({ rdx: m.readRegister("rdx"), rip: m.readRegister("rip"), time: m.clock.now(), halted: m.halted?.message });

describe("TSC-polling loops (tsc-poll.ts)", () => {
  test("apic.c's 1,000,000-cycle wait: same registers, rip and time as pass by pass, without running the passes", () => {
    const fast = run(KUT_WAIT, true), slow = run(KUT_WAIT, false);
    expect(slow.readRegister("rdx")).toBeGreaterThanOrEqual(1_000_000n);
    expect(state(fast)).toEqual(state(slow));
    expect(slow.steps).toBeGreaterThan(1_000_000);
    expect(fast.steps).toBeLessThan(1_000);
    expect(fast.clock.skipped).toBeGreaterThan(990_000);
  });
  test("a bound in a register and a strict compare (jb) also match pass by pass", () => {
    const body = `  mov $5000, %r8\n1:\n  ${READ}\n  sub %rcx, %rdx\n  cmp %r8, %rdx\n  jb 1b`;
    const fast = run(body, true), slow = run(body, false);
    expect(state(fast)).toEqual(state(slow));
    expect(fast.steps).toBeLessThan(slow.steps);
  });
  test("other shapes are not skipped: a loop that also counts, a compare the other way round", () => {
    const at = (src: string) => {
      const b = assembleX86(`.code64\n${src}`).bytes;
      const rd = src.split("\n").findIndex((l) => l.trim() === "rdtsc");
      const off = assembleX86(`.code64\n${src.split("\n").slice(0, rd).join("\n")}`).bytes.length;
      return analyseTscPoll((o) => b[off + o] ?? 0x90, "long64");
    };
    expect(at(`1:\npause\n${READ}\nsub %rcx, %rdx\ncmp $999999, %rdx\njbe 1b`)).toMatchObject({ start: 1, plus: 1n, length: 8, head: -2 });
    expect(at(`1:\ninc %r9\n${READ}\nsub %rcx, %rdx\ncmp $999999, %rdx\njbe 1b`)).toBeNull();
    expect(at(`1:\n${READ}\nsub %rcx, %rdx\ncmp $999999, %rdx\nja 1b`)).toBeNull();
  });
  test("no skip past the next event; none when the count has reached the bound", () => {
    const loop = { start: 1, bound: { imm: 999n }, plus: 1n as const, length: 8, head: 0, bytes: [] };
    expect(tscCyclesToSkip(loop, 100n, 100n, 999n, Infinity)).toBe(1000);
    expect(tscCyclesToSkip(loop, 100n, 100n, 999n, 400)).toBe(392);
    expect(tscCyclesToSkip(loop, 1100n, 100n, 999n, Infinity)).toBe(0);
  });
});
