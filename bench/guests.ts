// The benchmark loops, twice each: as exitlab guests (assembled by exitlab, run on its machines)
// and as Linux user programs for the anchor (QEMU user mode: static ELF files built with GNU as/ld).
// Both sides run the same loop body; the counts are parameters so each side can run long enough.

import type { Arch } from "../runtime/core/machine.js";
import { IDT64_TABLE, TICK_HANDLER, idtGate64, x2apicPeriodicTimer } from "../runtime/guests/x86_64/apic-timer.js";
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

/**
 * The call loop: the x86-64 body above as a function called through a pointer, the shape of
 * kvm-unit-tests' vmexit.c loops (`for (i = 0; i < iterations; ++i) func();`): small blocks
 * joined by CALL and RET, which the engine runs as one trace (runtime/x86/trace.ts). %r12 holds
 * the function, the stack is set by the caller.
 */
const X86_CALL_BODY = `
    lea 3f(%rip), %r12
1:  call *%r12
    dec %rsi
    jnz 1b
    jmp 4f
3:  add %rdx, %rax
    mov %rax, %rbx
    shr $3, %rbx
    xor %rbx, %rcx
    ret
4:`;
/** Instructions per iteration of the call loop (call, four in the function, ret, dec, jnz). */
export const X86_CALL_LOOP_INSNS = 8;

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

/** Timer interrupts of the interrupt-on loops: every 1 ms of modelled time (1,000,000 cycles of the 1 GHz core). */
export const TIMER_PERIOD_MS = 1;

/**
 * The A64 loop with interrupts on: the EL1 virtual timer (CNTV_TVAL_EL0/CNTV_CTL_EL0, Arm ARM
 * D11.2; a period of CNTFRQ_EL0 / 1000 counts) raises PPI 27 (QEMU virt's ARCH_TIMER_VIRT_IRQ 11
 * + 16) through the GICv2 at QEMU virt's addresses (distributor 0x08000000, CPU interface
 * 0x08010000; GICv2 IHI 0048B 4.3/4.4: GICD_CTLR 0x000, GICD_ISENABLER0 0x100, GICC_CTLR 0x00,
 * GICC_PMR 0x04, GICC_IAR 0x0c, GICC_EOIR 0x10); the IRQ vector (VBAR_EL1 + 0x280, current EL
 * with SP_ELx) acknowledges, re-arms the timer, counts the tick and ends the interrupt. The
 * counters live on a page of their own (no store to a page holding code).
 */
export function exitlabA64TimerLoop(n: number): string {
  return `
_start:
    ldr x0, =0x48000000
    mov sp, x0
    adr x0, vectors
    msr vbar_el1, x0
    ldr x1, =0x08000000
    mov w2, #1
    str w2, [x1]
    mov w2, #0x8000000
    str w2, [x1, #0x100]
    ldr x1, =0x08010000
    mov w2, #0xff
    str w2, [x1, #4]
    mov w2, #1
    str w2, [x1]
    mrs x2, cntfrq_el0
    mov x3, #${1000 / TIMER_PERIOD_MS}
    udiv x2, x2, x3
    adr x3, period
    str x2, [x3]
    msr cntv_tval_el0, x2
    mov x2, #1
    msr cntv_ctl_el0, x2
    msr daifclr, #2
    ldr x1, =${n}
    mov x2, #0x1234
${A64_BODY}
    msr daifset, #2
    ldr x0, =0x84000008
    hvc #0
    .ltorg
    .balign 2048
vectors:
    .space 0x280
    stp x0, x1, [sp, #-16]!
    stp x2, x3, [sp, #-16]!
    ldr x0, =0x08010000
    ldr w1, [x0, #0xc]
    adr x2, period
    ldr x3, [x2]
    msr cntv_tval_el0, x3
    ldr w3, [x2, #8]
    add w3, w3, #1
    str w3, [x2, #8]
    str w1, [x0, #0x10]
    ldp x2, x3, [sp], #16
    ldp x0, x1, [sp], #16
    eret
    .ltorg
    .balign 4096
period:
    .quad 0
ticks:
    .quad 0
`;
}

/**
 * x86-64 loop of `n` iterations in 64-bit mode. exitlab's x86 guests start in 32-bit protected
 * mode (the multiboot hand-off), so a prologue enters long mode the way the built-in boot guest
 * does (GDT, CR4.PAE, CR3, EFER.LME, CR0.PG, far jump): about 20 instructions and a few exits
 * before the loop; the run ends through isa-debug-exit.
 */
export function exitlabX86Loop64(n: number): string {
  return x86_64GuestLoop(n, X86_64_BODY, "");
}

/**
 * An exitlab guest running `body` in 64-bit mode with %rsi = n, %rdx = 0x1234, %rax = %rcx = 0,
 * `setup` (64-bit code) before it; it enters long mode first and ends through isa-debug-exit.
 */
function x86_64GuestLoop(n: number, body: string, setup: string): string {
  return `
    .code32
start:
${LONG_MODE_ENTRY}${setup}
    mov $${n}, %rsi
    mov $0x1234, %rdx
    xor %eax, %eax
    xor %ecx, %ecx
${body}
    xor %eax, %eax
    out %al, $0xf4
    hlt
${LONG_MODE_TABLES}`;
}

/** Modelled cycles between the timer interrupts of exitlabX86TimerLoop64: TIMER_PERIOD_MS at the modelled 1 GHz core. */
export const X86_TIMER_PERIOD_CYCLES = TIMER_PERIOD_MS * 1_000_000;

/**
 * The 64-bit loop with interrupts on: the local APIC timer (x2APIC MSRs: SVR 0x80f, TDCR 0x83e
 * divide by 1, LVTT 0x832 periodic vector 0x30, TMICT 0x838; Intel SDM Vol. 3 11.5.4, 11.12)
 * fires every X86_TIMER_PERIOD_CYCLES and a handler counts the tick and writes EOI (0x80b). The
 * engine looks at interrupts between blocks, so the loop's speed should hold: this measures it.
 * The IDT gate for vector 0x30 (SDM Vol. 3 Figure 6-8, 64-bit interrupt gate) is written at run
 * time; the tick counter lives on a page of its own (a store to a page holding code would drop
 * its compiled blocks).
 */
export function exitlabX86TimerLoop64(n: number): string {
  return `
    .code32
start:
    mov $0x700000, %esp
${LONG_MODE_ENTRY}${idtGate64("timer_handler")}${x2apicPeriodicTimer(X86_TIMER_PERIOD_CYCLES)}
    mov $${n}, %rsi
    mov $0x1234, %rdx
    xor %eax, %eax
    xor %ecx, %ecx
${X86_64_BODY}
    cli
    xor %eax, %eax
    out %al, $0xf4
    hlt${TICK_HANDLER}${IDT64_TABLE}
${LONG_MODE_TABLES}
    .balign 4096, 0
ticks:
    .long 0`;
}

/** The call loop (X86_CALL_BODY) of `n` iterations as an exitlab guest in 64-bit mode. */
export function exitlabX86CallLoop64(n: number): string {
  return x86_64GuestLoop(n, X86_CALL_BODY, "\n    mov $0x700000, %rsp");
}

/** The call loop as a Linux x86-64 user program for QEMU user mode (n may be 0: the loop is skipped). */
export function anchorCallLoop(n: number): string {
  return x86_64UserLoop(n, X86_CALL_BODY);
}

/** A Linux x86-64 user program running `body` with %rsi = n (skipped when 0), %rdx = 0x1234, then exit(0). */
function x86_64UserLoop(n: number, body: string): string {
  return `
    .globl _start
_start:
    mov $${n}, %rsi
    mov $0x1234, %rdx
    test %rsi, %rsi
    jz 2f
${body}
2:  mov $60, %eax       # exit
    xor %edi, %edi
    syscall
`;
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
      return x86_64UserLoop(n, X86_64_BODY);
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
