// The DSL property's time bound (test/fuzz/properties.ts): it counts the CPU time of the program,
// so a loaded machine does not make a slow-but-finite program look like a hang (the 30-minute run
// of 2026-11-30, seed 1499010464, saved dsl-mutation-ea0ecef75187.json that way).

import { describe, expect, test } from "vitest";
import { programClock } from "./properties.js";

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
