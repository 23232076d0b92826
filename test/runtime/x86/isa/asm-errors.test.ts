// Assembler diagnostics: every error is an AsmError with the line and column of the problem and,
// where one exists, a hint. Garbage never crashes or loops.

import { describe, expect, it } from "vitest";
import { AsmError } from "../../../../runtime/core/errors.js";
import { assembleX86 } from "../../../../runtime/x86/isa/index.js";

function error(src: string, bits: 32 | 64 = 64): AsmError {
  try {
    assembleX86(src, { bits });
  } catch (e) {
    if (e instanceof AsmError) return e;
    throw e;
  }
  throw new Error(`assembled without error: ${src}`);
}

describe("assembler errors", () => {
  it("unknown mnemonic: line, column and a did-you-mean", () => {
    const e = error("start:\n    nop\n    movl $1, %eax\n    rdmrs\n");
    expect([e.line, e.column]).toEqual([4, 5]);
    expect(e.message).toContain("no such instruction: `rdmrs'");
    expect(e.hint).toBe("did you mean `rdmsr'?");
  });

  it("bad register: the column of the register and the closest name", () => {
    const e = error("  mov %eax, %ebz");
    expect([e.line, e.column]).toEqual([1, 13]);
    expect(e.message).toContain("bad register name `%ebz'");
    expect(e.hint).toMatch(/did you mean %eb[xp]\?/);
  });

  it("operand size mismatch between registers", () => {
    const e = error("\n\tadd %eax, %bl");
    expect([e.line, e.column]).toEqual([2, 2]);
    expect(e.message).toContain("operand size mismatch for `add'");
    expect(e.hint).toContain("size suffix");
  });

  it("bad operand combination lists the valid forms", () => {
    const e = error("mov %cr0, %cr4");
    expect(e.message).toContain("operand type mismatch for `mov'");
    expect(e.hint).toContain("valid forms");
    const imm = error("out $0x80, %al");
    expect(imm.message).toContain("operand type mismatch for `out'");
  });

  it("no suffix and no register: GNU as's default size l (its warning 'using default for mov'); an immediate that needs more is refused", () => {
    expect(Buffer.from(assembleX86("mov $1, (%rax)").bytes).toString("hex")).toBe("c70001000000");
    expect(error("mov $0x123456789, (%rax)").message).toContain("operand type mismatch");
  });

  it("undefined label: column of the reference and a did-you-mean", () => {
    const e = error("start:\n  jmp strat\n");
    expect([e.line, e.column]).toEqual([2, 7]);
    expect(e.message).toContain("undefined symbol `strat'");
    expect(e.hint).toBe("did you mean `start'?");
    const local = error("  jmp 1f\n");
    expect(local.message).toContain("numeric local label");
  });

  it("mode errors: 64-bit registers in .code32, push %eax in 64-bit mode, ljmp $sel,$off in 64-bit mode", () => {
    expect(error("mov %rax, %rbx", 32).message).toMatch(/64-bit|mismatch/);
    expect(error("push %eax").message).toContain("32-bit operand size is not encodable in 64-bit mode");
    expect(error("ljmp $8, $0x1000").message).toContain("not valid in 64-bit mode");
    expect(error("mov %ah, %r8b").hint ?? error("mov %ah, %r8b").message).toBeTruthy();
  });

  it("out-of-range values and jumps", () => {
    expect(error("loop far\n.space 300\nfar: nop").message).toContain("jump target out of range");
    expect(error("add $0x80000000, %rax").message).toContain("operand type mismatch"); // no sign-extended imm32
    expect(Buffer.from(assembleX86("add $0x100, %al").bytes).toString("hex")).toBe("0400"); // GNU as: "0x100 shortened to 0x0"
    expect(error(".byte 256").message).toContain("does not fit");
    expect(error("movq $0x123456789, %rax\naddq $0x123456789, %rax").line).toBe(2);
  });

  it("duplicate labels, bad directives, bad strings, bad scale", () => {
    const dup = error("a:\nnop\na:\n");
    expect([dup.line, dup.message]).toEqual([3, expect.stringContaining("already defined")]);
    expect(dup.hint).toContain("line 1");
    const dir = error(".quadd 1");
    expect(dir.message).toContain("unknown directive `.quadd'");
    expect(dir.hint).toBe("did you mean `.quad'?");
    expect(error('.ascii "abc').message).toContain("unterminated string");
    expect(error("mov (%rax,%rbx,3), %eax").message).toContain("scale factor");
    expect(error("mov (%rax,%rsp), %eax").message).toContain("cannot be an index");
    expect(error("/* open comment\nnop").message).toContain("unterminated /* comment");
    expect(error(".intel_syntax noprefix").hint).toContain("AT&T");
  });

  it("garbage input fails with AsmError, never another exception and never hangs", () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed);
    const alphabet = "movaddjmp%$(),:.;#*-+ 0123456789abcdefxq\n\"'rlebsi";
    for (let n = 0; n < 500; n++) {
      let s = "";
      const len = rand() % 40;
      for (let i = 0; i < len; i++) s += alphabet[rand() % alphabet.length];
      try {
        assembleX86(s);
      } catch (e) {
        expect(e, JSON.stringify(s)).toBeInstanceOf(AsmError);
      }
    }
  });
});

describe("assembler features", () => {
  it("numeric local labels, expressions, .equ/.set/=, data directives", () => {
    const p = assembleX86(
      [
        "N = 3",
        ".equ SIZE, N * 4 + (1 << 2)",
        "1: .byte N, SIZE, 'A', -1",
        "   .word 1b, 2f - 1b",
        "2: .long (SIZE | 1) & 0xff",
        "   .quad -2",
        '   .ascii "x\\ty"',
        '   .asciz "\\x41\\101"',
        "   .fill 2, 2, 0x1234",
        "   .p2align 3, 0xee",
        "   .org 0x30, 0xaa",
        "end:",
      ].join("\n"),
      { base: 0x100n },
    );
    expect(Array.from(p.bytes)).toEqual([
      3, 16, 0x41, 0xff, 0x00, 0x01, 8, 0, 17, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0x78, 0x09, 0x79, 0x41, 0x41, 0, 0x34, 0x12, 0x34, 0x12, 0xee, 0xee, ...Array(16).fill(0xaa),
    ]);
    expect(p.symbols.get("end")).toBe(0x130n);
    expect(p.symbols.get("SIZE")).toBe(16n);
  });

  it("branch relaxation: short when the target is within -128..127, near otherwise", () => {
    // Expected bytes are GNU as 2.40's for the same source.
    const p = assembleX86("a: jmp b\n.space 125\nb: jmp a\nc: jne d\n.space 128\nd: jne c", { base: 0n });
    expect(Array.from(p.bytes.subarray(0, 2))).toEqual([0xeb, 0x7d]);
    expect(Array.from(p.bytes.subarray(0x7f, 0x84))).toEqual([0xe9, 0x7c, 0xff, 0xff, 0xff]);
    expect(Array.from(p.bytes.subarray(0x84, 0x8a))).toEqual([0x0f, 0x85, 0x80, 0, 0, 0]);
    expect(Array.from(p.bytes.subarray(0x10a, 0x110))).toEqual([0x0f, 0x85, 0x74, 0xff, 0xff, 0xff]);
  });

  it("listing lines carry addresses and source lines; comments of all three kinds are ignored", () => {
    const p = assembleX86("nop # one\n/* two\n three */ hlt // four\n  ret ; cli", { base: 0x400000n });
    expect(p.lines).toEqual([
      { address: 0x400000n, line: 1, text: "nop" },
      { address: 0x400001n, line: 3, text: "three */ hlt".replace("three */ ", "") },
      { address: 0x400002n, line: 4, text: "ret" },
      { address: 0x400003n, line: 4, text: "cli" },
    ]);
    expect(Array.from(p.bytes)).toEqual([0x90, 0xf4, 0xc3, 0xfa]);
  });

  it(".set is sequential; the file name appears in error messages; .data aligns with zeros, .text with NOPs", () => {
    expect(Array.from(assembleX86(".set n, 0\n.set n, n + 1\n.byte n\n.set n, n + 1\n.byte n").bytes)).toEqual([1, 2]);
    expect(() => assembleX86("bogus", { fileName: "guest.s" })).toThrow(/no such instruction: `bogus' \(in guest\.s\)/);
    expect(Array.from(assembleX86(".data\n.byte 1\n.p2align 2\n.text\nnop\n.p2align 2").bytes)).toEqual([1, 0, 0, 0, 0x90, 0x0f, 0x1f, 0x00]);
    expect(() => assembleX86(".space 0x10000000")).toThrow(/too large/);
  });

  it(".rept/.endr with a counter, as kvm-unit-tests builds its page tables", () => {
    const src = "ptl2:\ni = 0\n.rept 4\n.quad 0x1e7 | (i << 21)\ni = i + 1\n.endr\n.rept 2\n.rept 2\n.byte 7\n.endr\n.endr";
    const p = assembleX86(src);
    const q = (k: number) => p.bytes.subarray(k * 8, k * 8 + 8);
    expect(Buffer.from(q(3)).readBigUInt64LE()).toBe(0x1e7n | (3n << 21n));
    expect(Array.from(p.bytes.subarray(32))).toEqual([7, 7, 7, 7]);
    expect(() => assembleX86(".rept 3\nnop")).toThrow(/without .endr/);
    expect(() => assembleX86(".rept 100000000\nnop\n.endr")).toThrow(/too many/);
  });

  it(".macro with arguments, defaults and \\@", () => {
    const src = [".macro setcr n, val=0x20", "  mov $\\val, %eax", "  mov %eax, %cr\\n", "lbl\\@: nop", ".endm", "setcr 4", "setcr 0, 0x80000001"].join("\n");
    const p = assembleX86(src, { bits: 32 });
    expect(Array.from(p.bytes)).toEqual([0xb8, 0x20, 0, 0, 0, 0x0f, 0x22, 0xe0, 0x90, 0xb8, 0x01, 0, 0, 0x80, 0x0f, 0x22, 0xc0, 0x90]);
    expect(p.symbols.get("lbl0")).toBe(8n);
    expect(p.symbols.get("lbl1")).toBe(17n);
    expect(() => assembleX86(".macro m\nm\n.endm\nm")).toThrow(/too deeply/);
    expect(() => assembleX86(".macro m\nnop")).toThrow(/without .endm/);
  });

  it(".code32/.code64 switch mid-file and ljmp $sel,$label reaches the 64-bit code", () => {
    const p = assembleX86(".code32\nljmp $0x8, $long\n.code64\nlong: mov %rax, %rbx", { base: 0x400000n, bits: 32 });
    expect(Array.from(p.bytes)).toEqual([0xea, 0x07, 0x00, 0x40, 0x00, 0x08, 0x00, 0x48, 0x89, 0xc3]);
  });
});

describe("xchg of the accumulator with itself (issue 14; GNU as 2.40, binutils gas/config/tc-i386.c)", () => {
  const hex = (t: string, bits: 16 | 32 | 64) => Buffer.from(assembleX86(t, { bits }).bytes).toString("hex");
  it("encodes 90 (no REX.W) for %rax, 66 90 for %ax, and keeps 87 c0 for %eax in 64-bit mode (90 would not zero-extend)", () => {
    expect(hex("xchg %rax,%rax", 64)).toBe("90");
    expect(hex("xchg %ax,%ax", 64)).toBe("6690");
    expect(hex("xchg %eax,%eax", 64)).toBe("87c0");
    expect(hex("xchg %r8,%rax", 64)).toBe("4990");
    expect(hex("xchg %r8,%r8", 64)).toBe("4d87c0");
    expect(hex("xchg %eax,%eax", 32)).toBe("90");
    expect(hex("xchg %ax,%ax", 32)).toBe("6690");
    expect(hex("xchg %ax,%ax", 16)).toBe("90");
  });
  it("a 16 MiB .space is one typed image", () => {
    const p = assembleX86("nop\n.space 16*1024*1024, 0x90\n.fill 2, 4, 0x11223344");
    expect(p.bytes).toBeInstanceOf(Uint8Array);
    expect(p.bytes.length).toBe(1 + (16 << 20) + 8);
    expect(p.bytes[12345]).toBe(0x90);
    expect(Buffer.from(p.bytes.subarray(p.bytes.length - 8)).toString("hex")).toBe("4433221144332211");
  });
});

describe("addr16/addr32 prefix words (GNU as's messages)", () => {
  it.each([
    ["addr16 mov 0x12,%al", 64, 1, "`addr16' is not supported in 64-bit mode"],
    ["addr32 mov 0x12,%al", 32, 1, "redundant addr32 prefix"],
    ["addr32 addr32 mov 0x12,%al", 64, 8, "same type of prefix used twice"],
    ["addr32 mov (%rax),%al", 64, 8, "`(%rax)' is not a valid base/index expression with 32-bit addresses (addr32)"],
    ["addr16 mov (%eax),%al", 32, 8, "`(%eax)' is not a valid base/index expression with 16-bit addresses (addr16)"],
    ["addr32 jrcxz .", 64, 8, "`jrcxz' counts with a 64-bit register, the prefix asks for 32"],
  ] as const)("%s (%i-bit)", (src, bits, column, message) => {
    const e = error(src, bits);
    expect([e.line, e.column]).toEqual([1, column]);
    expect(e.message).toContain(message);
  });
});
