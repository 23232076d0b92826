// CLI/STI on the Number register file (semantics/system.ts flagop's X86Regs path) against the
// BigInt state path: the same RFLAGS, STI shadow and count, and the same #GP when CPL > IOPL
// (SDM Vol. 2 CLI, STI).

import { describe, expect, test } from "vitest";
import type { X86State } from "../../../../runtime/x86/env.js";
import { X86Regs } from "../../../../runtime/x86/regs.js";
import { FakeEnv, GuestFault } from "./fake-env.js";

function runOne(bytes: number[], numeric: boolean, rflags: bigint, cpl: number): { rflags: bigint; stiShadow?: bigint; stiCount?: number; fault: number | null } {
  const env = new FakeEnv("protected32");
  env.state.rflags = rflags;
  env.state.seg.cs.selector = cpl;
  if (numeric) {
    (env as { state: X86State }).state = X86Regs.from(env.state);
  }
  env.load(0n, new Uint8Array(bytes));
  let fault: number | null = null;
  try {
    env.step();
  } catch (e) {
    if (!(e instanceof GuestFault)) throw e;
    fault = e.vector;
  }
  const s = env.state;
  // (X86Regs starts stiCount at 0, a plain state leaves it unset.)
  return { rflags: s.rflags, stiShadow: s.stiShadow, stiCount: s.stiCount ?? 0, fault };
}

describe("CLI/STI: the register file's Number path equals the BigInt one", () => {
  test("every IF, IOPL and CPL, both instructions", () => {
    let cases = 0;
    for (const op of [0xfa, 0xfb]) {
      for (const ifBit of [0n, 0x200n]) {
        for (const iopl of [0n, 3n]) {
          for (const cpl of [0, 3]) {
            const rflags = 0x2n | 0x1n | 0x40n | ifBit | (iopl << 12n) | (1n << 21n);
            const big = runOne([op, 0x90], false, rflags, cpl);
            const num = runOne([op, 0x90], true, rflags, cpl);
            expect(num, `op ${op.toString(16)} if ${ifBit} iopl ${iopl} cpl ${cpl}`).toEqual(big);
            cases++;
          }
        }
      }
    }
    expect(cases).toBe(16);
    // STI with IF clear at CPL 0 sets IF and the shadow at the next instruction; CLI at CPL 3 > IOPL 0 is #GP.
    expect(runOne([0xfb, 0x90], true, 2n, 0)).toMatchObject({ rflags: 0x202n, stiShadow: 1n, stiCount: 1, fault: null });
    expect(runOne([0xfa, 0x90], true, 0x202n, 3).fault).toBe(13);
  });
});
