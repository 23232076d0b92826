// The bench's guests do what their figures claim: the interrupt-on loops (x86 APIC timer, arm64 virtual
// timer through the GICv2) take a tick per period of modelled time and still run their whole loop.

import { expect, test } from "vitest";
import { A64_LOOP_INSNS, TIMER_PERIOD_MS, X86_CALL_LOOP_INSNS, X86_LOOP_INSNS, X86_TIMER_PERIOD_CYCLES, exitlabA64TimerLoop, exitlabX86CallLoop64, exitlabX86Loop64, exitlabX86TimerLoop64 } from "../../bench/guests.js";
import { createMachine } from "../../runtime/index.js";

test("the x86 timer loop runs its iterations and counts a tick per period of modelled time", () => {
  const n = 500_000;
  const m = createMachine("x86_64", { guest: { source: exitlabX86TimerLoop64(n) }, settings: { stepLimit: 1e9 } });
  m.run({ maxSteps: 1e9 });
  expect(m.halted?.message).toMatch(/isa-debug-exit/);
  expect(m.steps).toBeGreaterThan(n * X86_LOOP_INSNS);
  const x86 = m as unknown as { symbols: Map<string, bigint>; memory: { read(pa: number, size: number): bigint }; time: number };
  const ticks = Number(x86.memory.read(Number(x86.symbols.get("ticks")!), 4));
  const expected = Math.floor(x86.time / X86_TIMER_PERIOD_CYCLES);
  expect(ticks).toBeGreaterThan(0);
  expect(Math.abs(ticks - expected)).toBeLessThanOrEqual(1);
});

test("the A64 timer loop runs its iterations and counts a tick per period of modelled time", () => {
  const n = 500_000;
  const m = createMachine("arm64", { guest: { source: exitlabA64TimerLoop(n) }, settings: { stepLimit: 1e9 } });
  m.run({ maxSteps: 1e9 });
  expect(m.halted?.message).toMatch(/SYSTEM_OFF/);
  expect(m.steps).toBeGreaterThan(n * A64_LOOP_INSNS);
  const arm = m as unknown as { symbols: Map<string, bigint>; memory: { read(pa: number, size: number): bigint }; clock: { now(): number } };
  const ticks = Number(arm.memory.read(Number(arm.symbols.get("ticks")!), 8));
  const expected = Math.floor(arm.clock.now() / (TIMER_PERIOD_MS * 1_000_000));
  expect(ticks).toBeGreaterThan(0);
  expect(Math.abs(ticks - expected)).toBeLessThanOrEqual(1);
});

test("the x86 call loop runs the tight loop's body through CALL/RET: its iterations, the same results", () => {
  const n = 200_000;
  const run = (src: string) => {
    const m = createMachine("x86_64", { guest: { source: src }, settings: { stepLimit: 1e9 } });
    m.run({ maxSteps: 1e9 });
    expect(m.halted?.message).toMatch(/isa-debug-exit/);
    const gpr = (m as unknown as { cpu: { state: { gpr: bigint[] } } }).cpu.state.gpr;
    return { steps: m.steps, rax: gpr[0], rcx: gpr[1] };
  };
  const plain = run(exitlabX86Loop64(n));
  const call = run(exitlabX86CallLoop64(n));
  expect({ rax: call.rax, rcx: call.rcx }).toEqual({ rax: plain.rax, rcx: plain.rcx });
  expect(call.steps - n * X86_CALL_LOOP_INSNS).toBeGreaterThan(0);
  expect(call.steps - n * X86_CALL_LOOP_INSNS).toBeLessThan(100);
});
