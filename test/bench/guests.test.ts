// The bench's guests do what their figures claim: the interrupt-on loop takes its timer ticks
// (one every X86_TIMER_PERIOD_CYCLES of modelled time) and still runs the whole loop.

import { expect, test } from "vitest";
import { X86_LOOP_INSNS, X86_TIMER_PERIOD_CYCLES, exitlabX86TimerLoop64 } from "../../bench/guests.js";
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
