// SMP on the x86 machine through the CLI: `set vcpus`, a BSP that starts an AP with INIT and
// STARTUP IPIs (SDM Vol. 3 8.4.4) and sends it a fixed IPI, the AP blocking in HLT and waking,
// `show vcpus`, `vcpu N`, `ipi CPU vector N` and their errors, the trace's vcpu ids, determinism.

import { describe, expect, it } from "vitest";
import { ipiGuest, run } from "./smp-setup.js";

// The AP sleeps in HLT until the IPI wakes it (smp-setup.ts ipiGuest).
const GUEST = ipiGuest("idle:\n  hlt\n  jmp idle");

describe("x86 SMP through the CLI", () => {
  const program = (era: string) => `set vcpus 2\nset era ${era}\nvm boot x86_64 ${GUEST}\nrun\nshow vcpus\nshow mem 0x9000 4\nshow trace\nvcpu 1\nshow regs\nshow exit\n`;

  it("INIT and SIPI start the AP in real mode at vector x 4096; a fixed IPI wakes it from HLT", () => {
    const r = run(program("today"));
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    // Both flags: the AP ran its code and its handler of vector 0x40.
    expect(r.out).toMatch(/00009000 {2}55 00 66 00/);
    // Both vCPUs end blocked in HLT: the VM stops with nothing to wake them.
    expect(r.out).toContain("every vCPU is waiting for SIPI or blocked in HLT");
    expect(r.out).toMatch(/^ +1 +blocked +runnable +1 +0x38 /m);
    // The BSP's ICR writes as KVM traces them, and the AP's APIC accepting INIT, SIPI and the fixed vector.
    expect(r.out).toContain("kvm_apic_ipi: dst 0 vec 0 (INIT|physical|assert|edge|all-but-self)");
    expect(r.out).toContain("kvm_apic_ipi: dst 0 vec 8 (SIPI|physical|assert|edge|all-but-self)");
    expect(r.out).toContain("kvm_apic_accept_irq: apicid 1 vec 8 (SIPI|edge)");
    expect(r.out).toContain("kvm_apic_ipi: dst 1 vec 64 (Fixed|physical|assert|edge|dst)");
    expect(r.out).toContain("kvm_apic_accept_irq: apicid 1 vec 64 (Fixed|edge)");
    expect(r.out).toMatch(/kvm_vcpu_wakeup: wait time \d+ ns, polling valid/);
    // Today's kvm_exit and kvm_entry carry the vcpu; the AP's first entry is at IP 0 of its SIPI segment.
    expect(r.out).toContain("kvm_entry: vcpu 1, rip 0x0");
    expect(r.out).toMatch(/kvm_exit: vcpu 1 reason HLT rip 0x38 /);
    // vCPU 1's registers: real mode, CS = vector << 8.
    expect(r.out).toContain("x86-64 registers (guest view of vCPU 1)");
    expect(r.out).toMatch(/^cs +0x800$/m);
    expect(r.out).toMatch(/^mode +real$/m);
    expect(r.out).toMatch(/^vcpu +1$/m);
  });

  it("a spin-wait gives way to a vCPU with work waiting: the BSP spinning on the AP's flags runs a few passes, not its quantum", () => {
    // Without the rule the BSP spins out its 10,000-instruction quantum twice (waiting for the AP
    // to start, then for its IPI handler): about 20,000 instructions.
    const r = run(`set vcpus 2\nvm boot x86_64 ${GUEST}\nrun\nshow vcpus\n`);
    expect(r.err).toBe("");
    const bsp = /^ +0 +blocked +runnable +0 +0x[0-9a-f]+ +(\d+) /m.exec(r.out);
    expect(bsp, r.out).not.toBeNull();
    expect(Number(bsp![1])).toBeLessThan(1000);
    expect(r.out).toMatch(/00009000 {2}55 00 66 00|^ +1 +blocked/m);
  });

  it("2015's kvm_exit has no vcpu; its kvm_entry has", () => {
    const r = run(program("2015"));
    expect(r.err).toBe("");
    expect(r.out).toMatch(/kvm_exit: reason HLT rip 0x38 info 0 0/);
    expect(r.out).toContain("kvm_entry: vcpu 1\n");
  });

  it("is deterministic: the same program prints the same bytes", () => {
    expect(run(program("today")).out).toBe(run(program("today")).out);
  });

  it("vcpu N and ipi check their arguments with line, column and hint", () => {
    let r = run(`set vcpus 2\nvm boot x86_64\nvcpu 2\n`);
    expect(r.status).toBe(1);
    expect(r.err).toContain("line 3, column 6: no vCPU 2: this VM has 2 vCPUs (0..1)");
    r = run(`set vcpus 2\nvm boot x86_64\nipi 1\n`);
    expect(r.err).toContain("an x86 IPI needs its vector");
    expect(r.err).toContain("hint: e.g. `ipi 1 vector 0x30`");
    r = run(`set vcpus 2\nvm boot x86_64\nipi 1 vector 3\n`);
    expect(r.err).toContain("line 3, column 14: vector 3 out of range");
  });

  it("ipi from the VMM to an AP waiting for SIPI leaves the vector in its IRR; step says why an AP cannot step", () => {
    const r = run(`set vcpus 2\nvm boot x86_64\nipi 1 vector 0x30\nvcpu 1\nstep\n`);
    expect(r.out).toContain("vector 48 to vCPU 1 (KVM_SIGNAL_MSI, fixed, physical destination APIC ID 1)");
    expect(r.err).toContain("vCPU 1 is waiting for INIT/SIPI");
  });

  it("fw_cfg reports the vCPU count (FW_CFG_NB_CPUS, key 5)", () => {
    const r = run(`set vcpus 3\nvm boot x86_64 asm mode 32 {\n  mov $0x510, %dx\n  mov $5, %ax\n  out %ax, %dx\n  inc %dx\n  inb %dx, %al\n  hlt\n}\nrun\nprint rax & 0xff\n`);
    expect(r.err).toBe("");
    expect(r.out).toMatch(/^0x3$/m);
  });
});
