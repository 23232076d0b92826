// The interrupt words through Lab.run: `set gic`, `irq N`, `show gic`, `show timer`, and a bad
// `irq` getting a clear error with its position.
import { describe, expect, test } from "vitest";
import { Lab } from "../../lab/index.js";
import { renderAllText } from "../../lab/render/text.js";

describe("interrupt words", () => {
  test("set gic, irq N, show gic, show timer", async () => {
    const lab = await Lab.create();
    const out = renderAllText(lab.run("set gic v3\nvm boot arm64\nirq 40\nshow gic\nshow timer"));
    expect(out).toContain("gic = v3 (VMs booted from now on)");
    expect(out).toContain("interrupt 40 (SPI) injected, disabled in the distributor: it stays pending");
    expect(out).toMatch(/GICv3 \(KVM vGIC, 2015/);
    expect(out).toMatch(/distributor\s+40 SPI\s+disabled\s+pending/);
    expect(out).toMatch(/CNTV_CTL_EL0 \(vtimer\)\s+0x0/);
    const trace = renderAllText(lab.run("run\nshow trace"));
    // the injection kicks the running vCPU: the first thing the next run does is an IRQ exit
    expect(trace).toContain("kvm_irq_line: Inject VGIC SPI interrupt (1), vcpu->idx: 0, num: 8, level: 1");
  });

  test("irq with a bad number or on an x86 VM is an error naming the place", async () => {
    const lab = await Lab.create();
    const bad = renderAllText(lab.run("vm boot arm64\nirq 5"));
    expect(bad).toMatch(/line 2, column 5/);
    expect(bad).toMatch(/out of range/);
    const x86 = renderAllText(lab.run("vm boot x86_64\nirq 40"));
    expect(x86).toMatch(/needs an arm64 VM/);
  });
});
