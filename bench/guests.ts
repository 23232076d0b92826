// The benchmark loops, twice each: as exitlab guests (assembled by exitlab, run on its machines)
// and as Linux user programs for the anchor (QEMU user mode: static ELF files built with GNU as/ld).
// Both sides run the same loop body; the counts are parameters so each side can run long enough.

import type { Arch } from "../runtime/core/machine.js";
import { LONG_MODE_ENTRY, LONG_MODE_TABLES } from "../runtime/guests/x86_64/long-mode.js";

/** Guest instructions per loop iteration (the loop body, branch included). */
export const A64_LOOP_INSNS = 4;
export const X86_LOOP_INSNS = 6;

/** The A64 tight loop body, shared by the exitlab guest and the anchor program. */
const A64_BODY = `
1:  add x0, x0, x2
    eor x3, x3, x0, lsr #3
    subs x1, x1, #1
    b.ne 1b`;

const X86_64_BODY = `
1:  add %rdx, %rax
    mov %rax, %rbx
    shr $3, %rbx
    xor %rbx, %rcx
    dec %rsi
    jnz 1b`;

const X86_32_BODY = `
1:  add %edx, %eax
    mov %eax, %ebx
    shr $3, %ebx
    xor %ebx, %ecx
    dec %esi
    jnz 1b`;

// ---- exitlab guests ----

/** A64 loop of `n` iterations (n ≥ 1), then PSCI SYSTEM_OFF. */
export function exitlabA64Loop(n: number): string {
  return `
_start:
    ldr x1, =${n}
    mov x2, #0x1234
${A64_BODY}
    ldr x0, =0x84000008
    hvc #0
`;
}

/**
 * x86-64 loop of `n` iterations in 64-bit mode. exitlab's x86 guests start in 32-bit protected
 * mode (the multiboot hand-off), so a prologue enters long mode the way the built-in boot guest
 * does (GDT, CR4.PAE, CR3, EFER.LME, CR0.PG, far jump): about 20 instructions and a few exits
 * before the loop; the run ends through isa-debug-exit.
 */
export function exitlabX86Loop64(n: number): string {
  return `
    .code32
start:
${LONG_MODE_ENTRY}
    mov $${n}, %rsi
    mov $0x1234, %rdx
    xor %eax, %eax
    xor %ecx, %ecx
${X86_64_BODY}
    xor %eax, %eax
    out %al, $0xf4
    hlt
${LONG_MODE_TABLES}`;
}

/** The same loop with 32-bit registers in 32-bit protected mode (the fallback form). */
export function exitlabX86Loop32(n: number): string {
  return `
    .code32
start:
    mov $${n}, %esi
    mov $0x1234, %edx
    xor %eax, %eax
    xor %ecx, %ecx
${X86_32_BODY}
    mov $0xf4, %dx
    mov $0, %al
    out %al, %dx
`;
}

/**
 * A guest that exits on every iteration (the existing EXIT_LOOPS of bench/run.ts, count as a
 * parameter): x86 `cpuid` always exits under VMX; arm64 `hvc #0` (PSCI_VERSION) traps to EL2.
 * Exits = n + 1 (the final power-off / isa-debug-exit one).
 */
export function exitlabExitLoop(arch: Arch, n: number): string {
  return arch === "x86_64"
    ? `
    .code32
start:
    mov $${n}, %esi
1:  xor %eax, %eax
    cpuid
    dec %esi
    jnz 1b
    mov $0xf4, %dx
    out %al, %dx
`
    : `
_start:
    ldr x19, =${n}
1:  ldr x0, =0x84000000
    hvc #0
    subs x19, x19, #1
    b.ne 1b
    ldr x0, =0x84000008
    hvc #0
`;
}

// ---- anchor programs (Linux user mode, static, no libc) ----

export type AnchorTarget = "aarch64" | "x86_64" | "i386";

/** GNU as source of the tight loop run `n` times (n may be 0: the loop is skipped). */
export function anchorLoop(target: AnchorTarget, n: number): string {
  switch (target) {
    case "aarch64":
      return `
    .global _start
_start:
    ldr x1, =${n}
    mov x2, #0x1234
    cbz x1, 2f
${A64_BODY}
2:  mov x0, #0
    mov x8, #93         // exit
    svc #0
`;
    case "x86_64":
      return `
    .globl _start
_start:
    mov $${n}, %rsi
    mov $0x1234, %rdx
    test %rsi, %rsi
    jz 2f
${X86_64_BODY}
2:  mov $60, %eax       # exit
    xor %edi, %edi
    syscall
`;
    case "i386":
      return `
    .globl _start
_start:
    mov $${n}, %esi
    mov $0x1234, %edx
    test %esi, %esi
    jz 2f
${X86_32_BODY}
2:  mov $1, %eax        # exit
    xor %ebx, %ebx
    int $0x80
`;
  }
}

/** GNU as source of `n` getpid system calls (n may be 0). */
export function anchorSyscallLoop(target: "aarch64" | "x86_64", n: number): string {
  return target === "aarch64"
    ? `
    .global _start
_start:
    ldr x19, =${n}
    cbz x19, 2f
1:  mov x8, #172        // getpid
    svc #0
    subs x19, x19, #1
    b.ne 1b
2:  mov x0, #0
    mov x8, #93
    svc #0
`
    : `
    .globl _start
_start:
    mov $${n}, %r12
    test %r12, %r12
    jz 2f
1:  mov $39, %eax       # getpid
    syscall
    dec %r12
    jnz 1b
2:  mov $60, %eax
    xor %edi, %edi
    syscall
`;
}
