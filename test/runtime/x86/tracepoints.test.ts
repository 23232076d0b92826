// Every x86 tracepoint, field by field, in both eras: a guest that triggers it, and the text a host
// prints, built from the kernel's TP_printk and TP_fast_assign. "2015" is Linux v4.1
// (arch/x86/kvm/trace.h, include/trace/events/kvm.h, arch/x86/kvm/vmx.c, arch/x86/kvm/x86.c);
// "today" is the KVM x86 tree of Linux 6.1x (the same trace.h; vmx/vmx.c vmx_get_exit_info;
// x86.c x86_decode_emulated_instruction, handle_ud).

import { describe, expect, test } from "vitest";
import { createX86Machine, type X86Machine } from "../../../runtime/x86/machine.js";
import { X86_TRACEPOINTS, type X86TracepointName } from "../../../runtime/x86/tracepoints.js";
import type { KvmEra } from "../../../runtime/core/trace.js";
import { X86_VCPU_STATS } from "../../../runtime/x86/kvm/vcpu.js";

/** A flat GDT (code 0x08, data 0x10) and an empty 256-gate IDT, for guests that take exceptions. */
const TABLES = `
gdtr:
  .word 23
  .long gdt
idtr:
  .word 0x7ff
  .long idt
.balign 8
gdt:
  .quad 0
  .quad 0x00cf9a000000ffff
  .quad 0x00cf92000000ffff
idt:
  .fill 256, 8, 0
`;

/** Interrupt gate `vector` → `handler` (selector 0x08), our GDT and IDT, and a stack on a page EPT does not map yet. */
const GATE = (vector: number) => `
  mov $handler, %eax
  mov %ax, idt + ${vector}*8
  shr $16, %eax
  mov %ax, idt + ${vector}*8 + 6
  movw $0x08, idt + ${vector}*8 + 2
  movw $0x8e00, idt + ${vector}*8 + 4
  lgdt gdtr
  lidt idtr
  mov $0x800000, %esp
`;

/**
 * The in-kernel APIC's events (issue 16): the guest enables its APIC, sends itself vector 0x31
 * through the ICR (self shorthand), takes it with interrupts on and EOIs it in the handler.
 * TP_printk of v4.1 trace.h: kvm_apic "apic_%s %s = 0x%x" (today 0x%llx), kvm_apic_ipi
 * "dst %x vec %u (%s|%s|%s|%s|%s)", kvm_apic_accept_irq "apicid %x vec %u (%s|%s)", kvm_eoi
 * "apicid %x vector %d", kvm_inj_virq "irq %u" (today "%s 0x%x%s").
 */
function APIC_ROWS(): Record<string, Row[]> {
  const guest = `${GATE(0x31)}\n  movl $0x1ff, 0xfee000f0\n  sti\n  movl $0x40031, 0xfee00300\n  nop\n  cli\n  hlt\nhandler:\n  movl $0, 0xfee000b0\n  iret\n${TABLES}`;
  const row = (name: string, expected: Row["expected"]): Row[] => [{ what: "a self-IPI of vector 0x31, taken and EOI'd", guest, names: [name], expected }];
  return {
    kvm_apic: row("kvm_apic", { "2015": ["kvm_apic: apic_write APIC_SPIV = 0x1ff", "kvm_apic: apic_write APIC_ICR = 0x40031"], today: ["kvm_apic: apic_write APIC_SPIV = 0x1ff", "kvm_apic: apic_write APIC_ICR = 0x40031"] }),
    kvm_apic_ipi: row("kvm_apic_ipi", { "2015": ["kvm_apic_ipi: dst 0 vec 49 (Fixed|physical|de-assert|edge|self)"], today: ["kvm_apic_ipi: dst 0 vec 49 (Fixed|physical|de-assert|edge|self)"] }),
    kvm_apic_accept_irq: row("kvm_apic_accept_irq", { "2015": ["kvm_apic_accept_irq: apicid 0 vec 49 (Fixed|edge)"], today: ["kvm_apic_accept_irq: apicid 0 vec 49 (Fixed|edge)"] }),
    kvm_inj_virq: row("kvm_inj_virq", { "2015": ["kvm_inj_virq: irq 49"], today: [] }),
    kvm_eoi: row("kvm_eoi", { "2015": ["kvm_eoi: apicid 0 vector 49"], today: [] }),
    // include/trace/events/kvm.h kvm_vcpu_wakeup: v4.1 "%s time %lld ns", today adds ", polling %s".
    // With two vCPUs (the AP waiting for SIPI) HLT blocks vCPU 0 until its APIC timer (1000 cycles
    // of the 1 GHz clock from the TMICT write) wakes it: 549 ns asleep, the rest spent in the exits
    // after the write (its APIC access or APIC write, the HLT exit), which cost modelled cycles.
    kvm_vcpu_wakeup: [{
      what: "vCPU 0 of two blocks in HLT until its one-shot APIC timer fires",
      guest: `${GATE(0x31)}\n  movl $0x1ff, 0xfee000f0\n  movl $0x31, 0xfee00320\n  movl $1000, 0xfee00380\n  sti\n  hlt\n  cli\n  hlt\nhandler:\n  movl $0, 0xfee000b0\n  iret\n${TABLES}`,
      names: ["kvm_vcpu_wakeup"],
      vcpus: 2,
      expected: { "2015": ["kvm_vcpu_wakeup: wait time 549 ns"], today: ["kvm_vcpu_wakeup: wait time 549 ns, polling valid"] },
    }],
  };
}

interface Row {
  /** What the row shows and where the text comes from. */
  what: string;
  guest: string;
  mode?: 16 | 32 | 64;
  /** The tracepoints whose lines are compared (in trace order). */
  names: string[];
  /** vCPUs of the VM (default 1). */
  vcpus?: number;
  /** What the VMM does once the guest has stopped (e.g. raise interrupt lines). */
  after?: (m: X86Machine) => void;
  expected: Record<KvmEra, string[]>;
}

function traceOf(row: Row, era: KvmEra): string[] {
  const m = createX86Machine({ guest: { source: `start:\n${row.guest}\n`, mode: row.mode ?? 32 }, settings: { stepLimit: 10_000, era, ...(row.vcpus ? { vcpus: row.vcpus } : {}) } });
  m.run({ maxSteps: 5_000 });
  row.after?.(m);
  return m.trace.lines(era, row.names);
}

/** kvm_pic_set_irq of the PIC row: IRQ 1 raised, lowered, raised again (coalesced), IRQ 4 (masked), IRQ 11 (the slave's IR3, level). */
const PIC_LINES = [
  "kvm_pic_set_irq: chip 0 pin 1 (edge)",
  "kvm_pic_set_irq: chip 0 pin 1 (edge)",
  "kvm_pic_set_irq: chip 0 pin 1 (edge) (coalesced)",
  "kvm_pic_set_irq: chip 0 pin 4 (edge|masked)",
  "kvm_pic_set_irq: chip 1 pin 3 (level)",
];

/** Lines of the guest's first exits past the code page's EPT violation at 0x400000 (qualification 0x184: fetch, GPA translated). */
const ROWS: Record<string, Row[]> = {
  ...APIC_ROWS(),
  kvm_pic_set_irq: [
    {
      // i8259.c kvm_pic_set_irq traces after pic_set_irq1: "chip %u pin %u (%s%s)%s" — edge or
      // level from that chip's ELCR, "|masked" from its IMR, " (coalesced)" when the request was
      // pending already (pic_set_irq1 returned 0). The same text in v4.1 and today.
      what: "the guest initializes the master (ICW1-4), masks all but IRQ 1, makes IRQ 11 level-triggered; the VMM drives lines",
      guest: [
        "mov $0x11, %al\nout %al, $0x20", // ICW1: edge, cascade, ICW4 needed
        "mov $0x20, %al\nout %al, $0x21", // ICW2: vectors 0x20-0x27
        "mov $0x04, %al\nout %al, $0x21", // ICW3: the slave on IR2
        "mov $0x01, %al\nout %al, $0x21", // ICW4: 8086 mode
        "mov $0xfd, %al\nout %al, $0x21", // OCW1: all masked but IR1
        "mov $0x08, %al\nmov $0x4d1, %dx\nout %al, %dx", // ELCR2: IRQ 11 level-triggered
        "hlt",
      ].join("\n"),
      after: (m) => {
        m.setIrqLine(1, true);
        m.setIrqLine(1, false);
        m.setIrqLine(1, true); // a second edge while IRR still holds the first: coalesced
        m.setIrqLine(4, true);
        m.setIrqLine(11, true);
      },
      names: ["kvm_pic_set_irq"],
      expected: {
        "2015": PIC_LINES,
        today: PIC_LINES,
      },
    },
  ],
  kvm_set_irq: [
    {
      // virt/kvm/irqchip.c kvm_set_irq: "gsi %u level %d source %d" (include/trace/events/kvm.h, the
      // same in v4.1 and today), before the routes; source 0 is user space (KVM_USERSPACE_IRQ_SOURCE_ID).
      what: "the VMM raises GSI 9, lowers it, raises GSI 17 (no PIC pin)",
      guest: "hlt",
      after: (m) => {
        m.setIrqLine(9, true);
        m.setIrqLine(9, false);
        m.setIrqLine(17, true);
      },
      names: ["kvm_set_irq"],
      expected: {
        "2015": ["kvm_set_irq: gsi 9 level 1 source 0", "kvm_set_irq: gsi 9 level 0 source 0", "kvm_set_irq: gsi 17 level 1 source 0"],
        today: ["kvm_set_irq: gsi 9 level 1 source 0", "kvm_set_irq: gsi 9 level 0 source 0", "kvm_set_irq: gsi 17 level 1 source 0"],
      },
    },
  ],
  kvm_ioapic_set_irq: [
    {
      // ioapic.c ioapic_set_irq traces the pin's redirection entry after servicing it: v4.1's
      // include/trace/events/kvm.h prints "vec=%u", today's arch/x86/kvm/trace.h "vec %u".
      what: "the guest programs I/O APIC pin 2 (vector 0x31, level, logical destination 1, masked); the VMM raises it and pin 5 twice (the second coalesces)",
      mode: 32,
      guest: [
        "movl $0x14, 0xfec00000\nmovl $0x1b931, 0xfec00010", // IOREDTBL2 low (register 0x10 + 2 × pin): vector 0x31, lowest priority, logical, level, masked
        "movl $0x15, 0xfec00000\nmovl $0x01000000, 0xfec00010", // IOREDTBL2 high: destination 1
        "hlt",
      ].join("\n"),
      after: (m) => {
        m.setIrqLine(2, true);
        m.setIrqLine(5, true);
        m.setIrqLine(5, true);
      },
      names: ["kvm_ioapic_set_irq"],
      expected: {
        "2015": ["kvm_ioapic_set_irq: pin 2 dst 1 vec=49 (LowPrio|logical|level|masked)", "kvm_ioapic_set_irq: pin 5 dst 0 vec=0 (Fixed|physical|edge|masked)", "kvm_ioapic_set_irq: pin 5 dst 0 vec=0 (Fixed|physical|edge|masked) (coalesced)"],
        today: ["kvm_ioapic_set_irq: pin 2 dst 1 vec 49 (LowPrio|logical|level|masked)", "kvm_ioapic_set_irq: pin 5 dst 0 vec 0 (Fixed|physical|edge|masked)", "kvm_ioapic_set_irq: pin 5 dst 0 vec 0 (Fixed|physical|edge|masked) (coalesced)"],
      },
    },
  ],
  kvm_exit: [
    {
      // v4.1 vmx_get_exit_info: info1 = EXIT_QUALIFICATION, info2 = VM_EXIT_INTR_INFO (printed "%llx").
      // Today's: info2 = IDT-vectoring info, intr_info = VM_EXIT_INTR_INFO, error_code only with
      // is_exception_with_error_code(intr_info). ud2 intercepted (#UD in the exception bitmap):
      // intr_info 0x80000306 (valid, hardware exception, vector 6, SDM Table 24-15).
      what: "#UD intercept from ud2: 2015 info2 = VM-exit interruption info; today info2 = IDT-vectoring info (0)",
      guest: "ud2\nhlt",
      names: ["kvm_exit"],
      expected: {
        "2015": ["kvm_exit: reason EPT_VIOLATION rip 0x400000 info 184 0", "kvm_exit: reason EXCEPTION_NMI rip 0x400000 info 0 80000306", "kvm_exit: reason TRIPLE_FAULT rip 0x400000 info 0 0"],
        today: [
          "kvm_exit: vcpu 0 reason EPT_VIOLATION rip 0x400000 info1 0x0000000000000184 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000",
          "kvm_exit: vcpu 0 reason EXCEPTION_NMI rip 0x400000 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x80000306 error_code 0x00000000",
          "kvm_exit: vcpu 0 reason TRIPLE_FAULT rip 0x400000 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000",
        ],
      },
    },
    {
      // KVM re-injects #UD; pushing its frame hits the stack page EPT does not map: an EPT
      // violation during event delivery, IDT-vectoring info 0x80000306 (SDM 27.2.4). v4.1 prints
      // VM_EXIT_INTR_INFO (0), today prints the IDT-vectoring info as info2.
      what: "EPT violation while delivering #UD: today info2 = 0x80000306",
      guest: `${GATE(6)}\n  ud2\nhandler:\n  hlt\n${TABLES}`,
      names: ["kvm_exit"],
      expected: {
        "2015": ["kvm_exit: reason EPT_VIOLATION rip 0x400000 info 184 0", "kvm_exit: reason EXCEPTION_NMI rip 0x400039 info 0 80000306", "kvm_exit: reason EPT_VIOLATION rip 0x400039 info 182 0", "kvm_exit: reason HLT rip 0x40003b info 0 0"],
        today: [
          "kvm_exit: vcpu 0 reason EPT_VIOLATION rip 0x400000 info1 0x0000000000000184 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000",
          "kvm_exit: vcpu 0 reason EXCEPTION_NMI rip 0x400039 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x80000306 error_code 0x00000000",
          "kvm_exit: vcpu 0 reason EPT_VIOLATION rip 0x400039 info1 0x0000000000000182 info2 0x0000000080000306 intr_info 0x00000000 error_code 0x00000000",
          "kvm_exit: vcpu 0 reason HLT rip 0x40003b info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000",
        ],
      },
    },
    {
      // #GP(0x1230) from loading DS with a selector past the GDT limit (SDM Vol. 3 6.15), delivered
      // onto the unmapped stack: IDT-vectoring info 0x80000b0d (error code valid). Today's
      // error_code is VM_EXIT_INTR_ERROR_CODE only when intr_info (here 0) has one: 0.
      what: "EPT violation while delivering #GP(0x1230): today info2 0x80000b0d, error_code 0",
      guest: `${GATE(13)}\n  mov $0x1234, %ax\n  mov %ax, %ds\nhandler:\n  hlt\n${TABLES}`,
      names: ["kvm_exit"],
      expected: {
        "2015": ["kvm_exit: reason EPT_VIOLATION rip 0x400000 info 184 0", "kvm_exit: reason EPT_VIOLATION rip 0x40003d info 182 0", "kvm_exit: reason HLT rip 0x40003f info 0 0"],
        today: [
          "kvm_exit: vcpu 0 reason EPT_VIOLATION rip 0x400000 info1 0x0000000000000184 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000",
          "kvm_exit: vcpu 0 reason EPT_VIOLATION rip 0x40003d info1 0x0000000000000182 info2 0x0000000080000b0d intr_info 0x00000000 error_code 0x00000000",
          "kvm_exit: vcpu 0 reason HLT rip 0x40003f info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000",
        ],
      },
    },
    {
      // OUT to COM1: exit qualification 0x3f80000 (port 0x3f8 in bits 31:16, size 1, OUT; SDM Table 28-5).
      what: "I/O instruction: the qualification as info1",
      guest: "mov $0x3f8, %dx\nmov $0x41, %al\nout %al, (%dx)\nhlt",
      names: ["kvm_exit"],
      expected: {
        "2015": ["kvm_exit: reason EPT_VIOLATION rip 0x400000 info 184 0", "kvm_exit: reason IO_INSTRUCTION rip 0x400006 info 3f80000 0", "kvm_exit: reason HLT rip 0x400007 info 0 0"],
        today: [
          "kvm_exit: vcpu 0 reason EPT_VIOLATION rip 0x400000 info1 0x0000000000000184 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000",
          "kvm_exit: vcpu 0 reason IO_INSTRUCTION rip 0x400006 info1 0x0000000003f80000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000",
          "kvm_exit: vcpu 0 reason HLT rip 0x400007 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000",
        ],
      },
    },
  ],
  kvm_entry: [
    {
      // v4.1: "vcpu %u"; today: "vcpu %u, rip 0x%lx%s", %s "[immediate exit]" only for a forced immediate exit.
      what: "every entry, with today's rip",
      guest: "hlt",
      names: ["kvm_entry"],
      expected: { "2015": ["kvm_entry: vcpu 0", "kvm_entry: vcpu 0"], today: ["kvm_entry: vcpu 0, rip 0x400000", "kvm_entry: vcpu 0, rip 0x400000"] },
    },
  ],
  kvm_page_fault: [
    {
      // handle_ept_violation: trace_kvm_page_fault(gpa, exit_qualification). v4.1 "address %lx
      // error_code %x"; today "vcpu %u rip 0x%lx address 0x%016llx error_code 0x%llx".
      what: "the first fetch from the code page",
      guest: "hlt",
      names: ["kvm_page_fault"],
      expected: { "2015": ["kvm_page_fault: address 400000 error_code 184"], today: ["kvm_page_fault: vcpu 0 rip 0x400000 address 0x0000000000400000 error_code 0x184"] },
    },
  ],
  kvm_cr: [
    {
      // handle_cr: trace_kvm_cr_write(cr, val) before kvm_set_cr4; "cr_%s %x = 0x%lx" in both eras.
      what: "mov to cr4",
      guest: "mov $0x20, %eax\nmov %eax, %cr4\nhlt",
      names: ["kvm_cr"],
      expected: { "2015": ["kvm_cr: cr_write 4 = 0x20"], today: ["kvm_cr: cr_write 4 = 0x20"] },
    },
  ],
  kvm_msr: [
    {
      // handle_rdmsr: trace_kvm_msr_read(ecx, data), or trace_kvm_msr_read_ex(ecx) (data 0, " (#GP)") for an MSR KVM refuses.
      what: "rdmsr of EFER, then of an unknown MSR",
      guest: "mov $0xc0000080, %ecx\nrdmsr\nmov $0x12345, %ecx\nrdmsr\nhlt",
      names: ["kvm_msr"],
      expected: {
        "2015": ["kvm_msr: msr_read c0000080 = 0x0", "kvm_msr: msr_read 12345 = 0x0 (#GP)"],
        today: ["kvm_msr: msr_read c0000080 = 0x0", "kvm_msr: msr_read 12345 = 0x0 (#GP)"],
      },
    },
    {
      // handle_wrmsr: trace_kvm_msr_write_ex(ecx, data) with the value EDX:EAX the guest tried.
      what: "wrmsr of an unknown MSR",
      guest: "mov $0x12345, %ecx\nmov $5, %eax\nmov $6, %edx\nwrmsr\nhlt",
      names: ["kvm_msr"],
      expected: { "2015": ["kvm_msr: msr_write 12345 = 0x600000005 (#GP)"], today: ["kvm_msr: msr_write 12345 = 0x600000005 (#GP)"] },
    },
  ],
  kvm_pio: [
    {
      // "pio_%s at 0x%x size %d count %d val 0x%x %s": the %s is "(...)" for count > 1, else "" (a trailing space).
      // OUT: emulator_pio_out_emulated traces, then KVM_EXIT_IO; IN: the exit first, then the data on re-entry.
      what: "out to COM1 THR, in from COM1 LSR (THRE|TEMT)",
      guest: "mov $0x3f8, %dx\nmov $0x41, %al\nout %al, (%dx)\nmov $0x3fd, %dx\nin (%dx), %al\nhlt",
      names: ["kvm_pio", "kvm_userspace_exit"],
      expected: {
        "2015": ["kvm_pio: pio_write at 0x3f8 size 1 count 1 val 0x41 ", "kvm_userspace_exit: reason KVM_EXIT_IO (2)", "kvm_userspace_exit: reason KVM_EXIT_IO (2)", "kvm_pio: pio_read at 0x3fd size 1 count 1 val 0x60 "],
        today: ["kvm_pio: pio_write at 0x3f8 size 1 count 1 val 0x41 ", "kvm_userspace_exit: reason KVM_EXIT_IO (2)", "kvm_userspace_exit: reason KVM_EXIT_IO (2)", "kvm_pio: pio_read at 0x3fd size 1 count 1 val 0x60 "],
      },
    },
  ],
  kvm_cpuid: [
    {
      // v4.1 kvm_emulate_cpuid: trace_kvm_cpuid(function, eax, ebx, ecx, edx); today kvm_cpuid adds
      // the index (ECX as the guest passed it), whether the entry was found and whether the
      // highest basic leaf stood in. That leaf is 0xb (extended topology), so leaf 0xc is answered
      // with leaf 0xb's subleaf (v4.1 check_cpuid_limit; today get_out_of_range_cpuid_entry, ", used
      // max basic"): one vCPU's SMT level. Leaf 0xb has subleaves 0-2, so leaf 0xc subleaf 3 finds
      // nothing: v4.1 answers zeros; today kvm_cpuid's leaf 0xB rule (the function is 0xb once
      // redirected) passes the subleaf through in ECX and the x2APIC ID (0) in EDX.
      what: "leaf 0 (vendor), leaf 0xc above the highest basic leaf, and its subleaf 3",
      guest: "xor %eax, %eax\nxor %ecx, %ecx\ncpuid\nmov $0xc, %eax\nxor %ecx, %ecx\ncpuid\nmov $0xc, %eax\nmov $3, %ecx\ncpuid\nhlt",
      names: ["kvm_cpuid"],
      expected: {
        "2015": ["kvm_cpuid: func 0 rax b rbx 756e6547 rcx 6c65746e rdx 49656e69", "kvm_cpuid: func c rax 0 rbx 1 rcx 100 rdx 0", "kvm_cpuid: func c rax 0 rbx 0 rcx 0 rdx 0"],
        today: [
          "kvm_cpuid: func 0 idx 0 rax b rbx 756e6547 rcx 6c65746e rdx 49656e69, cpuid entry found",
          "kvm_cpuid: func c idx 0 rax 0 rbx 1 rcx 100 rdx 0, cpuid entry not found, used max basic",
          "kvm_cpuid: func c idx 3 rax 0 rbx 0 rcx 3 rdx 0, cpuid entry not found",
        ],
      },
    },
  ],
  kvm_emulate_insn: [
    {
      // handle_exception (v4.1) / handle_ud (today) → x86_emulate_instruction(EMULTYPE_TRAP_UD): the
      // decode of 0f 0b fails (ud2 is not in the emulator's opcode table), the start is traced
      // anyway (not " failed"), and #UD is queued. "%x:%llx:%s (%s)%s": csbase, rip, bytes, mode.
      what: "ud2 in 32-bit protected mode",
      guest: "ud2\nhlt",
      names: ["kvm_emulate_insn", "kvm_inj_exception"],
      expected: { "2015": ["kvm_emulate_insn: 0:400000:0f 0b (prot32)", "kvm_inj_exception: #UD (0x0)"], today: ["kvm_emulate_insn: 0:400000:0f 0b (prot32)", "kvm_inj_exception: #UD"] },
    },
    {
      // Prefixes are fetched before the opcode (x86_decode_insn): 66 0f 0b.
      what: "ud2 with an operand-size prefix",
      guest: ".byte 0x66, 0x0f, 0x0b\nhlt",
      names: ["kvm_emulate_insn"],
      expected: { "2015": ["kvm_emulate_insn: 0:400000:66 0f 0b (prot32)"], today: ["kvm_emulate_insn: 0:400000:66 0f 0b (prot32)"] },
    },
    {
      // kei_decode_mode: X86EMUL_MODE_PROT64 → "prot64".
      what: "ud2 in 64-bit mode",
      guest: "ud2\nhlt",
      mode: 64,
      names: ["kvm_emulate_insn"],
      expected: { "2015": ["kvm_emulate_insn: 0:400000:0f 0b (prot64)"], today: ["kvm_emulate_insn: 0:400000:0f 0b (prot64)"] },
    },
    {
      // handle_io emulates string I/O in both eras; in real mode the emulator's mode is
      // X86EMUL_MODE_REAL ("real"), and CS base 0 (the boot sector runs at 0000:7c00).
      what: "insb from COM1 LSR in real mode",
      guest: "mov $0x3fd, %dx\nmov $0x9000, %di\ninsb\nhlt",
      mode: 16,
      names: ["kvm_emulate_insn"],
      expected: { "2015": ["kvm_emulate_insn: 0:7c06:6c (real)"], today: ["kvm_emulate_insn: 0:7c06:6c (real)"] },
    },
    {
      // v4.1 handle_io sends IN through the emulator (kvm_emulate_insn); today's kvm_fast_pio_in
      // does not: the exit, KVM_EXIT_IO, then the data traced by complete_fast_pio_in.
      what: "in from COM1 LSR: emulated in 2015, fast PIO today",
      guest: "mov $0x3fd, %dx\nin (%dx), %al\nhlt",
      names: ["kvm_exit", "kvm_emulate_insn", "kvm_userspace_exit", "kvm_pio"],
      expected: {
        "2015": [
          "kvm_exit: reason EPT_VIOLATION rip 0x400000 info 184 0",
          "kvm_exit: reason IO_INSTRUCTION rip 0x400004 info 3fd0008 0",
          "kvm_emulate_insn: 0:400004:ec (prot32)",
          "kvm_userspace_exit: reason KVM_EXIT_IO (2)",
          "kvm_pio: pio_read at 0x3fd size 1 count 1 val 0x60 ",
          "kvm_exit: reason HLT rip 0x400005 info 0 0",
        ],
        today: [
          "kvm_exit: vcpu 0 reason EPT_VIOLATION rip 0x400000 info1 0x0000000000000184 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000",
          "kvm_exit: vcpu 0 reason IO_INSTRUCTION rip 0x400004 info1 0x0000000003fd0008 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000",
          "kvm_userspace_exit: reason KVM_EXIT_IO (2)",
          "kvm_pio: pio_read at 0x3fd size 1 count 1 val 0x60 ",
          "kvm_exit: vcpu 0 reason HLT rip 0x400005 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000",
        ],
      },
    },
  ],
  kvm_inj_exception: [
    {
      // v4.1: "%s (0x%x)", the error code or 0 for an exception without one; today the error code
      // only when there is one, and " [reinjected]" for an event whose delivery an exit interrupted
      // (vmx_complete_interrupts → kvm_requeue_exception_e).
      what: "#GP(0x1230) re-injected after the EPT violation on its stack",
      guest: `${GATE(13)}\n  mov $0x1234, %ax\n  mov %ax, %ds\nhandler:\n  hlt\n${TABLES}`,
      names: ["kvm_inj_exception"],
      expected: { "2015": ["kvm_inj_exception: #GP (0x1230)"], today: ["kvm_inj_exception: #GP (0x1230) [reinjected]"] },
    },
  ],
  kvm_hypercall: [
    {
      // kvm_emulate_hypercall: nr = RAX, a0..a3 = RBX, RCX, RDX, RSI; "nr 0x%lx a0 0x%lx a1 0x%lx a2 0x%lx a3 0x%lx".
      what: "vmcall",
      guest: "mov $1, %eax\nmov $2, %ebx\nmov $3, %ecx\nmov $4, %edx\nmov $5, %esi\nvmcall\nhlt",
      names: ["kvm_hypercall"],
      expected: { "2015": ["kvm_hypercall: nr 0x1 a0 0x2 a1 0x3 a2 0x4 a3 0x5"], today: ["kvm_hypercall: nr 0x1 a0 0x2 a1 0x3 a2 0x4 a3 0x5"] },
    },
  ],
  kvm_mmio: [
    {
      // x86.c write_mmio traces the write before KVM_RUN returns (KVM_EXIT_MMIO); a read is traced
      // unsatisfied by read_exit_mmio, then with the VMM's data by read_prepare on the next KVM_RUN.
      // No device at 0xfe000000: the VMM's unassigned memory reads as all ones.
      what: "a 4-byte write, then an 8-byte read, where no device is",
      guest: "movabs $0xfe000000, %rbx\nmovl $0x12345678, (%rbx)\nmovq 8(%rbx), %rax\nhlt",
      mode: 64,
      names: ["kvm_emulate_insn", "kvm_mmio", "kvm_userspace_exit"],
      expected: {
        "2015": [
          "kvm_emulate_insn: 0:40000a:c7 03 78 56 34 12 (prot64)",
          "kvm_mmio: mmio write len 4 gpa 0xfe000000 val 0x12345678",
          "kvm_userspace_exit: reason KVM_EXIT_MMIO (6)",
          "kvm_emulate_insn: 0:400010:48 8b 43 08 (prot64)",
          "kvm_mmio: mmio unsatisfied-read len 8 gpa 0xfe000008 val 0x0",
          "kvm_userspace_exit: reason KVM_EXIT_MMIO (6)",
          "kvm_mmio: mmio read len 8 gpa 0xfe000008 val 0xffffffffffffffff",
        ],
        today: [
          "kvm_emulate_insn: 0:40000a:c7 03 78 56 34 12 (prot64)",
          "kvm_mmio: mmio write len 4 gpa 0xfe000000 val 0x12345678",
          "kvm_userspace_exit: reason KVM_EXIT_MMIO (6)",
          "kvm_emulate_insn: 0:400010:48 8b 43 08 (prot64)",
          "kvm_mmio: mmio unsatisfied-read len 8 gpa 0xfe000008 val 0x0",
          "kvm_userspace_exit: reason KVM_EXIT_MMIO (6)",
          "kvm_mmio: mmio read len 8 gpa 0xfe000008 val 0xffffffffffffffff",
        ],
      },
    },
  ],
  kvm_userspace_exit: [
    {
      // handle_triple_fault: KVM_EXIT_SHUTDOWN (8); kvm_vcpu_ioctl traces "reason %s (%d)".
      what: "triple fault after #UD with no IDT",
      guest: "ud2\nhlt",
      names: ["kvm_userspace_exit"],
      expected: { "2015": ["kvm_userspace_exit: reason KVM_EXIT_SHUTDOWN (8)"], today: ["kvm_userspace_exit: reason KVM_EXIT_SHUTDOWN (8)"] },
    },
  ],
};

describe("x86 tracepoints print what Linux prints", () => {
  for (const [name, rows] of Object.entries(ROWS)) {
    for (const row of rows) {
      for (const era of ["2015", "today"] as const) {
        test(`${name} (${era}): ${row.what}`, () => {
          expect(traceOf(row, era)).toEqual(row.expected[era]);
        });
      }
    }
  }

  // A VM entry failing its guest-state checks is a VM exit with reason 33 | 0x80000000 (SDM 26.3.1,
  // 26.8): v4.1 prints the unlisted reason in hex, today kvm_print_exit_reason "INVALID_STATE
  // FAILED_VMENTRY" with info2/intr_info/error_code 0 (vmx_get_exit_info on a failed entry);
  // vmx_handle_exit returns KVM_EXIT_FAIL_ENTRY (9) and KVM_RUN's return is traced.
  const failedEntry: Record<KvmEra, string[]> = {
    "2015": ["kvm_entry: vcpu 0", "kvm_exit: reason 0x80000021 rip 0x400000 info 0 0", "kvm_userspace_exit: reason KVM_EXIT_FAIL_ENTRY (9)"],
    today: [
      "kvm_entry: vcpu 0, rip 0x400000",
      "kvm_exit: vcpu 0 reason INVALID_STATE FAILED_VMENTRY rip 0x400000 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000",
      "kvm_userspace_exit: reason KVM_EXIT_FAIL_ENTRY (9)",
    ],
  };
  for (const era of ["2015", "today"] as const) {
    test(`kvm_userspace_exit (${era}): a failed VM entry ends the trace with KVM_EXIT_FAIL_ENTRY`, () => {
      const m = createX86Machine({ guest: { source: "start:\nhlt\n" }, settings: { era } });
      expect(m.step().stop).toBe("exit");
      // "IA-32e mode guest" entry control with a 32-bit guest (EFER.LMA = 0): SDM 26.3.1.1.
      m.vmcs.write("VM_ENTRY_CONTROLS", m.vmcs.read("VM_ENTRY_CONTROLS") | (1n << 9n));
      expect(m.handle().action).toBe("halt");
      expect(m.trace.lines(era).slice(-3)).toEqual(failedEntry[era]);
      expect(m.vmcs.read32("VM_EXIT_REASON")).toBe(0x8000_0021);
    });
  }

  // Today's complete_fast_pio_in: val = RAX for sizes below 4, the data copied over its low bytes;
  // the same result the emulated IN gave in 2015 (SDM Vol. 2 IN: AL is written, the rest kept).
  for (const era of ["2015", "today"] as const) {
    test(`IN to AL keeps the rest of EAX (${era})`, () => {
      const m = createX86Machine({ guest: { source: "start:\nmov $0x12345678, %eax\nmov $0x3fd, %dx\nin (%dx), %al\nhlt\n" }, settings: { era } });
      m.run({ maxSteps: 1000 });
      expect(m.readRegister("eax")).toBe(0x1234_5660n);
    });
  }

  test("every x86 tracepoint has a row", () => {
    const covered = new Set(Object.keys(ROWS));
    expect(X86_TRACEPOINTS.map((t) => t.name).filter((n) => !covered.has(n))).toEqual([]);
  });
});

describe("tracepoint names are the table's keys", () => {
  test("emit sites take only names the table has: a misspelt one does not compile (npm run lint type-checks this)", () => {
    const names: X86TracepointName[] = ["kvm_exit", "kvm_cpuid", "kvm_inj_virq"];
    // @ts-expect-error kvm_cpuidd is not an x86 tracepoint
    const misspelt: X86TracepointName = "kvm_cpuidd";
    expect(names.every((n) => X86_TRACEPOINTS.some((t) => t.name === n))).toBe(true);
    expect(X86_TRACEPOINTS.some((t) => t.name === misspelt)).toBe(false);
  });

  test("KVM's counters are named by X86_VCPU_STATS: a misspelt one does not compile", () => {
    const m = createX86Machine({ guest: { source: ".code32\nstart:\nxor %eax, %eax\ncpuid\nmov $0xf4, %dx\nout %al, %dx\n" } });
    m.run();
    expect(m.kvm.stats.cpuid_exits).toBe(1);
    expect(Object.keys(m.kvm.stats).filter((k) => !(X86_VCPU_STATS as readonly string[]).includes(k))).toEqual([]);
    // @ts-expect-error cpuid_exit is not a counter (cpuid_exits is)
    m.kvm.count("cpuid_exit");
  });
});
