// A timer-driven guest in exitlab's A64 assembly: the virtual timer armed through TVAL, WFI with
// TWI set (KVM blocks the vCPU until the timer), the IRQ taken at EL1, acknowledged and EOId
// through the GIC's virtual CPU interface (GICv2 GICV at the GICC address, GICv3 ICC_* registers).
// The trace is checked line by line: the WFx exit, kvm_vcpu_wakeup with the modelled time slept,
// and — in 2015, when the virtual timer is a plain level interrupt — the maintenance IRQ exit its
// EOI raises; today the LR is HW-mapped and the EOI exits nowhere. Also the IRQ exit of a timer
// firing while the guest spins, and the vGIC distributor emulated in the kernel (kvm_mmio without
// kvm_userspace_exit).

import { describe, expect, test } from "vitest";
import { createArm64Machine } from "../../../runtime/arm64/machine.js";

const V2_SETUP = `
  ldr x1, =0x08000000
  mov w2, #1
  str w2, [x1]             // GICD_CTLR
  mov w2, #(1 << 27)
  str w2, [x1, #0x100]     // GICD_ISENABLER0: the virtual timer's PPI
  ldr x3, =0x08010000
  mov w2, #0xff
  str w2, [x3, #4]         // GICC_PMR
  mov w2, #1
  str w2, [x3]             // GICC_CTLR`;
const V2_ACK = `
  ldr w5, [x3, #0xc]       // GICC_IAR
  mov x6, #3
  msr cntv_ctl_el0, x6     // IMASK | ENABLE: lower the timer's output
  str w5, [x3, #0x10]      // GICC_EOIR`;
const V3_SETUP = `
  ldr x1, =0x08000000
  mov w2, #2
  str w2, [x1]             // GICD_CTLR.EnableGrp1
  ldr x1, =0x080b0000
  mov w2, #(1 << 27)
  str w2, [x1, #0x100]     // GICR_ISENABLER0
  mov x2, #0xff
  msr icc_pmr_el1, x2
  mov x2, #1
  msr icc_igrpen1_el1, x2`;
const V3_ACK = `
  mrs x5, icc_iar1_el1
  mov x6, #3
  msr cntv_ctl_el0, x6
  msr icc_eoir1_el1, x5`;

/** Arm the timer `ticks` ahead, wait (WFI or a spin on x4), count handled interrupts in x4, two rounds, SYSTEM_OFF. */
function guest(setup: string, ack: string, wait: "wfi" | "spin"): string {
  return `
  adr x0, vectors
  msr vbar_el1, x0
${setup}
  mov x4, #0
  mov x7, #0
loop:
  mov x2, #1000
  msr cntv_tval_el0, x2
  mov x2, #1
  msr cntv_ctl_el0, x2
  msr daifclr, #2
${wait === "wfi" ? "  wfi" : "1: cmp x4, x7\n  b.eq 1b"}
  add x7, x7, #1
  cmp x4, #2
  b.lt loop
  ldr x0, =0x84000008
  hvc #0
  .balign 2048
vectors:
  .skip 0x280
${ack}
  add x4, x4, #1
  eret
`;
}

/** Exits of one reason so far. */
function reasons(m: { exits: { byReason(): { reason: string; count: number }[] } }, reason: string): number {
  return m.exits.byReason().find((r) => r.reason === reason)?.count ?? 0;
}

function run(source: string, era: "2015" | "today", gic: "v2" | "v3") {
  const m = createArm64Machine({ guest: { source }, settings: { era, gic, stepLimit: 1_000_000 } });
  const r = m.run();
  return { m, r, trace: m.trace.lines(era).filter((l) => !l.startsWith("kvm_guest_fault") && !l.startsWith("exitlab_stage2_map")) };
}

describe("a timer-driven arm64 guest", () => {
  test("GICv2, 2015: WFI blocks until the timer, the handler runs, its EOI raises the maintenance interrupt (an IRQ exit)", () => {
    const { m, r, trace } = run(guest(V2_SETUP, V2_ACK, "wfi"), "2015", "v2");
    expect(r.message).toMatch(/SYSTEM_OFF/);
    expect(m.readRegister("x4")).toBe(2n);
    const wfi = trace.findIndex((l) => l.startsWith("kvm_wfx_arm64"));
    if (process.env.SHOW) console.log(trace.join("\n"));
    // 1000 ticks at 62.5 MHz = 16 µs on the modelled 1 GHz core, less the instructions and exits before the WFI.
    expect(trace.slice(wfi, wfi + 5)).toEqual([
      "kvm_wfx_arm64: guest executed wfi at: 0x4008004c",
      // 16,000 cycles less the tick in progress and the instructions between the TVAL write and the WFI
      "kvm_vcpu_wakeup: wait time 15979 ns",
      "kvm_entry: PC: 0x40080050",
      // the guest takes the IRQ at entry, acknowledges and EOIs in the handler, erets: the
      // maintenance interrupt is taken as an IRQ exit at the instruction after the WFI
      "kvm_exit: PC: 0x40080050",
      "kvm_entry: PC: 0x40080050",
    ]);
    expect(reasons(m, "IRQ")).toBe(2);
    expect(m.vgic.stats.maintenance).toBe(2);
    // the distributor writes are emulated in the kernel: kvm_mmio, no trip to user space
    expect(trace).toContain("kvm_mmio: mmio write len 4 gpa 0x8000100 val 0x8000000");
    expect(trace.filter((l) => l.startsWith("kvm_userspace_exit"))).toEqual(["kvm_userspace_exit: reason KVM_EXIT_SYSTEM_EVENT (24)"]);
  });

  test("GICv3, today: the HW-mapped timer's EOI does not exit; ICC_* reach the virtual interface without trapping", () => {
    const { m, trace } = run(guest(V3_SETUP, V3_ACK, "wfi"), "today", "v3");
    expect(m.readRegister("x4")).toBe(2n);
    expect(reasons(m, "IRQ")).toBe(0);
    expect(reasons(m, "SYS64")).toBe(0);
    expect(m.vgic.stats.eoiExitless).toBe(2);
    expect(trace.filter((l) => l.startsWith("kvm_vcpu_wakeup"))).toEqual(["kvm_vcpu_wakeup: wait time 15979 ns, polling valid", "kvm_vcpu_wakeup: wait time 15982 ns, polling valid"]);
  });

  test("a timer firing while the guest spins is an IRQ exit at a deterministic instruction; today's kvm_exit names it", () => {
    const a = run(guest(V2_SETUP, V2_ACK, "spin"), "today", "v2");
    const b = run(guest(V2_SETUP, V2_ACK, "spin"), "today", "v2");
    expect(a.trace).toEqual(b.trace);
    const irq = a.trace.filter((l) => l.startsWith("kvm_exit: IRQ"));
    expect(irq.length).toBe(2);
    // ESR_EL2 is not written by an IRQ exit: the last trap's class (the distributor's data abort) is printed
    expect(irq[0]).toMatch(/^kvm_exit: IRQ: HSR_EC: 0x0024 \(DABT_LOW\), PC: 0x0000000040080/);
    expect(a.m.readRegister("x4")).toBe(2n);
  });

  test("WFI with nothing armed stops the VM: nothing can wake it", () => {
    const m = createArm64Machine({ guest: { source: "  wfi\n" } });
    const r = m.run({ maxSteps: 100 });
    expect(r.stop).toBe("halted");
    expect(r.message).toMatch(/no timer is armed/);
  });

  test("CNTP_* trap (CNTHCTL_EL2.EL1PCEN = 0): undefined in 2015, emulated today", () => {
    const src = "  mov x0, #5\n  msr cntp_tval_el0, x0\n  mrs x1, cntp_ctl_el0\n  ldr x0, =0x84000008\n  hvc #0\n";
    const old = createArm64Machine({ guest: { source: src }, settings: { era: "2015" } });
    old.run({ maxSteps: 1000 });
    expect(reasons(old, "SYS64")).toBe(1);
    expect(old.cpu.state.pc).toBe(0x200n); // the injected undefined instruction went to the (empty) vector
    const now = createArm64Machine({ guest: { source: src }, settings: { era: "today" } });
    const r = now.run({ maxSteps: 1000 });
    expect(r.message).toMatch(/SYSTEM_OFF/);
    expect(reasons(now, "SYS64")).toBe(2);
  });
});
