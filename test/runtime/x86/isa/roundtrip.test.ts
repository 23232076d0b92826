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

// Issue 19, the 30-minute fuzz: `67 a0 66 90 90 90` (64-bit, addr32 `mov moffs32,%al`) printed as
// `mov 0x90909066,%al`, which assembles to the 8-byte-offset `movabs` (a0 + 8 bytes). A moffs is
// as wide as the address size (SDM Vol. 2 MOV, "moffs"), so a 67h prefix that nothing else in the
// text shows is printed as objdump prints it, `addr32`/`addr16`, and the assembler takes it back.
describe("an address-size prefix the operands do not show round-trips", () => {
  test.each([
    ["67a066909090", 64, "addr32 mov 0x90909066,%al"],
    ["67a166909090", 64, "addr32 mov 0x90909066,%eax"],
    ["67a266909090", 64, "addr32 mov %al,0x90909066"],
    ["6748a366909090", 64, "addr32 mov %rax,0x90909066"],
    ["6766a366909090", 64, "addr32 mov %ax,0x90909066"],
    ["6467a066909090", 64, "addr32 mov %fs:0x90909066,%al"],
    ["a06690909090909090", 64, "movabs 0x9090909090909066,%al"],
    ["678a1c2566909090", 64, "addr32 mov 0x90909066,%bl"],
    ["6790", 64, "addr32 nop"],
    ["67a06690", 32, "addr16 mov 0x9066,%al"],
    ["6766a16690", 32, "addr16 mov 0x9066,%ax"],
    ["67a36690", 32, "addr16 mov %eax,0x9066"],
    ["a066909090", 32, "mov 0x90909066,%al"],
    ["67a066900102", 16, "addr32 mov 0x2019066,%al"],
    ["6766a366900102", 16, "addr32 mov %eax,0x2019066"],
    ["a06690", 16, "mov 0x9066,%al"],
  ] as const)("%s in %i-bit code is `%s` and assembles back", (hex, bits, text) => {
    const r = roundTrip(hex, bits);
    expect(r.text).toBe(text);
    expect(r.again).toBe(hex);
  });

  test("the prefix is printed in the order of its byte among lock and rep, as objdump does", () => {
    expect(roundTrip("6765f0a2f2c80750", 16).text).toBe("addr32 lock mov %al,%gs:0x5007c8f2");
    expect(roundTrip("f067a2f2c80750", 16).text).toBe("lock addr32 mov %al,0x5007c8f2");
  });

  test("registers, a string operand or the mnemonic show the address size: no prefix word", () => {
    expect(roundTrip("678a00", 64).text).toBe("mov (%eax),%al");
    expect(roundTrip("67ac", 64).text).toBe("lods %ds:(%esi),%al");
    expect(roundTrip("67e2fe", 64).text).toBe("loopl 0x1001");
    expect(roundTrip("67e3fe", 64).text).toBe("jecxz 0x1001");
  });

  test("a direct branch, which 67h does not change, prints none and GNU as's choice drops it", () => {
    expect(roundTrip("67e800000000", 64).text).toBe("call 0x1006");
    expect(Array.from(assembleX86(".code64\naddr32 call 0x1006\n", { base: 0x1000n, bits: 64 }).bytes)).toEqual([0xe8, 1, 0, 0, 0]);
  });
});
