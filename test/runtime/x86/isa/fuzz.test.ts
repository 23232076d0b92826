// decodeX86 on random byte strings (seeded, deterministic) in every mode: it never throws except
// what `fetch` throws, always consumes 1..15 bytes, and disassembly never throws either.

import { describe, expect, it } from "vitest";
import type { X86Mode } from "../../../../runtime/x86/env.js";
import { decodeX86, disassembleX86 } from "../../../../runtime/x86/isa/index.js";

class FetchFault extends Error {}

function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

describe("decoder robustness", () => {
  const modes: X86Mode[] = ["long64", "protected32", "compat", "real"];
  it.each(modes)("20000 random instructions in %s mode", (mode) => {
    const rand = xorshift(0xc0ffee + mode.length);
    const prefixes = [0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x3e, 0x26, 0x64, 0x65, 0x36, 0x48, 0x41, 0x4f, 0x0f];
    let undefinedCount = 0;
    for (let n = 0; n < 20000; n++) {
      const bytes = Array.from({ length: 16 }, () => (rand() % 4 === 0 ? prefixes[rand() % prefixes.length]! : rand() & 0xff));
      const insn = decodeX86((i) => bytes[i]!, mode);
      expect(insn.length).toBeGreaterThanOrEqual(1);
      expect(insn.length).toBeLessThanOrEqual(15);
      expect(Array.from(insn.bytes)).toEqual(bytes.slice(0, insn.length));
      expect(typeof disassembleX86(insn, 0x1000n)).toBe("string");
      if (insn.spec.sem === "ud") undefinedCount++;
    }
    expect(undefinedCount).toBeGreaterThan(0);
    expect(undefinedCount).toBeLessThan(20000);
  });

  it("a fault from fetch propagates unchanged, at any byte of the instruction", () => {
    const rand = xorshift(7);
    for (let n = 0; n < 2000; n++) {
      const bytes = Array.from({ length: 16 }, () => rand() & 0xff);
      const limit = rand() % 6;
      const fault = new FetchFault("page fault");
      let thrown: unknown;
      try {
        decodeX86((i) => {
          if (i >= limit) throw fault;
          return bytes[i]!;
        }, "long64");
      } catch (e) {
        thrown = e;
      }
      if (thrown !== undefined) expect(thrown).toBe(fault);
    }
  });

  it("fetch is never asked for more than 15 bytes", () => {
    let max = 0;
    decodeX86((i) => ((max = Math.max(max, i)), 0x66), "long64");
    expect(max).toBeLessThan(15);
  });
});
