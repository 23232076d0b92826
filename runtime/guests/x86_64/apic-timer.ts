// 64-bit guest pieces for taking the local APIC timer's interrupts, shared by the bench's
// interrupt-on loop and the engine's tests: the IDT gate of the timer's vector, the x2APIC timer
// set periodic, a handler that counts ticks and ends the interrupt, and the IDT itself. Sources:
// Intel SDM Vol. 3 6.14.1 and Figure 6-8 (64-bit interrupt gate: offset 15:0, selector, type
// 0x8e00, offset 31:16, offset 63:32), 11.4.4 (IA32_APIC_BASE 0x1b: EN bit 11, EXTD bit 10),
// 11.12 and Table 11-6 (x2APIC MSRs: SVR 0x80f, TDCR 0x83e, LVT timer 0x832, TMICT 0x838,
// EOI 0x80b), 11.5.4 (LVT timer mode bits 18:17, 01b periodic; TDCR 1011b divide by 1).

/** The vector the timer interrupts with. */
export const TIMER_VECTOR = 0x30;

/**
 * 64-bit code: the interrupt gate of TIMER_VECTOR for `handler` (a label; selector 8) written into
 * `idt64` (idt64Table) and the IDT loaded from `idt64_desc`. Clobbers rax and rdi.
 */
export function idtGate64(handler: string): string {
  const at = TIMER_VECTOR * 16;
  return `
    lea ${handler}(%rip), %rax
    lea idt64(%rip), %rdi
    mov %ax, 0x${at.toString(16)}(%rdi)
    movw $8, 0x${(at + 2).toString(16)}(%rdi)
    movw $0x8e00, 0x${(at + 4).toString(16)}(%rdi)
    shr $16, %rax
    mov %ax, 0x${(at + 6).toString(16)}(%rdi)
    shr $16, %rax
    mov %eax, 0x${(at + 8).toString(16)}(%rdi)
    lidt idt64_desc(%rip)`;
}

/**
 * 64-bit code: x2APIC mode on, the APIC software-enabled, the timer periodic on TIMER_VECTOR
 * dividing by 1 and counting `period` cycles, then STI. Clobbers rax, rcx and rdx.
 */
export function x2apicPeriodicTimer(period: number): string {
  return `
    mov $0x1b, %ecx
    rdmsr
    or $0xc00, %eax
    wrmsr
    xor %edx, %edx
    mov $0x80f, %ecx
    mov $0x1ff, %eax
    wrmsr
    mov $0x83e, %ecx
    mov $0x0b, %eax
    wrmsr
    mov $0x832, %ecx
    mov $0x${(0x20000 | TIMER_VECTOR).toString(16)}, %eax
    wrmsr
    mov $0x838, %ecx
    mov $${period}, %eax
    wrmsr
    sti`;
}

/** Write 0 to the x2APIC EOI register (0x80b). Clobbers rax, rcx and rdx. */
export const X2APIC_EOI = `
    mov $0x80b, %ecx
    xor %eax, %eax
    xor %edx, %edx
    wrmsr`;

/** `timer_handler`: counts the tick in the 32-bit `ticks` (the guest defines it), EOI, IRETQ. */
export const TICK_HANDLER = `
timer_handler:
    push %rax
    push %rcx
    push %rdx
    incl ticks(%rip)${X2APIC_EOI}
    pop %rdx
    pop %rcx
    pop %rax
    iretq`;

/** The IDT up to TIMER_VECTOR (labels idt64, zero but for the gate idtGate64 writes) and its descriptor idt64_desc. */
export const IDT64_TABLE = `
    .align 8
idt64_desc:
    .word ${TIMER_VECTOR + 1} * 16 - 1
    .quad idt64
    .balign 16
idt64:
    .fill ${TIMER_VECTOR + 1} * 2, 8, 0`;
