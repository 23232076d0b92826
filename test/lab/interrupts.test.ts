// The interrupt words through Lab.run (issue 16): `irq N`, `set apicv on|off`, `show apic`.

import { describe, expect, test } from "vitest";
import { Lab, complete } from "../../lab/index.js";
import { readX86Fixture } from "../runtime/x86/fixtures/index.js";

const GUEST = readX86Fixture("apic/timer-guest.s").replace(/^\.code32\n/m, "");

describe("interrupt statements (issue 16)", () => {
  test("set apicv, the timer guest, and the exits APICv removes", async () => {
    const lab = await Lab.create();
    const off = lab.text(`vm boot x86_64 asm mode 32 {\n${GUEST}\n} as old\nrun\ncount(exits where reason == APIC_ACCESS)`);
    expect(off).toMatch(/\n11\s*$/);
    const on = lab.text(`set apicv on\nvm boot x86_64 asm mode 32 {\n${GUEST}\n} as new\nrun\ncount(exits where reason == APIC_ACCESS)\ncount(exits where reason == APIC_WRITE)`);
    expect(on).toMatch(/apicv = on: applies to x86_64 VMs booted from now on; `old` keeps its era.s default/);
    expect(on).toMatch(/\n0\s*\n6\s*$/);
  });

  test("show apic: the register table, the timer, APICv", async () => {
    const lab = await Lab.create();
    const out = lab.text(`vm boot x86_64 asm mode 32 {\n${GUEST}\n}\nrun limit 40\nshow apic`);
    expect(out).toMatch(/APIC_SPIV\s+0xf0\s+0x1ff/);
    expect(out).toMatch(/APIC_LVTT\s+0x320\s+0x20030/);
    expect(out).toMatch(/timer\s+periodic\s+fires at cycle/);
    expect(out).toMatch(/APICv\s+off/);
  });

  test("irq N: the VMM's vector lands in the IRR; errors name the line and column", async () => {
    const lab = await Lab.create();
    const out = lab.text(`vm boot x86_64 asm mode 32 {\n${GUEST}\n}\nrun limit 12\nirq 0x40`);
    expect(out).toMatch(/vector 64 pending in the local APIC's IRR/);
    const bad = lab.text("irq 3");
    expect(bad).toMatch(/16-255/);
    expect(bad).toMatch(/line 1/);
  });

  test("help, completion and the settings list know irq, apicv and apic", async () => {
    const lab = await Lab.create();
    expect(lab.text("help irq")).toMatch(/irq N/);
    expect(lab.text("help apicv")).toMatch(/APICv/);
    expect(complete(lab.session, "ir", 2).matches).toContain("irq");
    expect(complete(lab.session, "set apicv o", 11).matches).toEqual(["off", "on"]);
    lab.run("vm boot x86_64");
    expect(complete(lab.session, "show ap", 7).matches).toContain("apic");
  });
});
