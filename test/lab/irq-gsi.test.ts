// `irq gsi N [high|low]` through Lab.run (issue 16): KVM_IRQ_LINE of an x86 GSI — kvm_set_irq, the
// PIC's and the I/O APIC's tracepoints as each era prints them — and the errors for a bad GSI, a bad
// level, and an arm64 VM.
import { describe, expect, test } from "vitest";
import { Lab } from "../../lab/index.js";
import { renderAllText } from "../../lab/render/text.js";

describe("irq gsi N", () => {
  test("a pulse on GSI 4: the PIC's pin requests, the I/O APIC's is masked; traced as KVM traces KVM_IRQ_LINE", async () => {
    const lab = await Lab.create();
    const out = renderAllText(lab.run("vm boot x86_64\nirq gsi 4\nshow trace"));
    expect(out).toContain("GSI 4 pulsed (high, then low) (KVM_IRQ_LINE); PIC master IR4: requested, INTR high: no vCPU's LINT0 takes it (LVT0 masked or not ExtINT); I/O APIC pin 4: masked");
    // 2015 (the default era): v4.1's include/trace/events/kvm.h text, "vec=%u".
    expect(out).toContain("kvm_set_irq: gsi 4 level 1 source 0");
    expect(out).toContain("kvm_pic_set_irq: chip 0 pin 4 (edge)");
    expect(out).toContain("kvm_ioapic_set_irq: pin 4 dst 0 vec=0 (Fixed|physical|edge|masked)");
    expect(out).toContain("kvm_set_irq: gsi 4 level 0 source 0");
    const i = out.indexOf("kvm_set_irq: gsi 4 level 1");
    expect(out.indexOf("kvm_pic_set_irq: chip 0 pin 4")).toBeGreaterThan(i);
    expect(out.indexOf("kvm_ioapic_set_irq: pin 4")).toBeGreaterThan(out.indexOf("kvm_pic_set_irq: chip 0 pin 4"));
  });

  test("today's kvm_ioapic_set_irq (arch/x86/kvm/trace.h) prints \"vec %u\"; high then high again coalesces at the I/O APIC; GSI 20 has no PIC pin", async () => {
    const lab = await Lab.create();
    const out = renderAllText(lab.run("set era today\nvm boot x86_64\nirq gsi 3 high\nirq gsi 3 high\nirq gsi 20 low\nshow trace"));
    expect(out).toContain("GSI 3 high (KVM_IRQ_LINE)");
    expect(out).toContain("kvm_ioapic_set_irq: pin 3 dst 0 vec 0 (Fixed|physical|edge|masked)");
    expect(out).toContain("kvm_ioapic_set_irq: pin 3 dst 0 vec 0 (Fixed|physical|edge|masked) (coalesced)");
    // i8259.c pic_set_irq1: an edge pin already high returns 1 (not coalesced) — the I/O APIC's does coalesce.
    expect(out).not.toContain("kvm_pic_set_irq: chip 0 pin 3 (edge) (coalesced)");
    expect(out).toContain("GSI 20 low (KVM_IRQ_LINE); I/O APIC pin 20: masked");
    expect(out).not.toMatch(/kvm_pic_set_irq: chip 2/);
  });

  test("errors name the place: a GSI outside 0-23, a level that is not high or low, an arm64 VM", async () => {
    const lab = await Lab.create();
    const range = renderAllText(lab.run("vm boot x86_64\nirq gsi 24"));
    expect(range).toMatch(/line 2, column 9/);
    expect(range).toMatch(/GSI 24 out of range/);
    expect(range).toMatch(/pins 0-23/);
    const level = renderAllText(lab.run("irq gsi 4 middle"));
    expect(level).toMatch(/line 1, column 11/);
    expect(level).toMatch(/`middle` is not a line level: expected `high` or `low`/);
    const arm = renderAllText(lab.run("vm boot arm64\nirq gsi 4"));
    expect(arm).toMatch(/line 2, column 1/);
    expect(arm).toMatch(/drives an x86 GSI line/);
  });
});
