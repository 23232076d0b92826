// The per-vCPU views and `irq N` through the CLI on an SMP VM: `show gic` and `show timer` show the
// vCPU `vcpu N` selected (its banked PPIs, its list registers, its own timers), `irq N` of a PPI
// goes to the selected vCPU's redistributor, and kvm_irq_line carries its index (Linux
// arch/arm64/kvm/arm.c kvm_vm_ioctl_irq_line: vcpu_idx of a PPI; num the INTID).

import { describe, expect, it } from "vitest";
import { cpuOnGuest, run } from "./smp-setup.js";

// vCPU 0 powers vCPU 1 on (PSCI CPU_ON) and waits for its flag; vCPU 1 arms its virtual timer far
// in the future (CVAL 0x123456789), sets the flag and blocks in WFI; vCPU 0 powers the VM off.
const GUEST = cpuOnGuest(
  0,
  "",
  `
  movz x1, #0x6789
  movk x1, #0x2345, lsl #16
  movk x1, #0x1, lsl #32
  msr cntv_cval_el0, x1
  mov x1, #1
  msr cntv_ctl_el0, x1
  adr x9, flag
  mov x0, #1
  str x0, [x9]
  wfi
  b second`,
);

/** The section of `out` from the line starting with `title` to the next blank-free title line. */
function section(out: string, title: string, end: RegExp): string {
  const i = out.indexOf(title);
  expect(i).toBeGreaterThanOrEqual(0);
  const rest = out.slice(i);
  const j = rest.slice(title.length).search(end);
  return j < 0 ? rest : rest.slice(0, title.length + j);
}

describe("per-vCPU views and irq on an SMP arm64 VM", () => {
  const program = `set vcpus 2\nset gic v3\nset quantum 100\nvm boot arm64 ${GUEST}\nrun\nvcpu 1\nirq 20\nshow gic\nshow timer\nvcpu 0\nshow gic\nshow timer\nshow trace\n`;

  it("irq N of a PPI reaches the selected vCPU, and show gic / show timer show that vCPU", () => {
    const r = run(program);
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    expect(r.out).toContain("interrupt 20 (PPI) injected for vCPU 1, disabled in the distributor: it stays pending");
    const gic1 = section(r.out, "GICv3 as vCPU 1 sees it", /\n(generic timer|GICv3)/);
    expect(gic1).toMatch(/distributor +20 PPI +disabled +pending/);
    const gic0 = section(r.out, "GICv3 as vCPU 0 sees it", /\n(generic timer|GICv3)/);
    // vCPU 0's redistributor does not have vCPU 1's PPI.
    expect(gic0).not.toMatch(/20 PPI/);
    const t1 = section(r.out, "generic timer of vCPU 1", /\n(vCPU|GICv3)/);
    expect(t1).toMatch(/CNTV_CTL_EL0 \(vtimer\) +0x1 +CVAL 0x123456789 /);
    const t0 = section(r.out, "generic timer of vCPU 0", /\n-- trace/);
    expect(t0).toMatch(/CNTV_CTL_EL0 \(vtimer\) +0x0 +CVAL 0x0 /);
  });

  it("kvm_irq_line carries the PPI's vCPU index and the INTID; an SPI goes to the distributor (vcpu_idx 0)", () => {
    const r = run(program);
    expect(r.out).toContain("kvm_irq_line: Inject VGIC PPI interrupt (2), vcpu->idx: 1, num: 20, level: 1");
    const spi = run(`set vcpus 2\nvm boot arm64\nvcpu 1\nirq 40\nshow trace\n`);
    expect(spi.out).toContain("kvm_irq_line: Inject VGIC SPI interrupt (1), vcpu->idx: 0, num: 40, level: 1");
  });
});
