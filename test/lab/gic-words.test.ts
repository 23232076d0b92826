// The interrupt words through Lab.run: `set gic`, `irq N`, `show gic`, `show timer`, and a bad
// `irq` getting a clear error with its position.
import { describe, expect, test } from "vitest";
import { Lab } from "../../lab/index.js";
import { renderAllText } from "../../lab/render/text.js";

describe("interrupt words", () => {
  test("set gic, irq N, show gic, show timer", async () => {
    const lab = await Lab.create();
    const out = renderAllText(lab.run("set gic v3\nvm boot arm64\nirq 40\nshow gic\nshow timer"));
    expect(out).toContain("gic = v3: applies to arm64 VMs booted from now on");
    expect(out).toContain("interrupt 40 (SPI) injected, disabled in the distributor: it stays pending");
    expect(out).toMatch(/GICv3 \(KVM vGIC, 2015/);
    expect(out).toMatch(/distributor\s+40 SPI\s+disabled\s+pending/);
    expect(out).toMatch(/CNTV_CTL_EL0 \(vtimer\)\s+0x0/);
    const trace = renderAllText(lab.run("run\nshow trace\nexpect count(exits where reason == IRQ) == 1, \"the kick\""));
    expect(trace).not.toMatch(/Error|Expectation/);
    // the injection kicks the running vCPU: the first thing the next run does is an IRQ exit
    expect(trace).toContain("kvm_irq_line: Inject VGIC SPI interrupt (1), vcpu->idx: 0, num: 40, level: 1");
  });

  test("irq with a bad number is an error naming the place (an arm64 INTID, an x86 vector)", async () => {
    const lab = await Lab.create();
    const bad = renderAllText(lab.run("vm boot arm64\nirq 5"));
    expect(bad).toMatch(/line 2, column 5/);
    expect(bad).toMatch(/out of range/);
    // x86 has its local APIC since issue 16's x86 half: vectors 16-255.
    const x86 = renderAllText(lab.run("vm boot x86_64\nirq 5"));
    expect(x86).toMatch(/line 2, column 5/);
    expect(x86).toMatch(/16-255/);
  });
});

describe("the interrupt words in completion, help and inspection", () => {
  test("set gic, irq, show gic/timer complete; help and inspect know them", async () => {
    const { Session, defaultFactory } = await import("../../lab/index.js");
    const { complete, inspect } = await import("../../lab/complete.js");
    const s = new Session(await defaultFactory());
    s.execute("vm boot arm64");
    expect(complete(s, "set gic ", 8).matches).toEqual(["v2", "v3"]);
    expect(complete(s, "ir", 2).matches).toContain("irq");
    expect(complete(s, "show ti", 7).matches).toEqual(["timer"]);
    expect(complete(s, "show gi", 7).matches).toEqual(["gic"]);
    expect(complete(s, "expect exit.reason == IR", 24).matches).toContain("IRQ");
    const help = renderAllText(s.execute("help irq\nhelp gic\nhelp IRQ"));
    expect(help).toMatch(/^irq N\n/);
    expect(help).toMatch(/set gic VALUE\n {2}arm64 interrupt controller/);
    expect(help).toMatch(/ARM_EXCEPTION_IRQ/);
    expect(JSON.stringify(inspect(s, "irq 40", 1))).toMatch(/KVM_IRQ_LINE/);
  });
});
