// GNU as's .rept/.irp/.irpc/.macro (runtime/core/asm-macro.ts) in both assemblers: sources using
// every feature (counts from .equ, blank- and comma-separated arguments, defaults, keyword
// arguments, :req/:vararg, \\@, \\(), .exitm, .purgem, nesting, case-insensitive macro names)
// must assemble to GNU as's bytes (GNU as manual, "Macro", "Rept", "Irp", "Irpc"; checked with
// binutils 2.40); errors name the line and what is missing.

import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assembleA64 } from "../../../runtime/arm64/isa/index.js";
import { assembleX86 } from "../../../runtime/x86/isa/index.js";
import { AsmError } from "../../../runtime/core/errors.js";
import { splitMacroArgs } from "../../../runtime/core/asm-macro.js";
import { binutilsRequired, haveTools } from "../../tools.js";

const A64_SOURCE = `	.equ N, 3
	.rept N
	nop
	.endr
	.rept 0
	brk #1
	.endr
	.irp reg, x1, x2, x3
	mov \\reg, #1
	.endr
	.irp r, 4 5
	add x\\r, x\\r, #\\r
	.endr
	.irpc c, 0123
	movz w\\c, #\\c
	.endr
	.macro save a, b=x30, off=16
	stp \\a, \\b, [sp, #-\\off]!
	.endm
	save x29
	save x19, x20
	save x21 x22 32
	save a=x23, off=48
	.macro pick r:req, rest:vararg
	mov \\r, #7
	.irp x, \\rest
	mov \\x, \\r
	.endr
	.endm
	pick x0, x1, x2, x3
	.macro lbl
l\\@:	b l\\@
	.endm
	lbl
	lbl
	.macro cat p
	ldr x\\p\\()0, [sp]
	.endm
	cat 1
	.macro stop n
	mov x0, #\\n
	.exitm
	mov x0, #99
	.endm
	stop 5
	.macro outer v
	.rept 2
	add x0, x0, #\\v
	.endr
	.endm
	OUTER 9
	.rept 2
	.irp q, 1, 2
	sub x\\q, x\\q, #\\q
	.endr
	.endr
	.purgem lbl
	.macro lbl
	wfi
	.endm
	lbl
	.space 4, 0
`;

const X86_SOURCE = `	.code64
	.equ N, 3
	.rept N
	nop
	.endr
	.irp reg, %rax, %rbx, %r12
	push \\reg
	.endr
	.irp n, 1 2 3
	add $\\n, %ecx
	.endr
	.irpc c, 89
	mov $\\c, %r\\c
	.endr
	.macro out2 port=0x3f8, val
	mov $\\val, %al
	mov $\\port, %dx
	outb %al, (%dx)
	.endm
	out2 , 0x41
	out2 0x2f8, 0x42
	out2 val=0x43
	.macro many first:req, rest:vararg
	inc \\first
	.irp r, \\rest
	dec \\r
	.endr
	.endm
	many %eax, %ebx, %ecx
	.macro lbl
l\\@:	jmp l\\@
	.endm
	lbl
	lbl
	.macro cat p
	mov %r\\p\\()d, %eax
	.endm
	cat 10
	.macro stop n
	mov $\\n, %eax
	.exitm
	mov $99, %eax
	.endm
	stop 5
	.rept 2
	.irp q, 1, 2
	shl $\\q, %r1\\q
	.endr
	.endr
	.purgem lbl
	.macro lbl
	hlt
	.endm
	LBL
`;

/** GNU as's .text bytes for a source (object file, no link: the sources have no relocations). */
function gnu(prefix: string, args: string[], source: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "exitlab-macro-"));
  try {
    writeFileSync(join(dir, "m.s"), source);
    execFileSync(prefix + "as", [...args, "-o", join(dir, "m.o"), join(dir, "m.s")], { stdio: ["ignore", "ignore", "pipe"] });
    execFileSync(prefix + "objcopy", ["-O", "binary", "-j", ".text", join(dir, "m.o"), join(dir, "m.bin")]);
    return new Uint8Array(readFileSync(join(dir, "m.bin")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("macros and repetition like GNU as", () => {
  it("expands the A64 workout (first words checked by hand against the GNU as manual's rules)", () => {
    const p = assembleA64(A64_SOURCE);
    // .rept N (N = 3): three nops; .irp over x1..x3: mov xN, #1 (Arm ARM C6.2.192 MOVZ)
    expect(hex(p.bytes.subarray(0, 24))).toBe("1f2003d5".repeat(3) + "210080d2" + "220080d2" + "230080d2");
    if (!haveTools("aarch64-linux-gnu-as", "aarch64-linux-gnu-objcopy")) {
      if (binutilsRequired) throw new Error("aarch64-linux-gnu-as is missing");
      return;
    }
    expect(hex(p.bytes)).toBe(hex(gnu("aarch64-linux-gnu-", [], A64_SOURCE)));
  });

  it("expands the x86 workout to GNU as's bytes", () => {
    const p = assembleX86(X86_SOURCE);
    expect(hex(p.bytes.subarray(0, 3))).toBe("909090");
    if (!haveTools("as", "objcopy")) {
      if (binutilsRequired) throw new Error("GNU as is missing");
      return;
    }
    expect(hex(p.bytes)).toBe(hex(gnu("", ["--64"], X86_SOURCE)));
  });

  it("splits arguments at commas, or at blanks when there is none", () => {
    expect(splitMacroArgs("x21 x22 32")).toEqual(["x21", "x22", "32"]);
    expect(splitMacroArgs("a=x23, off=48")).toEqual(["a=x23", "off=48"]);
    expect(splitMacroArgs(", 0x41")).toEqual(["", "0x41"]);
    expect(splitMacroArgs("f(1, 2), \"a, b\"")).toEqual(["f(1, 2)", "\"a, b\""]);
  });

  const error = (f: () => unknown): AsmError => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(AsmError);
      return e as AsmError;
    }
    throw new Error("expected an AsmError");
  };

  it("reports unclosed blocks, stray closers, missing arguments and runaway expansion with their line", () => {
    for (const asm of [(s: string) => assembleA64(s), (s: string) => assembleX86(s)]) {
      expect(error(() => asm("nop\n.irp r, 1, 2\nnop")).message).toMatch(/line 2.*\.irp without \.endr/);
      expect(error(() => asm("nop\n.endr")).message).toMatch(/line 2.*\.endr without/);
      expect(error(() => asm(".macro m a:req\nnop\n.endm\nm")).message).toMatch(/line 4.*required macro parameter 'a'/);
      expect(error(() => asm(".macro m\nm\n.endm\nm")).message).toMatch(/too deeply/);
      expect(error(() => asm(".rept 1000\n.rept 2000000\nnop\n.endr\n.endr")).message).toMatch(/too many/);
      expect(error(() => asm(".rept count\nnop\n.endr")).message).toMatch(/count/);
      expect(error(() => asm(".exitm")).message).toMatch(/outside a macro/);
    }
  });
});
