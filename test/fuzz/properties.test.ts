// The fuzz properties' own rules (test/fuzz/properties.ts), as the 30-minute run of 2026-11-30
// (seed 1499010464) found them wanting: the DSL property's time bound counts the program's CPU
// time, so a loaded machine does not make a slow-but-finite program look like a hang
// (dsl-mutation-ea0ecef75187.json); the x86 round trip takes a segment register load's operand
// size as GNU as does, which writes no 66h on 8E (x86-cd9f8063a0e6.json).

import { describe, expect, test } from "vitest";
import { checkX86, programClock } from "./properties.js";

describe("the fuzzers' program clock", () => {
  test("time this process spends off the CPU (another process's turn) does not count", () => {
    const t0 = programClock();
    // Blocked for 400 ms without running, as when other processes hold both cores.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 400);
    expect(programClock() - t0).toBeLessThan(100);
  });

  test("time this process spends computing counts", () => {
    const t0 = programClock();
    const wall = Date.now();
    let x = 0;
    // Compute until the clock has moved 50 ms (however long the machine's load makes that take).
    while (programClock() - t0 < 50 && Date.now() - wall < 20_000) x++;
    expect(x).toBeGreaterThan(0);
    expect(programClock() - t0).toBeGreaterThanOrEqual(50);
  });
});

describe("the x86 round trip of a segment register load", () => {
  // objdump prints 66 8E C0 as `mov %eax,%es` in 16-bit code and `mov %ax,%es` in 32/64-bit code;
  // GNU as (and exitlab's assembler) encode either text as 8E C0, which prints the other name.
  test.each([
    [[0x66, 0x8e, 0xc0], 16],
    [[0x66, 0x8e, 0xc0], 32],
    [[0x66, 0x8e, 0xc0], 64],
    [[0x66, 0x41, 0x8e, 0xc0], 64],
    [[0x48, 0x8e, 0xd8], 64],
  ] as const)("%j in %i-bit code holds", (bytes, bits) => {
    expect(() => checkX86({ bytes: [...bytes], bits })).not.toThrow();
  });

  test("a segment register store keeps its operand size (66 8C C0 in 16-bit code: mov %es,%eax)", () => {
    expect(() => checkX86({ bytes: [0x66, 0x8c, 0xc0], bits: 16 })).not.toThrow();
  });
});
