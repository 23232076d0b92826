// Every arm64 tracepoint, field by field, in both eras: a guest that triggers it, and the text a
// host prints, from the kernel's TP_printk and TP_fast_assign. "2015" is Linux v4.1
// (arch/arm/kvm/trace.h shared by arm and arm64, arch/arm64/kvm/trace.h, include/trace/events/kvm.h);
// "today" is arch/arm64/kvm/trace_arm.h and trace_handle_exit.h of Linux 6.x (pcs widened to
// %016lx; kvm_exit names the exit type and the exception class through kvm_arm_exception_class).

import { describe, expect, test } from "vitest";
import { createArm64Machine } from "../../../runtime/arm64/machine.js";
import { ARM64_TRACEPOINTS } from "../../../runtime/arm64/tracepoints.js";
import type { KvmEra } from "../../../runtime/core/trace.js";

const POWEROFF = `
	ldr	x0, =0x84000008
	hvc	#0
	b	.
	.ltorg
`;

/** EL1 vectors: the synchronous entry (+0x200) steps ELR_EL1 past the instruction and returns. */
const VECTORS = `
	.balign	2048
vectors:
	.skip	0x200
	mrs	x21, elr_el1
	add	x21, x21, #4
	msr	elr_el1, x21
	eret
`;

interface Row {
  what: string;
  guest: string;
  pairMmio?: boolean;
  /** Done by the VMM before the guest runs (e.g. an `irq N`). */
  before?: (m: ReturnType<typeof machine>) => void;
  names: string[];
  expected: Record<KvmEra, string[]>;
}

function machine(guest: string, era: KvmEra, pairMmio = false) {
  const source = `\t.text\n\t.globl start\nstart:\n${guest}\n${POWEROFF}\n${VECTORS}\n`;
  return createArm64Machine({ guest: { source, fileName: "t.s" }, settings: { era, pair_mmio: pairMmio } });
}

function traceOf(row: Row, era: KvmEra): string[] {
  const m = machine(row.guest, era, row.pairMmio);
  row.before?.(m);
  m.run({ maxSteps: 10_000 });
  return m.trace.lines(era, row.names);
}

const UART_STR_LDR = "ldr x0, =0x09000000\nmov w1, #0x41\nstr w1, [x0]\nldr w5, [x0, #0x18]";
const UART_STP = "ldr x0, =0x09000000\nmov w1, #0x41\nmov w2, #0\nstp w1, w2, [x0]";

/** KVM_IRQ_LINE of SPI 40 then PPI 20, each a pulse on a level-sensitive line: raised, then lowered. */
const IRQ_LINES = [
  "kvm_irq_line: Inject VGIC SPI interrupt (1), vcpu->idx: 0, num: 40, level: 1",
  "kvm_irq_line: Inject VGIC SPI interrupt (1), vcpu->idx: 0, num: 40, level: 0",
  "kvm_irq_line: Inject VGIC PPI interrupt (2), vcpu->idx: 0, num: 20, level: 1",
  "kvm_irq_line: Inject VGIC PPI interrupt (2), vcpu->idx: 0, num: 20, level: 0",
];

const ROWS: Record<string, Row[]> = {
  kvm_entry: [
    {
      // "PC: 0x%08lx" (v4.1) / "PC: 0x%016lx" (today), *vcpu_pc at each entry.
      what: "entries at the first instruction",
      guest: "wfi",
      names: ["kvm_entry"],
      expected: { "2015": ["kvm_entry: PC: 0x40080000", "kvm_entry: PC: 0x40080000"], today: ["kvm_entry: PC: 0x0000000040080000", "kvm_entry: PC: 0x0000000040080000"] },
    },
  ],
  kvm_exit: [
    {
      // v4.1: "PC: 0x%08lx"; today "%s: HSR_EC: 0x%04x (%s), PC: 0x%016lx" with the exception type
      // (TRAP) and __print_symbolic(esr_ec, kvm_arm_exception_class).
      what: "instruction abort, WFx, HVC",
      guest: "wfe\nwfi",
      names: ["kvm_exit"],
      expected: {
        "2015": ["kvm_exit: PC: 0x40080000", "kvm_exit: PC: 0x40080000", "kvm_exit: PC: 0x40080004"],
        today: [
          "kvm_exit: TRAP: HSR_EC: 0x0020 (IABT_LOW), PC: 0x0000000040080000",
          "kvm_exit: TRAP: HSR_EC: 0x0001 (WFx), PC: 0x0000000040080000",
          "kvm_exit: TRAP: HSR_EC: 0x0001 (WFx), PC: 0x0000000040080004",
        ],
      },
    },
    {
      // HCR_EL2.TIDCP traps an IMPLEMENTATION DEFINED register (EC 0x18, SYS64).
      what: "a trapped system register access",
      guest: "adr x1, vectors\nmsr vbar_el1, x1\nmrs x0, s3_0_c15_c0_0",
      names: ["kvm_exit"],
      expected: {
        "2015": ["kvm_exit: PC: 0x40080000", "kvm_exit: PC: 0x40080008", "kvm_exit: PC: 0x40080014"],
        today: [
          "kvm_exit: TRAP: HSR_EC: 0x0020 (IABT_LOW), PC: 0x0000000040080000",
          "kvm_exit: TRAP: HSR_EC: 0x0018 (SYS64), PC: 0x0000000040080008",
          "kvm_exit: TRAP: HSR_EC: 0x0016 (HVC64), PC: 0x0000000040080014",
        ],
      },
    },
  ],
  kvm_guest_fault: [
    {
      // kvm_handle_guest_abort: trace_kvm_guest_fault(*vcpu_pc, ESR_EL2, FAR_EL2, fault_ipa):
      // "ipa %#llx, hsr %#08lx, hxfar %#08lx, pc %#08lx" (today pc %#016lx: "0x" counts in the width).
      what: "the code page, then a UART store and load",
      guest: UART_STR_LDR,
      names: ["kvm_guest_fault"],
      expected: {
        "2015": [
          "kvm_guest_fault: ipa 0x40080000, hsr 0x82000006, hxfar 0x40080000, pc 0x40080000",
          "kvm_guest_fault: ipa 0x9000000, hsr 0x93810046, hxfar 0x9000000, pc 0x40080008",
          "kvm_guest_fault: ipa 0x9000000, hsr 0x93850006, hxfar 0x9000018, pc 0x4008000c",
        ],
        today: [
          "kvm_guest_fault: ipa 0x40080000, hsr 0x82000006, hxfar 0x40080000, pc 0x00000040080000",
          "kvm_guest_fault: ipa 0x9000000, hsr 0x93810046, hxfar 0x9000000, pc 0x00000040080008",
          "kvm_guest_fault: ipa 0x9000000, hsr 0x93850006, hxfar 0x9000018, pc 0x0000004008000c",
        ],
      },
    },
  ],
  kvm_mmio: [
    {
      // io_mem_abort: a write traced (KVM_TRACE_MMIO_WRITE) before KVM_EXIT_MMIO; a read traced
      // unsatisfied, then with the data by kvm_handle_mmio_return on the next KVM_RUN.
      what: "UART data register write, flag register read",
      guest: UART_STR_LDR,
      names: ["kvm_mmio", "kvm_userspace_exit"],
      expected: {
        "2015": [
          "kvm_mmio: mmio write len 4 gpa 0x9000000 val 0x41",
          "kvm_userspace_exit: reason KVM_EXIT_MMIO (6)",
          "kvm_mmio: mmio unsatisfied-read len 4 gpa 0x9000018 val 0x0",
          "kvm_userspace_exit: reason KVM_EXIT_MMIO (6)",
          "kvm_mmio: mmio read len 4 gpa 0x9000018 val 0x90",
          "kvm_userspace_exit: reason KVM_EXIT_SYSTEM_EVENT (24)",
        ],
        today: [
          "kvm_mmio: mmio write len 4 gpa 0x9000000 val 0x41",
          "kvm_userspace_exit: reason KVM_EXIT_MMIO (6)",
          "kvm_mmio: mmio unsatisfied-read len 4 gpa 0x9000018 val 0x0",
          "kvm_userspace_exit: reason KVM_EXIT_MMIO (6)",
          "kvm_mmio: mmio read len 4 gpa 0x9000018 val 0x90",
          "kvm_userspace_exit: reason KVM_EXIT_SYSTEM_EVENT (24)",
        ],
      },
    },
  ],
  kvm_userspace_exit: [
    {
      // stp gives no syndrome (ISV = 0). v4.1 io_mem_abort returns -ENOSYS ("load/store instruction
      // decoding not implemented"): KVM_RUN fails and kvm_vcpu_ioctl traces "reason error (38)".
      // Today io_mem_abort returns KVM_EXIT_ARM_NISV (28) to a VMM that enabled
      // KVM_CAP_ARM_NISV_TO_USER, named in kvm_trace_exit_reason.
      what: "stp to the UART: the trace ends with KVM_RUN's failure / the NISV exit",
      guest: UART_STP,
      names: ["kvm_guest_fault", "kvm_userspace_exit"],
      expected: {
        "2015": [
          "kvm_guest_fault: ipa 0x40080000, hsr 0x82000006, hxfar 0x40080000, pc 0x40080000",
          "kvm_guest_fault: ipa 0x9000000, hsr 0x92000046, hxfar 0x9000000, pc 0x4008000c",
          "kvm_userspace_exit: reason error (38)",
        ],
        today: [
          "kvm_guest_fault: ipa 0x40080000, hsr 0x82000006, hxfar 0x40080000, pc 0x00000040080000",
          "kvm_guest_fault: ipa 0x9000000, hsr 0x92000046, hxfar 0x9000000, pc 0x0000004008000c",
          "kvm_userspace_exit: reason KVM_EXIT_ARM_NISV (28)",
        ],
      },
    },
    {
      // PSCI SYSTEM_OFF: KVM_EXIT_SYSTEM_EVENT (24).
      what: "PSCI SYSTEM_OFF",
      guest: "nop",
      names: ["kvm_userspace_exit"],
      expected: { "2015": ["kvm_userspace_exit: reason KVM_EXIT_SYSTEM_EVENT (24)"], today: ["kvm_userspace_exit: reason KVM_EXIT_SYSTEM_EVENT (24)"] },
    },
  ],
  kvm_mmio_emulate: [
    {
      // "Emulate MMIO at: 0x%08lx (instr: %08lx, cpsr: %08lx)" (today pc %016lx): pc, the
      // instruction word, PSTATE (EL1h, DAIF masked: 0x3c5). Only with `set pair_mmio on`.
      what: "stp decoded by KVM",
      guest: UART_STP,
      pairMmio: true,
      names: ["kvm_mmio_emulate", "kvm_mmio"],
      expected: {
        "2015": ["kvm_mmio_emulate: Emulate MMIO at: 0x4008000c (instr: 29000801, cpsr: 000003c5)", "kvm_mmio: mmio write len 4 gpa 0x9000000 val 0x41", "kvm_mmio: mmio write len 4 gpa 0x9000004 val 0x0"],
        today: ["kvm_mmio_emulate: Emulate MMIO at: 0x000000004008000c (instr: 29000801, cpsr: 000003c5)", "kvm_mmio: mmio write len 4 gpa 0x9000000 val 0x41", "kvm_mmio: mmio write len 4 gpa 0x9000004 val 0x0"],
      },
    },
  ],
  kvm_toggle_cache: [
    {
      // access_vm_reg → kvm_toggle_cache: "VM op at 0x%016lx (cache was %s, now %s)", pc of the MSR.
      // v4.1 sets TVM at reset (the first SCTLR write traps); today only after a set/way operation.
      what: "SCTLR_EL1 writes around a DC CISW",
      guest: "mrs x1, sctlr_el1\nmsr sctlr_el1, x1\ndc cisw, x2\nmsr sctlr_el1, x1",
      names: ["kvm_toggle_cache"],
      expected: {
        "2015": ["kvm_toggle_cache: VM op at 0x0000000040080004 (cache was off, now off)", "kvm_toggle_cache: VM op at 0x000000004008000c (cache was off, now off)"],
        today: ["kvm_toggle_cache: VM op at 0x000000004008000c (cache was off, now off)"],
      },
    },
  ],
  kvm_set_way_flush: [
    {
      // access_dcsw → kvm_set_way_flush: "S/W flush at 0x%016lx (cache %s)".
      what: "DC CISW with caches off",
      guest: "dc cisw, x2",
      names: ["kvm_set_way_flush"],
      expected: { "2015": ["kvm_set_way_flush: S/W flush at 0x0000000040080000 (cache off)"], today: ["kvm_set_way_flush: S/W flush at 0x0000000040080000 (cache off)"] },
    },
  ],
  kvm_wfx_arm64: [
    {
      // kvm_handle_wfx: "guest executed wf%c at: 0x%08lx" (today %016lx), the pc of the WFx.
      what: "WFE then WFI",
      guest: "wfe\nwfi",
      names: ["kvm_wfx_arm64"],
      expected: {
        "2015": ["kvm_wfx_arm64: guest executed wfe at: 0x40080000", "kvm_wfx_arm64: guest executed wfi at: 0x40080004"],
        today: ["kvm_wfx_arm64: guest executed wfe at: 0x0000000040080000", "kvm_wfx_arm64: guest executed wfi at: 0x0000000040080004"],
      },
    },
  ],
  kvm_irq_line: [
    {
      // arch/arm/kvm/trace.h kvm_irq_line: "Inject %s interrupt (%d), vcpu->idx: %d, num: %d, level: %d";
      // kvm_vm_ioctl_irq_line traces the irq word's fields: num is the INTID for both an SPI (type 1,
      // 32 and up: a num below 32 is -EINVAL) and a PPI (type 2); vcpu_idx is the PPI's target.
      what: "the VMM raises SPI 40 and PPI 20",
      guest: "nop",
      before: (m) => {
        m.injectIrq(40);
        m.injectIrq(20);
      },
      names: ["kvm_irq_line"],
      expected: {
        "2015": IRQ_LINES,
        today: IRQ_LINES,
      },
    },
  ],
  vgic_update_irq_pending: [
    {
      // virt/kvm/arm/vgic/trace.h (Linux 4.7+): "VCPU: %ld, IRQ %d, level: %d", traced by
      // kvm_vgic_inject_irq for every KVM_IRQ_LINE (an SPI with vcpu 0) — the VMM's pulse on a
      // level-sensitive line is two, high then low. Linux v4.1 has no such tracepoint.
      what: "the VMM pulses SPI 40's line",
      guest: "nop",
      before: (m) => void m.injectIrq(40),
      names: ["kvm_irq_line", "vgic_update_irq_pending"],
      expected: {
        "2015": ["kvm_irq_line: Inject VGIC SPI interrupt (1), vcpu->idx: 0, num: 40, level: 1", "kvm_irq_line: Inject VGIC SPI interrupt (1), vcpu->idx: 0, num: 40, level: 0"],
        today: [
          "kvm_irq_line: Inject VGIC SPI interrupt (1), vcpu->idx: 0, num: 40, level: 1",
          "vgic_update_irq_pending: VCPU: 0, IRQ 40, level: 1",
          "kvm_irq_line: Inject VGIC SPI interrupt (1), vcpu->idx: 0, num: 40, level: 0",
          "vgic_update_irq_pending: VCPU: 0, IRQ 40, level: 0",
        ],
      },
    },
    {
      // kvm_timer_update_irq → kvm_vgic_inject_irq when the virtual timer's output changes: it
      // rises at the deadline (the WFI's wake-up), the vCPU's PPI 27.
      what: "the virtual timer fires during WFI",
      guest: "mov x1, #625\nmsr cntv_tval_el0, x1\nmov x1, #1\nmsr cntv_ctl_el0, x1\nwfi",
      names: ["vgic_update_irq_pending", "kvm_vcpu_wakeup"],
      expected: { "2015": ["kvm_vcpu_wakeup: wait time 9995 ns"], today: ["vgic_update_irq_pending: VCPU: 0, IRQ 27, level: 1", "kvm_vcpu_wakeup: wait time 9994 ns, polling valid"] },
    },
  ],
  kvm_vcpu_wakeup: [
    {
      // include/trace/events/kvm.h kvm_vcpu_wakeup: v4.1 "%s time %lld ns"; today adds ", polling %s".
      // The virtual timer armed 625 ticks (10 µs at 62.5 MHz) ahead, then WFI: the vcpu blocks until it fires.
      what: "WFI with the virtual timer armed",
      guest: "mov x1, #625\nmsr cntv_tval_el0, x1\nmov x1, #1\nmsr cntv_ctl_el0, x1\nwfi",
      names: ["kvm_vcpu_wakeup"],
      expected: { "2015": ["kvm_vcpu_wakeup: wait time 9995 ns"], today: ["kvm_vcpu_wakeup: wait time 9994 ns, polling valid"] }, // the tick phase follows the exits' cycles (the switch executed at EL2, hyp/)
    },
  ],
  kvm_hvc_arm64: [
    {
      // handle_hvc: "HVC at 0x%08lx (r0: 0x%08lx, imm: 0x%lx)" (today %016lx): pc (the preferred
      // return, past the HVC), x0 and the immediate from the ISS.
      what: "an HVC with immediate 0x12, then PSCI SYSTEM_OFF",
      guest: "mov x0, #0\nhvc #0x12",
      names: ["kvm_hvc_arm64"],
      expected: {
        "2015": ["kvm_hvc_arm64: HVC at 0x40080008 (r0: 0x00000000, imm: 0x12)", "kvm_hvc_arm64: HVC at 0x40080010 (r0: 0x84000008, imm: 0x0)"],
        today: ["kvm_hvc_arm64: HVC at 0x0000000040080008 (r0: 0x0000000000000000, imm: 0x12)", "kvm_hvc_arm64: HVC at 0x0000000040080010 (r0: 0x0000000084000008, imm: 0x0)"],
      },
    },
  ],
  kvm_handle_sys_reg: [
    {
      // Today's kvm_handle_sys_reg: trace_kvm_handle_sys_reg(esr), "HSR 0x%08lx", for every EC 0x18
      // trap (v4.1 has no such tracepoint). DC CISW x2: ESR 0x62000000 | ISS (op0 1, op1 0,
      // CRn 7, CRm 14, op2 2, Rt 2, write: ISS 0x141c5c, Arm ARM D17.2.37 "ISS encoding for an exception
      // from MSR, MRS or System instruction execution"); MSR SCTLR_EL1, x1: ISS 0x300420.
      what: "a set/way operation and an SCTLR_EL1 write",
      guest: "mrs x1, sctlr_el1\nmsr sctlr_el1, x1\ndc cisw, x2\nmsr sctlr_el1, x1",
      names: ["kvm_handle_sys_reg"],
      expected: { "2015": [], today: ["kvm_handle_sys_reg: HSR 0x62141c5c", "kvm_handle_sys_reg: HSR 0x62300420"] },
    },
  ],
  kvm_sys_access: [
    {
      // Today's perform_access: trace_kvm_sys_access(*vcpu_pc, params, desc), "PC: %lx %s
      // (%d,%d,%d,%d,%d) %s" with the sys_reg_desc's name (SYS_DESC(SYS_DC_CISW) →
      // "SYS_DC_CISW") and encoding, before the access handler (access_dcsw → kvm_set_way_flush;
      // access_vm_reg → kvm_toggle_cache).
      what: "DC CISW, then the SCTLR_EL1 write it makes trap",
      guest: "mrs x1, sctlr_el1\nmsr sctlr_el1, x1\ndc cisw, x2\nmsr sctlr_el1, x1",
      names: ["kvm_sys_access", "kvm_set_way_flush", "kvm_toggle_cache"],
      expected: {
        "2015": ["kvm_toggle_cache: VM op at 0x0000000040080004 (cache was off, now off)", "kvm_set_way_flush: S/W flush at 0x0000000040080008 (cache off)", "kvm_toggle_cache: VM op at 0x000000004008000c (cache was off, now off)"],
        today: [
          "kvm_sys_access: PC: 40080008 SYS_DC_CISW (1,0,7,14,2) write",
          "kvm_set_way_flush: S/W flush at 0x0000000040080008 (cache off)",
          "kvm_sys_access: PC: 4008000c SYS_SCTLR_EL1 (3,0,1,0,0) write",
          "kvm_toggle_cache: VM op at 0x000000004008000c (cache was off, now off)",
        ],
      },
    },
  ],
  exitlab_stage2_map: [
    {
      // exitlab's own event (not a Linux tracepoint): user_mem_abort's stage-2 mapping.
      what: "the code page (64 KiB granule), cleaned because the guest's caches are off",
      guest: "wfi",
      names: ["exitlab_stage2_map"],
      expected: {
        "2015": ["exitlab_stage2_map: ipa 0x40080000 size 0x10000 (instruction fetch), dcache cleaned (guest caches off)"],
        today: ["exitlab_stage2_map: ipa 0x40080000 size 0x10000 (instruction fetch), dcache cleaned (guest caches off)"],
      },
    },
  ],
};

describe("arm64 tracepoints print what Linux prints", () => {
  for (const [name, rows] of Object.entries(ROWS)) {
    for (const row of rows) {
      for (const era of ["2015", "today"] as const) {
        test(`${name} (${era}): ${row.what}`, () => {
          expect(traceOf(row, era)).toEqual(row.expected[era]);
        });
      }
    }
  }

  test("every arm64 tracepoint has a row", () => {
    const covered = new Set(Object.keys(ROWS));
    expect(ARM64_TRACEPOINTS.map((t) => t.name).filter((n) => !covered.has(n))).toEqual([]);
  });

  // emulate_sys_reg (v4.1 and today): kvm_err("Unsupported guest sys_reg access at: %lx", *vcpu_pc)
  // is printed before kvm_inject_undefined moves the pc to the EL1 vector (VBAR_EL1 + 0x200).
  for (const era of ["2015", "today"] as const) {
    test(`unsupported sys_reg access (${era}): the message names the trapping pc, not the vector`, () => {
      const m = machine("adr x1, vectors\nmsr vbar_el1, x1\nimpdef_at:\nmrs x0, s3_0_c15_c0_0", era);
      const r = m.run({ maxSteps: 1000, stopOnExit: (e) => e.reason === "SYS64" });
      expect(r.stop).toBe("exit");
      const at = m.symbols.get("impdef_at")!;
      const message = m.handle().message;
      expect(message).toBe(`Unsupported guest sys_reg access to S3_0_C15_C0_0 at 0x${at.toString(16)}: undefined instruction injected`);
      expect(m.pc).toBe(m.symbols.get("vectors")! + 0x200n);
    });
  }
});
