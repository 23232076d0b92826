// The x86 kick path through the CLI: vCPU 0 sends a fixed IPI (ICR) to vCPU 1 while vCPU 1 is
// running guest code (a loop with interrupts enabled, not HLT). Without APICv, KVM kicks the
// running target (kvm_vcpu_kick: the host's reschedule IPI, vector 0xfd) — an EXTERNAL_INTERRUPT
// exit of vCPU 1 — and injects the vector at its next entry (kvm_inj_virq); the guest's EOI is an
// exit too. With APICv (posted interrupts, virtual-interrupt delivery) the processor delivers the
// vector to the running vCPU without an exit (vmx_deliver_posted_interrupt; SDM Vol. 3 29.6).

import { describe, expect, it } from "vitest";
import { ipiGuest, run } from "./smp-setup.js";

// The AP spins with interrupts enabled — counting at 0x9004 — until the handler's flag is set
// (smp-setup.ts ipiGuest): it is running, not in HLT, when the IPI comes.
const GUEST = ipiGuest("spin:\n  incw 0x9004\n  cmpw $0x66, 0x9002\n  jne spin\n  cli\n  hlt");

const program = (apicv: "on" | "off", era = "today") => `set vcpus 2
set era ${era}
set apicv ${apicv}
vm boot x86_64 ${GUEST}
run
show mem 0x9000 8
print "kicks", count(exits where reason == EXTERNAL_INTERRUPT && vcpu == 1)
print "eoi exits", count(exits where reason == MSR_WRITE && vcpu == 1)
show trace
`;

/** vCPU 1's lines of the trace from the IPI on (today's kvm_exit names the vcpu; vCPU 0's exits and entries left out). */
function afterIpi(out: string): string[] {
  const lines = out.split("\n");
  const at = lines.indexOf("kvm_apic_ipi: dst 1 vec 64 (Fixed|physical|assert|edge|dst)");
  expect(at).toBeGreaterThan(0);
  return lines.slice(at).filter((l) => !l.startsWith("kvm_entry") && !l.startsWith("kvm_exit: vcpu 0 ") && !l.startsWith("kvm_page_fault") && !l.startsWith("kvm_emulate_insn") && !l.startsWith("kvm_mmio") && !l.startsWith("kvm_apic: ") && !l.startsWith("kvm_userspace_exit") && l.trim() !== "");
}

describe("an IPI to a running vCPU (the kick path)", () => {
  it("APICv off: the target is kicked out (EXTERNAL_INTERRUPT, the host's reschedule vector 0xfd), KVM injects 0x40 at its next entry", () => {
    const r = run(program("off"));
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    // Both flags set, and the AP looped (its counter moved): it was running when the IPI came.
    expect(r.out).toMatch(/^00009000 {2}55 00 66 00 (?!00 00)[0-9a-f]{2} [0-9a-f]{2} 00 00/m);
    expect(r.out).toMatch(/^kicks 1$/m);
    const t = afterIpi(r.out);
    // vCPU 0 sees the AP's flag as soon as it is set (its polling loop gives way: core/vcpus.ts
    // POLL_QUANTUM), so the IPI comes before the AP's interrupts are open (its STI, whose shadow
    // holds them one instruction more: SDM Vol. 3 6.8.3): KVM cannot inject at that entry, asks
    // for an interrupt window, and injects at the INTERRUPT_WINDOW exit.
    expect(t.slice(0, 5)).toEqual([
      "kvm_apic_ipi: dst 1 vec 64 (Fixed|physical|assert|edge|dst)",
      "kvm_apic_accept_irq: apicid 1 vec 64 (Fixed|edge)",
      expect.stringMatching(/^kvm_exit: vcpu 1 reason EXTERNAL_INTERRUPT rip 0x[0-9a-f]+ info1 0x0{16} info2 0x0{16} intr_info 0x800000fd error_code 0x00000000$/),
      expect.stringMatching(/^kvm_exit: vcpu 1 reason INTERRUPT_WINDOW rip 0x[0-9a-f]+ info1 0x0{16} info2 0x0{16} intr_info 0x00000000 error_code 0x00000000$/),
      "kvm_inj_virq: IRQ 0x40",
    ]);
    // The handler's x2APIC EOI (MSR 0x80b) exits without virtual-interrupt delivery.
    expect(t).toContain("kvm_eoi: apicid 1 vector 64");
    expect(r.out).toMatch(/^eoi exits 3$/m);
  });

  it("APICv on: a posted interrupt — no exit of the target, no injection by KVM, the EOI virtualized", () => {
    const r = run(program("on"));
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^00009000 {2}55 00 66 00 (?!00 00)[0-9a-f]{2} [0-9a-f]{2} 00 00/m);
    expect(r.out).toMatch(/^kicks 0$/m);
    const t = afterIpi(r.out);
    expect(t.slice(0, 2)).toEqual(["kvm_apic_ipi: dst 1 vec 64 (Fixed|physical|assert|edge|dst)", "kvm_apic_accept_irq: apicid 1 vec 64 (Fixed|edge)"]);
    expect(t.filter((l) => l.startsWith("kvm_inj_virq") || l.startsWith("kvm_eoi") || l.includes("EXTERNAL_INTERRUPT"))).toEqual([]);
    // Only the AP's two set-up MSR writes exit (IA32_APIC_BASE, the x2APIC SVR); its EOI does not.
    expect(r.out).toMatch(/^eoi exits 2$/m);
  });

  it("2015's trace prints the same kick without the vcpu", () => {
    const r = run(program("off", "2015"));
    expect(r.err).toBe("");
    expect(r.out).toMatch(/^kvm_exit: reason EXTERNAL_INTERRUPT rip 0x[0-9a-f]+ info 0 800000fd$/m);
  });

  it("is deterministic", () => {
    expect(run(program("off")).out).toBe(run(program("off")).out);
  });
});
