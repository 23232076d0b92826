// Differential tests for the x86 engine (issue 12): seeded random programs, 32-bit (protected
// mode) and 64-bit (long mode) — ALU, adc/sbb, inc/dec/neg/not, shifts and rotates, mul/imul,
// lea, mov/movzx/movsx, setcc/cmovcc, bt*, xchg/bswap, cbw..cqo, loads/stores/read-modify-write
// on a buffer with 8/16/32/64-bit operands, forward jcc and counted loops — must end in the same
// GPRs, arithmetic flags and buffer bytes (1) under the interpreter ({ jit: false }) and the
// compiled path ({ jit: true }), exactly, every flag included, and (2) in exitlab and in QEMU user
// mode (qemu-i386 / qemu-x86_64) on the same program built by GNU as, masking the flags the Intel
// SDM leaves undefined at the end of the program (FLAG_RULES / shiftFlags in
// test/runtime/difftest/x86-gen.ts). A failure prints the seed and the program.

import { describe, expect, test } from "vitest";
import { ARITH_FLAGS, generateX86, x86ProgramText, type X86Bits } from "../../difftest/x86-gen.js";
import { x86Diff, x86QemuTools, x86RunExitlab, x86RunQemu } from "../../difftest/x86-run.js";
import { acceptsJit, withContext } from "../../difftest/engine.js";
import { qemuRequired } from "../../difftest/qemu.js";
import { haveTools } from "../../../tools.js";

const JIT_PROGRAMS = 150; // per width
const QEMU_PROGRAMS = 150; // per width
/** Fixed seeds: program n of a suite has seed base + n and a length of 5..60 taken from the seed. */
const seedBase = (bits: X86Bits, qemu: boolean) => (bits === 64 ? 0x8664_0000 : 0x8632_0000) + (qemu ? 0x8000 : 0);
const lengthOf = (seed: number) => 5 + (Math.imul(seed, 0x9e3779b1) >>> 0) % 56;

describe.each([32, 64] as const)("x86 %i-bit program generator", (bits) => {
  test("is deterministic and covers the instruction forms", () => {
    expect(generateX86(1, { bits, length: 60 })).toEqual(generateX86(1, { bits, length: 60 }));
    const seen = new Set<string>();
    for (let n = 0; n < JIT_PROGRAMS; n++) {
      const seed = seedBase(bits, false) + n;
      for (const l of generateX86(seed, { bits, length: lengthOf(seed) }).body) seen.add(l.split(/\s/)[0]!.replace(/[bwlq]$/, ""));
    }
    const want = "add sub adc sbb and or xor cmp test inc dec neg not shl shr sar rol ror imul mul lea mov movzb movsb movzw movsw setne cmovne jnz loop bt bts btr btc xchg bswap cwt clc stc cmc xadd cmpxchg".split(" ");
    if (bits === 64) want.push("movsl", "cqto", "clt") // cltq without its suffix;
    expect(want.filter((m) => !seen.has(m))).toEqual([]);
  });
});

describe.each([32, 64] as const)("x86 %i-bit: interpreter vs compiled path", (bits) => {
  test(`${JIT_PROGRAMS} random programs agree on every register, flag and buffer byte`, () => {
    expect(acceptsJit("x86_64")).toBe(true);
    for (let n = 0; n < JIT_PROGRAMS; n++) {
      const seed = seedBase(bits, false) + n;
      const p = generateX86(seed, { bits, length: lengthOf(seed) });
      const text = () => x86ProgramText(p);
      const interp = withContext(text, () => x86RunExitlab(p, false));
      const jit = withContext(text, () => x86RunExitlab(p, true));
      const diff = x86Diff(interp, jit, bits, ARITH_FLAGS);
      if (diff.length) expect.fail(`jit differs from the interpreter (expected = interpreter):\n${diff.join("\n")}\n${text()}`);
    }
  });
});

describe.each([32, 64] as const)("x86 %i-bit: exitlab vs QEMU user mode", (bits) => {
  const tools = x86QemuTools(bits);
  const have = haveTools(...tools);
  if (!have && qemuRequired) throw new Error(`EXITLAB_REQUIRE_QEMU is set but one of ${tools.join(", ")} is missing`);
  test.skipIf(!have)(`${QEMU_PROGRAMS} random programs end as under ${tools[0]}${have ? "" : ` (skipped: needs ${tools.join(", ")})`}`, () => {
    const programs = Array.from({ length: QEMU_PROGRAMS }, (_, n) => generateX86(seedBase(bits, true) + n, { bits, length: lengthOf(seedBase(bits, true) + n), labelPrefix: `p${n}_` }));
    const qemu = x86RunQemu(programs, bits);
    programs.forEach((p, n) => {
      const text = () => x86ProgramText(p);
      const diff = x86Diff(qemu[n]!, withContext(text, () => x86RunExitlab(p, false)), bits, ARITH_FLAGS & ~p.undefinedFlags);
      if (diff.length) expect.fail(`exitlab differs from QEMU (expected = QEMU):\n${diff.join("\n")}\n${text()}`);
    });
  });
});

// Issue 15: the same programs with SSE/SSE2 moves mixed in (X86GenOptions.sse: GPR ↔ XMM, buffer ↔
// XMM, XMM ↔ XMM, PXOR/POR/PAND/XORPS as .byte lines), their own seeds; XMM values reach the
// compared GPRs and buffer through MOVD/MOVQ and the stores.
const SSE_PROGRAMS = 100; // per width and comparison
const sseSeed = (bits: X86Bits, qemu: boolean, n: number) => (bits === 64 ? 0x5564_0000 : 0x5532_0000) + (qemu ? 0x8000 : 0) + n;
const sseProgram = (bits: X86Bits, qemu: boolean, n: number) => {
  const seed = sseSeed(bits, qemu, n);
  return generateX86(seed, { bits, length: lengthOf(seed), sse: true, labelPrefix: `p${n}_` });
};

describe.each([32, 64] as const)("x86 %i-bit with SSE moves", (bits) => {
  test(`${SSE_PROGRAMS} random programs: the interpreter and the compiled path agree`, () => {
    let withSse = 0;
    for (let n = 0; n < SSE_PROGRAMS; n++) {
      const p = sseProgram(bits, false, n);
      if (p.body.some((l) => l.startsWith(".byte"))) withSse++;
      const text = () => x86ProgramText(p);
      const diff = x86Diff(withContext(text, () => x86RunExitlab(p, false)), withContext(text, () => x86RunExitlab(p, true)), bits, ARITH_FLAGS);
      if (diff.length) expect.fail(`jit differs from the interpreter (expected = interpreter):\n${diff.join("\n")}\n${text()}`);
    }
    expect(withSse).toBeGreaterThan(SSE_PROGRAMS / 2);
  });

  const tools = x86QemuTools(bits);
  const have = haveTools(...tools);
  test.skipIf(!have)(`${SSE_PROGRAMS} random programs end as under ${tools[0]}${have ? "" : ` (skipped: needs ${tools.join(", ")})`}`, () => {
    const programs = Array.from({ length: SSE_PROGRAMS }, (_, n) => sseProgram(bits, true, n));
    expect(programs.filter((p) => p.body.some((l) => l.startsWith(".byte"))).length).toBeGreaterThan(SSE_PROGRAMS / 2);
    const qemu = x86RunQemu(programs, bits);
    programs.forEach((p, n) => {
      const text = () => x86ProgramText(p);
      const diff = x86Diff(qemu[n]!, withContext(text, () => x86RunExitlab(p, false)), bits, ARITH_FLAGS & ~p.undefinedFlags);
      if (diff.length) expect.fail(`exitlab differs from QEMU (expected = QEMU):\n${diff.join("\n")}\n${text()}`);
    });
  });
});

// The instructions behind CPUID's CX8/CX16, POPCNT, ABM (LZCNT) and MOVBE (X86GenOptions.ext), which
// exitlab advertises only because they run: the same comparisons on programs that mix them in.
const EXT_PROGRAMS = 100; // per width and comparison
const EXT_MNEMONICS = ["popcnt", "lzcnt", "movbe", "cmpxchg8b"];
const extProgram = (bits: X86Bits, qemu: boolean, n: number) => {
  const seed = (bits === 64 ? 0xe864_0000 : 0xe832_0000) + (qemu ? 0x8000 : 0) + n;
  return generateX86(seed, { bits, length: lengthOf(seed), ext: true, labelPrefix: `p${n}_` });
};
const extSeen = (programs: ReturnType<typeof extProgram>[]) => {
  const seen = new Set<string>();
  for (const p of programs) for (const l of p.body) seen.add(l.replace(/^lock /, "").split(/\s/)[0]!.replace(/[wlq]$/, ""));
  return seen;
};

describe.each([32, 64] as const)("x86 %i-bit with CX8/CX16, POPCNT, LZCNT, MOVBE", (bits) => {
  test(`${EXT_PROGRAMS} random programs: the interpreter and the compiled path agree`, () => {
    const programs = Array.from({ length: EXT_PROGRAMS }, (_, n) => extProgram(bits, false, n));
    const seen = extSeen(programs);
    expect(EXT_MNEMONICS.filter((m) => !seen.has(m))).toEqual([]);
    if (bits === 64) expect(seen.has("cmpxchg16b")).toBe(true);
    for (const p of programs) {
      const text = () => x86ProgramText(p);
      const diff = x86Diff(withContext(text, () => x86RunExitlab(p, false)), withContext(text, () => x86RunExitlab(p, true)), bits, ARITH_FLAGS);
      if (diff.length) expect.fail(`jit differs from the interpreter (expected = interpreter):\n${diff.join("\n")}\n${text()}`);
    }
  });

  const tools = x86QemuTools(bits);
  const have = haveTools(...tools);
  test.skipIf(!have)(`${EXT_PROGRAMS} random programs end as under ${tools[0]}${have ? "" : ` (skipped: needs ${tools.join(", ")})`}`, () => {
    const programs = Array.from({ length: EXT_PROGRAMS }, (_, n) => extProgram(bits, true, n));
    const seen = extSeen(programs);
    expect(EXT_MNEMONICS.filter((m) => !seen.has(m))).toEqual([]);
    const qemu = x86RunQemu(programs, bits);
    programs.forEach((p, n) => {
      const text = () => x86ProgramText(p);
      const diff = x86Diff(qemu[n]!, withContext(text, () => x86RunExitlab(p, false)), bits, ARITH_FLAGS & ~p.undefinedFlags);
      if (diff.length) expect.fail(`exitlab differs from QEMU (expected = QEMU):\n${diff.join("\n")}\n${text()}`);
    });
  });
});
