// The assembler: directives, labels, literal pools and expressions (checked against GNU as), and
// errors that name the line, the column, what is wrong and what to do.

import { describe, it, expect } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assembleA64 } from "../../../../runtime/arm64/isa/index.js";
import { AsmError } from "../../../../runtime/core/errors.js";
import { binutilsRequired, haveTools } from "../../../tools.js";

const BASE = 0x40080000n;

const GUEST_LIKE = `
/* a boot-like fragment: labels, numeric local labels, pools, data */
.equ UART, 0x09000000
.set PAGE_SHIFT, 16
STACK_SIZE = 1 << PAGE_SHIFT
	.text
	.globl _start
_start:
	adrp	x0, stacktop
	add	x0, x0, :lo12:stacktop
	mov	sp, x0
	ldr	x1, =UART
	ldr	w2, =(STACK_SIZE - 1) & ~0xf
	adr	x3, msg
1:	ldrb	w4, [x3], #1
	cbz	w4, 2f
	strb	w4, [x1]
	b	1b
2:	mov	x0, #(1 << 3) | 0x0 // PSCI
	movk	x0, #0x8400, lsl #16
	hvc	#0
	.ltorg
	b	.
msg:	.asciz	"hello\\n"
	.string "x", "yz"
	.ascii	"ab"
	.balign	8
table:	.quad	_start, msg + 4, -1
	.word	0x12345678, STACK_SIZE
	.hword	0xbeef, 2
	.byte	1, 2, 0xff
	.p2align 4
	.space	16, 0xaa
	.zero	3
	.align	4
	.skip	8
stack:	.space	64
stacktop:
	ldr	x9, [x0, #:lo12:table]
	ldr	x10, =table
`;

describe("assembler", () => {
  it("lays out directives, symbols and literal pools like GNU as (linked at the same base)", () => {
    const p = assembleA64(GUEST_LIKE, { base: BASE });
    expect(p.symbols.get("_start")).toBe(BASE);
    expect(p.symbols.get("stacktop")! - p.symbols.get("stack")!).toBe(64n);
    if (!haveTools("aarch64-linux-gnu-as")) {
      if (binutilsRequired) throw new Error("aarch64-linux-gnu-as is missing");
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "exitlab-a64-asm-"));
    try {
      writeFileSync(join(dir, "g.s"), GUEST_LIKE);
      execFileSync("aarch64-linux-gnu-as", ["-march=armv8.2-a", "-o", join(dir, "g.o"), join(dir, "g.s")]);
      execFileSync("aarch64-linux-gnu-ld", ["-Ttext=0x" + BASE.toString(16), "-e", "0x" + BASE.toString(16), "-o", join(dir, "g.elf"), join(dir, "g.o")], { stdio: "pipe" });
      execFileSync("aarch64-linux-gnu-objcopy", ["-O", "binary", join(dir, "g.elf"), join(dir, "g.bin")]);
      const gnu = new Uint8Array(readFileSync(join(dir, "g.bin")));
      expect(Array.from(p.bytes)).toEqual(Array.from(gnu));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("records a listing line per emitting statement", () => {
    const p = assembleA64("nop\n\n  mov x0, #1 // one\n.word 7", { base: 0x1000n });
    expect(p.lines.map((l) => [l.address, l.line])).toEqual([[0x1000n, 1], [0x1004n, 3], [0x1008n, 4]]);
  });

  const error = (src: string): AsmError => {
    try {
      assembleA64(src);
    } catch (e) {
      expect(e).toBeInstanceOf(AsmError);
      return e as AsmError;
    }
    throw new Error("expected an AsmError");
  };

  it("unknown mnemonic: line, column and a suggestion", () => {
    const e = error("nop\n   stpp x29, x30, [sp, #-16]!");
    expect([e.line, e.column]).toEqual([2, 4]);
    expect(e.message).toContain("stpp");
    expect(e.hint).toBe("did you mean stp?");
  });
  it("bad register: points at it", () => {
    const e = error("add x0, x1, x32");
    expect(e.column).toBe(13);
    expect(e.message).toContain("x32");
  });
  it("mixed register widths", () => {
    expect(error("add x0, w1, w2").message).toMatch(/width/);
  });
  it("out-of-range immediates", () => {
    expect(error("add x0, x1, #0x1001000").message).toMatch(/out of range/);
    expect(error("ldp x0, x1, [sp, #1024]").message).toMatch(/out of range/);
    expect(error("stp x0, x1, [sp, #4]").message).toMatch(/multiple of 8/);
    expect(error("lsl x0, x1, #64").message).toMatch(/out of range/);
  });
  it("logical immediates that cannot be encoded", () => {
    const e = error("and x0, x1, #0x1234");
    expect(e.message).toContain("immediate 0x1234 cannot be encoded as a logical immediate");
    expect(e.hint).toMatch(/rotated run of ones/);
  });
  it("undefined labels, including numeric local ones", () => {
    const e = error("  b nowhere");
    expect(e.message).toContain("undefined symbol 'nowhere'");
    expect([e.line, e.column]).toEqual([1, 5]);
    expect(error("1: b 1f").hint).toMatch(/no label 1: after/);
  });
  it("unknown system register and operation names", () => {
    expect(error("mrs x0, no_such_reg").message).toMatch(/unknown system register/);
    expect(error("dc flush, x0").hint).toMatch(/civac/);
  });
  it("unknown directive, duplicate label, unterminated comment", () => {
    expect(error(".wrod 1").hint).toBe("did you mean .word?");
    expect(error("a: nop\na: nop").message).toMatch(/already defined/);
    expect(error("nop /* open").message).toMatch(/unterminated/);
  });
  it("names the file when given", () => {
    try {
      assembleA64("bogus", { fileName: "guest.s" });
      throw new Error("no error");
    } catch (e) {
      expect((e as Error).message).toMatch(/^guest\.s:1:1: /);
    }
  });
  it("never hangs or crashes on garbage (only AsmError)", () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) / 65536;
    const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 ,.#[]!:=-+*()<>{}/\\\"'x\n\t;";
    const words = ["ldr", "str", "stp", "mov", "add", "b", ".word", ".space", ".align", "x0", "[sp", "#-1", "=", ":lo12:", "1b", "1:", "msr", "dc"];
    for (let i = 0; i < 400; i++) {
      let src = "";
      const len = Math.floor(rnd() * 40);
      for (let j = 0; j < len; j++) src += rnd() < 0.3 ? words[Math.floor(rnd() * words.length)] + " " : alphabet[Math.floor(rnd() * alphabet.length)];
      try {
        assembleA64(src);
      } catch (e) {
        if (!(e instanceof AsmError)) throw new Error(`non-AsmError for ${JSON.stringify(src)}: ${(e as Error).stack}`);
      }
    }
  });
  it("bounds huge directives", () => {
    expect(error(".space 0x100000000").message).toMatch(/out of range/);
    expect(error(".align 40").message).toMatch(/out of range/);
  });
});

describe("GNU as conveniences and large images (issue 14)", () => {
  it("uxtb/uxth with an x destination encode the w form (GNU as 2.40: 53001da5, 53003da5; Arm ARM C6.2 UXTB/UXTH are UBFM with sf = 0)", () => {
    const word = (t: string) => Buffer.from(assembleA64(t).bytes).toString("hex");
    expect(word("uxtb x5, w13")).toBe("a51d0053");
    expect(word("uxth x5, w13")).toBe("a53d0053");
    expect(word("uxtb x5, w13")).toBe(word("uxtb w5, w13"));
  });
  it("a 16 MiB .space is built in typed memory, not a number[]: the result is one Uint8Array of that size", () => {
    const before = process.memoryUsage().arrayBuffers;
    const p = assembleA64("nop\n.space 16*1024*1024\nnop");
    expect(p.bytes).toBeInstanceOf(Uint8Array);
    expect(p.bytes.length).toBe(16 * 1024 * 1024 + 8);
    expect(p.bytes[4 + 1234567]).toBe(0);
    expect(Buffer.from(p.bytes.subarray(p.bytes.length - 4)).toString("hex")).toBe("1f2003d5");
    // the growth buffer at most doubles the image (a number[] of 16 Mi entries would take ~128 MiB of heap, not array buffers)
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(3 * 16 * 1024 * 1024 + (1 << 20));
  });
});
