// Disassembly assembles again to the same bytes (issue 19: random byte strings whose relative
// jumps and calls reach below the jump in 64-bit code or wrap around EIP in 32-bit code
// disassembled to text the assembler refused). SDM Vol. 1 3.5: the instruction pointer is as
// wide as the code's operand size; rel32 targets wrap modulo 2^32 outside 64-bit code.

import { describe, expect, test } from "vitest";
import { assembleX86, decodeX86, disassembleX86, type X86Mode } from "../../../../runtime/x86/isa/index.js";

const MODE: Record<16 | 32 | 64, X86Mode> = { 16: "real", 32: "protected32", 64: "long64" };

function roundTrip(hex: string, bits: 16 | 32 | 64): { text: string; again: string } {
  const bytes = Buffer.from(hex, "hex");
  const insn = decodeX86((i) => bytes[i] ?? 0x90, MODE[bits]);
  const text = disassembleX86(insn, 0x1000n);
  const again = Buffer.from(assembleX86(`.code${bits}\n${text}\n`, { base: 0x1000n, bits }).bytes).toString("hex");
  return { text, again };
}

describe("relative branches round-trip at any distance", () => {
  test.each([
    ["e9ec0cbb89", 64, "jmp 0xffffffff89bb1cf1"],
    ["e81dd864b0", 64, "call 0xffffffffb064e822"],
    ["e9ec82e0cb", 32, "jmp 0xcbe092f1"],
    ["e876b240ed", 32, "call 0xed40c27b"],
    ["0f8dec6c6de8", 32, "jge 0xe86d7cf2"],
    ["e9fbef", 16, "jmp 0xfffe"],
  ] as const)("%s in %i-bit code is `%s` and assembles back", (hex, bits, text) => {
    const r = roundTrip(hex, bits);
    expect(r.text).toBe(text);
    expect(r.again).toBe(hex);
  });

  test("a 64-bit jump whose target is out of rel32 reach is still refused", () => {
    expect(() => assembleX86(".code64\njmp 0x100001000\n", { base: 0x1000n, bits: 64 })).toThrow(/does not fit in 4 byte/);
  });
});
