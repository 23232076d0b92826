// Running a generated x86 program: in exitlab (32-bit programs from the multiboot hand-off in
// protected mode; 64-bit programs after a long-mode entry like the built-in boot guest's; both end
// with `out %al, $0xf4`, whose IO_INSTRUCTION exit is left pending so the state is read there) and,
// in batches, under QEMU user mode (qemu-i386 / qemu-x86_64: one static ELF per batch, each
// program's registers and flags pushed to a dump area, everything written to stdout at the end).

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMachine } from "../../../runtime/index.js";
import { ARITH_FLAGS, X86_BUF_BIAS, X86_BUF_SIZE, X86_GPR32, X86_GPR64, flagNames, x86Gprs, type X86Bits, type X86Program } from "./x86-gen.js";
import { hex } from "./prng.js";
import { engineSettings } from "./engine.js";

/** The state a run ends in: GPRs by number (rsp, rbp 0), arithmetic flags, the buffer. */
export interface X86Final {
  r: bigint[];
  flags: number;
  buf: Uint8Array;
}

const bufBytes = (b: Uint8Array) => {
  const out: string[] = [];
  for (let i = 0; i < b.length; i += 16) out.push(`.byte ${Array.from(b.subarray(i, i + 16)).join(", ")}`);
  return out;
};

/** Flags, base register and every GPR from the generator's values (the stack must be usable). */
function prologue(p: X86Program, bufLabel: string): string[] {
  const out: string[] = [];
  if (p.bits === 64) out.push(`pushq $${hex(p.flags)}`, "popfq", `mov $${bufLabel}+${X86_BUF_BIAS}, %rbp`);
  else out.push(`pushl $${hex(p.flags)}`, "popfl", `mov $${bufLabel}+${X86_BUF_BIAS}, %ebp`);
  for (const r of x86Gprs(p.bits)) out.push(p.bits === 64 ? `movabsq $${hex(p.init[r]!)}, %${X86_GPR64[r]}` : `movl $${hex(p.init[r]!)}, %${X86_GPR32[r]}`);
  return out;
}

/** Long-mode entry (after runtime/guests/x86_64/boot.ts): GDT, PAE, identity map of 8 MiB, LME, PG. */
const LONG_MODE_ENTRY = [
  ".code32",
  "start:",
  "mov $stacktop, %esp",
  "lgdtl gdt64_desc",
  // PAE, and OSFXSR: SSE on, as Linux turns it on for the processes QEMU user mode runs (X86GenOptions.sse).
  "mov %cr4, %eax", "bts $5, %eax", "bts $9, %eax", "mov %eax, %cr4",
  "mov $ptl4, %eax", "mov %eax, %cr3",
  "mov $0xc0000080, %ecx", "rdmsr", "bts $8, %eax", "wrmsr",
  "mov %cr0, %eax", "bts $0, %eax", "bts $31, %eax", "mov %eax, %cr0",
  "ljmpl $8, $start64",
  ".code64",
  "start64:",
  "mov $0x10, %ax", "mov %ax, %ds", "mov %ax, %es", "mov %ax, %ss",
  "mov $stacktop, %rsp",
];
const LONG_MODE_DATA = [
  ".balign 8",
  "gdt64:", ".quad 0", ".quad 0x00af9b000000ffff", ".quad 0x00cf93000000ffff", "gdt64_end:",
  "gdt64_desc:", ".word gdt64_end - gdt64 - 1", ".long gdt64",
  ".balign 4096, 0",
  "ptl4: .quad ptl3 + 7", ".fill 511, 8, 0",
  "ptl3: .quad ptl2 + 7", ".fill 511, 8, 0",
  "ptl2: .quad 0x0000001e7", ".quad 0x0002001e7", ".quad 0x0004001e7", ".quad 0x0006001e7", ".fill 508, 8, 0",
];

export function x86ExitlabSource(p: X86Program): string {
  const head = p.bits === 64 ? LONG_MODE_ENTRY : [".code32", "start:", "mov $stacktop, %esp", "mov %cr4, %eax", "bts $9, %eax", "mov %eax, %cr4"];
  return [
    ...head,
    ...prologue(p, "buf"),
    ...p.body,
    "out %al, $0xf4",
    ...(p.bits === 64 ? LONG_MODE_DATA : []),
    ".balign 4096, 0", // the data on its own page, away from the code
    "buf:",
    ...bufBytes(p.buf),
    ".balign 4096, 0",
    "stack: .space 256",
    "stacktop:",
  ].join("\n") + "\n";
}

/** Run on the interpreter (jit false) or the compiled path (jit true): see engine.ts. */
export function x86RunExitlab(p: X86Program, jit: boolean): X86Final {
  const m = createMachine("x86_64", { guest: { source: x86ExitlabSource(p) }, settings: engineSettings("x86_64", jit) });
  const r = m.run({ stopOnExit: (e) => e.reason === "IO_INSTRUCTION" });
  if (r.stop !== "exit") throw new Error(`program did not reach its out: ${r.stop} ${r.message ?? ""} ${m.halted?.message ?? ""} rip ${hex(m.pc)}`);
  const mask = p.bits === 64 ? (1n << 64n) - 1n : 0xffff_ffffn;
  const rr = Array.from({ length: 16 }, (_, i) => (x86Gprs(p.bits).includes(i) ? m.readRegister(X86_GPR64[i]!) & mask : 0n));
  const base = Number(m.readRegister(p.bits === 64 ? "rbp" : "ebp"));
  return { r: rr, flags: Number(m.readRegister("rflags")) & ARITH_FLAGS, buf: new Uint8Array(m.readPhysical(base - X86_BUF_BIAS, X86_BUF_SIZE)) };
}

export const x86QemuTools = (bits: X86Bits) => [bits === 64 ? "qemu-x86_64" : "qemu-i386", "as", "ld"];

/** Run a batch of programs of one width under QEMU user mode; one state per program. */
export function x86RunQemu(programs: X86Program[], bits: X86Bits): X86Final[] {
  const DUMP = 128; // flags + 14 registers, 8 bytes (64-bit) or 4 bytes (32-bit) each
  const W = bits === 64 ? 8 : 4;
  const gprs = x86Gprs(bits);
  const text: string[] = [bits === 64 ? ".code64" : ".code32", ".text", ".globl _start", "_start:"];
  const data: string[] = [".data", ".balign 16", "dumps:"];
  programs.forEach((p, i) => {
    if (p.bits !== bits) throw new Error("one width per batch");
    text.push(bits === 64 ? `mov $dump${i}+${DUMP}, %rsp` : `mov $dump${i}+${DUMP}, %esp`, ...prologue(p, `buf${i}`), ...p.body);
    // flags at dump end - W, then each register below it
    text.push(bits === 64 ? "pushfq" : "pushfl");
    const names = bits === 64 ? X86_GPR64 : X86_GPR32;
    gprs.forEach((r, k) => text.push(`mov %${names[r]}, -${W * (k + 1)}(%${bits === 64 ? "rsp" : "esp"})`));
    data.push(`dump${i}: .space ${DUMP}`);
  });
  programs.forEach((p, i) => data.push(`buf${i}:`, ...bufBytes(p.buf)));
  data.push("dumps_end:");
  if (bits === 64) text.push("mov $1, %eax", "mov $1, %edi", "mov $dumps, %esi", "mov $dumps_end - dumps, %edx", "syscall", "mov $60, %eax", "xor %edi, %edi", "syscall");
  else text.push("mov $4, %eax", "mov $1, %ebx", "mov $dumps, %ecx", "mov $dumps_end - dumps, %edx", "int $0x80", "mov $1, %eax", "xor %ebx, %ebx", "int $0x80");
  const dir = mkdtempSync(join(tmpdir(), "exitlab-x86diff-"));
  try {
    writeFileSync(join(dir, "p.s"), [...text, ...data].join("\n") + "\n");
    execFileSync("as", [bits === 64 ? "--64" : "--32", "-o", join(dir, "p.o"), join(dir, "p.s")]);
    execFileSync("ld", ["-m", bits === 64 ? "elf_x86_64" : "elf_i386", "-static", "-o", join(dir, "p"), join(dir, "p.o")]);
    const out = execFileSync(bits === 64 ? "qemu-x86_64" : "qemu-i386", [join(dir, "p")], { maxBuffer: 64 << 20 });
    const want = programs.length * (DUMP + X86_BUF_SIZE);
    if (out.length !== want) throw new Error(`QEMU wrote ${out.length} bytes, expected ${want}`);
    const view = new DataView(out.buffer, out.byteOffset, out.length);
    const word = (at: number) => (W === 8 ? view.getBigUint64(at, true) : BigInt(view.getUint32(at, true)));
    return programs.map((_, i) => {
      const end = i * DUMP + DUMP;
      const r = Array.from({ length: 16 }, () => 0n);
      gprs.forEach((g, k) => (r[g] = word(end - W - W * (k + 1))));
      const flags = Number(word(end - W)) & ARITH_FLAGS;
      const at = programs.length * DUMP + i * X86_BUF_SIZE;
      return { r, flags, buf: new Uint8Array(out.subarray(at, at + X86_BUF_SIZE)) };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Differences as readable lines; `flagMask` the arithmetic flags to compare. */
export function x86Diff(want: X86Final, got: X86Final, bits: X86Bits, flagMask = ARITH_FLAGS): string[] {
  const out: string[] = [];
  const names = bits === 64 ? X86_GPR64 : X86_GPR32;
  for (const r of x86Gprs(bits)) if (want.r[r] !== got.r[r]) out.push(`${names[r]}: expected ${hex(want.r[r]!)}, got ${hex(got.r[r]!)}`);
  const fd = (want.flags ^ got.flags) & flagMask;
  if (fd) out.push(`flags ${flagNames(fd)}: expected ${hex(want.flags & flagMask)}, got ${hex(got.flags & flagMask)} (compared: ${flagNames(flagMask)})`);
  for (let i = 0; i < want.buf.length; i++) {
    if (want.buf[i] !== got.buf[i]) out.push(`buf[base${i - X86_BUF_BIAS >= 0 ? "+" : ""}${i - X86_BUF_BIAS}]: expected ${hex(want.buf[i]!)}, got ${hex(got.buf[i]!)}`);
  }
  return out;
}
