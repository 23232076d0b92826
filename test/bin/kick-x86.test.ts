// The x86 kick path through the CLI: vCPU 0 sends a fixed IPI (ICR) to vCPU 1 while vCPU 1 is
// running guest code (a loop with interrupts enabled, not HLT). Without APICv, KVM kicks the
// running target (kvm_vcpu_kick: the host's reschedule IPI, vector 0xfd) — an EXTERNAL_INTERRUPT
// exit of vCPU 1 — and injects the vector at its next entry (kvm_inj_virq); the guest's EOI is an
// exit too. With APICv (posted interrupts, virtual-interrupt delivery) the processor delivers the
// vector to the running vCPU without an exit (vmx_deliver_posted_interrupt; SDM Vol. 3 29.6).

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function run(program: string): { out: string; err: string; status: number | null } {
  const r = spawnSync(process.execPath, ["bin/exitlab.js", "run", "-"], { cwd: ROOT, input: program, encoding: "utf8" });
  return { out: r.stdout, err: r.stderr, status: r.status };
}

// The BSP starts the AP (INIT, STARTUP vector 8), waits for its flag at 0x9000, sends vector 0x40
// to APIC ID 1 and waits for the handler's flag at 0x9002, then stops (cli; hlt). The AP (real
// mode at 0800:0000) installs IVT entry 0x40, enables its x2APIC, sets the flag, enables
// interrupts and spins — counting at 0x9004 — until the handler's flag is set; the handler sets it
// and writes the x2APIC EOI.
const GUEST = `asm mode 32 {
start:
  mov $ap_start, %esi
  mov $0x8000, %edi
  mov $(ap_end - ap_start), %ecx
  rep movsb
  movl $0x1ff, 0xfee000f0
  movl $0, 0xfee00310
  movl $0x000c4500, 0xfee00300
  movl $0x000c4608, 0xfee00300
wait:
  cmpw $0x55, 0x9000
  jne wait
  movl $0x01000000, 0xfee00310
  movl $0x00004040, 0xfee00300
wait2:
  cmpw $0x66, 0x9002
  jne wait2
  cli
  hlt
.code16
ap_start:
  xor %ax, %ax
  mov %ax, %ds
  movw $(handler - ap_start + 0x8000), 0x100
  movw $0, 0x102
  mov $0x1b, %ecx
  rdmsr
  or $0xc00, %eax
  wrmsr
  mov $0x80f, %ecx
  mov $0x1ff, %eax
  xor %edx, %edx
  wrmsr
  movw $0x55, 0x9000
  sti
spin:
  incw 0x9004
  cmpw $0x66, 0x9002
  jne spin
  cli
  hlt
handler:
  movw $0x66, 0x9002
  mov $0x80b, %ecx
  xor %eax, %eax
  xor %edx, %edx
  wrmsr
  iret
ap_end:
}`;

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
    expect(t.slice(0, 4)).toEqual([
      "kvm_apic_ipi: dst 1 vec 64 (Fixed|physical|assert|edge|dst)",
      "kvm_apic_accept_irq: apicid 1 vec 64 (Fixed|edge)",
      expect.stringMatching(/^kvm_exit: vcpu 1 reason EXTERNAL_INTERRUPT rip 0x[0-9a-f]+ info1 0x0{16} info2 0x0{16} intr_info 0x800000fd error_code 0x00000000$/),
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
