// Every X86_TABLE entry has an example that assembles to it; decoding that example gives back the
// entry; the disassembly re-assembles to the same bytes.

import { describe, expect, it } from "vitest";
import { X86_TABLE, assembleX86, decodeX86, disassembleX86, formatSpec } from "../../../../runtime/x86/isa/index.js";
import { EXTRA_32, EXTRA_64, tableExamples } from "./examples.js";

const BASE = 0x1000n;

function roundTrip(text: string, bits: 32 | 64): { bytes: string; again: string; dis: string } {
  const mode = bits === 64 ? "long64" : "protected32";
  const p = assembleX86(text, { bits, base: BASE });
  const insn = decodeX86((i) => p.bytes[i] ?? 0, mode);
  const dis = disassembleX86(insn, BASE);
  const again = assembleX86(dis, { bits, base: BASE }).bytes;
  expect(insn.length).toBe(p.bytes.length);
  return { bytes: Buffer.from(p.bytes).toString("hex"), again: Buffer.from(again).toString("hex"), dis };
}

describe("x86 table coverage", () => {
  const { examples, missing } = tableExamples();

  it("has an assembler example for every entry the assembler can produce", () => {
    expect(missing.map((s) => `${s.mnemonic} ${s.map ? "0f " : ""}${s.opcode.toString(16)} ${s.operands.join(",")}`)).toEqual([]);
    const asmEntries = X86_TABLE.filter((s) => !s.noAsm && !s.asmOnly);
    expect(new Set(examples.map((e) => e.spec)).size).toBe(asmEntries.length);
  });

  it.each(examples.map((e) => [e.bits, e.text] as const))("%i-bit %s: assemble → decode → disassemble → assemble", (bits, text) => {
    const r = roundTrip(text, bits);
    expect(r.again, `${text} → ${r.dis}`).toBe(r.bytes);
  });

  it.each([...EXTRA_64.map((t) => [64, t] as const), ...EXTRA_32.map((t) => [32, t] as const)])("%i-bit extra %s round trip", (bits, text) => {
    const r = roundTrip(text, bits as 32 | 64);
    expect(r.again, `${text} → ${r.dis}`).toBe(r.bytes);
  });

  it("decodes entries GNU as never emits (82 /n in 32-bit code) and shows them as their 80 /n twin", () => {
    for (let n = 0; n < 8; n++) {
      const bytes = [0x82, 0xc0 | (n << 3) | 1, 0x12];
      const insn = decodeX86((i) => bytes[i]!, "protected32");
      expect(insn.spec.noAsm).toBe(true);
      expect(insn.spec.arg).toBe(n);
      const dis = disassembleX86(insn, 0n);
      const again = assembleX86(dis, { bits: 32 }).bytes;
      expect(Array.from(again)).toEqual([0x80, bytes[1], 0x12]);
      expect(decodeX86((i) => bytes[i]!, "long64").spec.mnemonic).toBe("(bad)");
    }
  });
});

describe("table listing", () => {
  it("formats entries as a manual lists them", () => {
    const find = (m: string, op: number, map = 0) => X86_TABLE.find((s) => s.mnemonic === m && s.opcode === op && s.map === map)!;
    expect(formatSpec(find("mov", 0x22, 1))).toBe("0f 22 /r      mov r64,%crN");
    expect(formatSpec(find("add", 0x83))).toBe("83 /0         add $simm8,r/m");
    expect(formatSpec(find("push", 0x50))).toBe("50+r          push r");
    expect(formatSpec(find("vmcall", 0x01, 1))).toBe("0f 01 /0 rm=1 vmcall");
    expect(new Set(X86_TABLE.map(formatSpec)).size).toBe(X86_TABLE.length);
  });
});

describe("decoded operand fields", () => {
  const dec = (hex: string, mode: "long64" | "protected32" = "long64") => {
    const b = Buffer.from(hex.replace(/\s/g, ""), "hex");
    return decodeX86((i) => b[i] ?? 0, mode);
  };

  it("mov %rax,%cr4 names CR4 and RAX", () => {
    const i = dec("0f 22 e0");
    expect(i.spec.sem).toBe("movtocr");
    expect(i.operands).toEqual([{ kind: "cr", n: 4 }, { kind: "reg", reg: 0, size: 8 }]);
  });

  it("REX.R selects cr8; REX.B extends the r/m register", () => {
    expect(dec("44 0f 22 c1").operands).toEqual([{ kind: "cr", n: 8 }, { kind: "reg", reg: 1, size: 8 }]);
    expect(dec("41 0f 20 c1").operands).toEqual([{ kind: "reg", reg: 9, size: 8 }, { kind: "cr", n: 0 }]);
  });

  it("ModRM special cases: (%rsp) needs SIB, (%rbp) needs disp8, mod 00 rm 101 is RIP-relative in 64-bit", () => {
    const sp = dec("8b 04 24").operands[1]!;
    expect(sp).toMatchObject({ kind: "mem", base: 4, index: null, seg: "ss", dispBytes: 0 });
    const bp = dec("8b 45 00").operands[1]!;
    expect(bp).toMatchObject({ kind: "mem", base: 5, disp: 0n, dispBytes: 1, seg: "ss" });
    const rip = dec("48 8b 05 f0 ff ff ff").operands[1]!;
    expect(rip).toMatchObject({ kind: "mem", base: null, ripRelative: true, disp: -16n, addrSize: 8 });
    const abs32 = dec("8b 05 00 10 00 00", "protected32").operands[1]!;
    expect(abs32).toMatchObject({ kind: "mem", base: null, ripRelative: false, disp: 0x1000n, addrSize: 4 });
    const nobase = dec("8b 04 25 00 10 00 00").operands[1]!;
    expect(nobase).toMatchObject({ kind: "mem", base: null, index: null, disp: 0x1000n, ripRelative: false });
    const r12 = dec("42 8b 04 24").operands[1]!; // REX.X with index field 100 = %r12 as index
    expect(r12).toMatchObject({ kind: "mem", base: 4, index: 12, scale: 1 });
    const r13 = dec("41 8b 45 00").operands[1]!;
    expect(r13).toMatchObject({ kind: "mem", base: 13, dispBytes: 1 });
  });

  it("prefixes: 66 and REX.W pick the operand size, 67 the address size, segment overrides the segment", () => {
    expect(dec("66 01 c3").operandSize).toBe(2);
    expect(dec("48 01 c3").operandSize).toBe(8);
    expect(dec("66 48 01 c3").operandSize).toBe(8);
    expect(dec("67 8b 00").operands[1]).toMatchObject({ addrSize: 4 });
    expect(dec("64 8b 00").operands[1]).toMatchObject({ seg: "fs", segOverride: true });
    const rep = dec("f3 48 ab");
    expect(rep.prefixes).toMatchObject({ rep: true, rex: 0x48 });
    expect(dec("f0 01 18").prefixes.lock).toBe(true);
  });

  it("REX followed by a legacy prefix is ignored; 40 makes spl, not ah", () => {
    expect(dec("48 66 01 c3").operandSize).toBe(2);
    expect(dec("40 88 e0").operands[1]).toEqual({ kind: "reg", reg: 4, size: 1 });
    expect(dec("88 e0").operands[1]).toEqual({ kind: "reg", reg: 0, size: 1, high8: true });
  });

  it("push/pop and near branches default to 64-bit in long mode", () => {
    expect(dec("50").operandSize).toBe(8);
    expect(dec("66 50").operandSize).toBe(2);
    expect(dec("ff d0").operandSize).toBe(8);
    expect(dec("50", "protected32").operandSize).toBe(4);
  });

  it("inc/dec 40-4f are REX in 64-bit mode and inc/dec in 32-bit mode", () => {
    expect(dec("40", "protected32").spec.mnemonic).toBe("inc");
    expect(dec("48 ff c0").spec.mnemonic).toBe("inc");
  });

  it("undefined encodings decode to #UD, never throw", () => {
    for (const hex of ["0f ff", "0f 0b", "0f 22 c8", "0f 20 e8", "c4", "d6", "0f 01 e8", "8d c0", "ff f8", "8c f0"]) {
      const i = dec(hex);
      expect(i.spec.sem, hex).toBe("ud");
    }
  });

  it("instructions longer than 15 bytes are undefined", () => {
    const i = decodeX86(() => 0x66, "long64");
    expect(i.spec.sem).toBe("ud");
    expect(i.length).toBe(15);
  });
});
