// The world switch executed at EL2 (runtime/arm64/hyp): what it saves and restores, per model.

import { describe, expect, test } from "vitest";
import { runSwitch, switchProfile } from "../../../../runtime/arm64/hyp/switch.js";
import { EL1_SYSREGS } from "../../../../runtime/arm64/hyp/source.js";
import { createMachine } from "../../../../runtime/index.js";
import type { Arm64Machine } from "../../../../runtime/arm64/machine.js";
import { A64Cpu } from "../../../../runtime/arm64/cpu.js";
import { GuestMemory } from "../../../../runtime/core/memory.js";
import { MmioBus } from "../../../../runtime/core/bus.js";
import { hcr } from "../../../../runtime/arm64/el2.js";

const NVHE = { model: "nvhe", deferred: false, gic: "v2" } as const;
const VHE = { model: "vhe", deferred: true, gic: "v3" } as const;

describe("the nVHE switch", () => {
  const r = runSwitch(NVHE, "trap");
  test("saves every EL1 register of the guest and restores the host's on the way out, and the reverse on the way in", () => {
    const phase = (half: string, name: string) => r.phases.find((p) => p.half === half && p.phase === name)!;
    expect(phase("exit", "save_guest_sysregs").reads).toEqual([...EL1_SYSREGS]);
    expect(phase("exit", "restore_host_sysregs").writes).toEqual([...EL1_SYSREGS]);
    expect(phase("entry", "save_host_sysregs").reads).toEqual([...EL1_SYSREGS]);
    expect(phase("entry", "restore_guest_sysregs").writes).toEqual([...EL1_SYSREGS]);
    expect(phase("exit", "deactivate_traps").writes).toContain("VTTBR_EL2");
    expect(phase("entry", "activate_traps").writes).toContain("HCR_EL2");
    // GICv2: the vGIC is saved through the GICH block (MMIO), not system registers.
    expect(phase("exit", "save_vgic").counts.mmio_read).toBe(6);
  });
  test("the guest's registers reach its context and come back: the switch really moves them", () => {
    const sysregs = new Map(EL1_SYSREGS.map((n, i) => [n, BigInt(0x1000 + i)]));
    const g = { x: Array.from({ length: 31 }, (_, n) => 0xab00n + BigInt(n)), pc: 0x4008_0040n, pstate: 0x3c5n, sysregs, hcr: hcr("VM") | hcr("RW"), vttbr: 1n << 48n, usedLrs: 0 };
    // A different guest state executes the same instructions (so one profile per variant serves every exit).
    expect(runSwitch(NVHE, "trap", g).instructions).toBe(r.instructions);
  });
  test("an IRQ exit enters at VBAR_EL2 + 0x480", () => {
    const irq = runSwitch(NVHE, "irq");
    expect(irq.ops[0]!.pc & 0x7ffn).toBe(0x480n);
    expect(r.ops[0]!.pc & 0x7ffn).toBe(0x400n);
  });
});

describe("VHE", () => {
  test("today's VHE switch executes fewer instructions and system-register accesses than nVHE, and no EL1 context switch", () => {
    const n = switchProfile(NVHE, "trap"), v = switchProfile(VHE, "trap");
    expect(v.instructions).toBeLessThan(n.instructions / 2);
    expect(v.sysregAccesses).toBeLessThan(n.sysregAccesses / 3);
    expect(v.cycles).toBeLessThan(n.cycles / 3);
    expect(v.phases.some((p) => /sysregs/.test(p.phase))).toBe(false);
    expect(v.phases.some((p) => p.phase === "exception_entry" && p.half === "entry")).toBe(false); // no hvc from the host
  });
  test("VHE before the deferral switches the guest's EL1 registers through the *_EL12 aliases", () => {
    const v = runSwitch({ model: "vhe", deferred: false, gic: "v3" }, "trap");
    const save = v.phases.find((p) => p.phase === "save_guest_sysregs")!;
    expect(save.reads).toContain("SCTLR_EL12");
    expect(save.reads).toContain("TPIDR_EL1"); // not redirected (no EL2 counterpart)
  });
  test("E2H redirects EL1 accesses at EL2 to EL2 registers; the aliases reach EL1, and are UNDEFINED without E2H", () => {
    const mem = new GuestMemory();
    mem.addRegion({ name: "ram", base: 0, size: 0x10000 });
    const cpu = new A64Cpu(mem, new MmioBus(), mem);
    cpu.state.el = 2;
    const sctlrEl1 = { op0: 3, op1: 0, crn: 1, crm: 0, op2: 0 }, sctlrEl12 = { op0: 3, op1: 5, crn: 1, crm: 0, op2: 0 };
    cpu.setReg("HCR_EL2", hcr("E2H") | hcr("TGE"));
    cpu.writeSysreg(sctlrEl1, 0x30c5_0839n, 0);
    expect(cpu.reg("SCTLR_EL2")).toBe(0x30c5_0839n);
    cpu.writeSysreg(sctlrEl12, 0x00c5_0805n, 0);
    expect(cpu.reg("SCTLR_EL1")).toBe(0x00c5_0805n);
    cpu.setReg("HCR_EL2", 0n);
    expect(cpu.readSysreg(sctlrEl1, 0)).toBe(0x00c5_0805n);
    expect(() => cpu.readSysreg(sctlrEl12, 0)).toThrow();
  });
});

describe("the machine's exits cost what the switch executed", () => {
  const guest = { source: "start:\n\tldr x0, =0x84000000\n\thvc #0\n\tldr x0, =0x84000008\n\thvc #0\n" };
  const hvcCycles = (settings: Record<string, string>) => {
    const m = createMachine("arm64", { guest, settings }) as Arm64Machine;
    m.run();
    const e = m.exits.toArray().find((x) => x.reason === "HVC64")!;
    return { m, cycles: e.cycles, trace: m.trace.lines(), cost: m.exits.at(-1)!.info };
  };
  test("nVHE vs VHE: same trace, different cost; the 2015 nVHE hypercall is within 20 % of ISCA 2016's 6,500", () => {
    const n = hvcCycles({ era: "2015", model: "nvhe" });
    const v = hvcCycles({ era: "2015", model: "vhe" });
    expect(v.trace).toEqual(n.trace);
    expect(v.cycles).toBeLessThan(n.cycles);
    expect(Math.abs(n.cycles - 6500) / 6500).toBeLessThan(0.2);
  });
  test("the era picks the model: 2015 nvhe, today vhe", () => {
    expect((createMachine("arm64", { guest }) as Arm64Machine).settings.model).toBe("nvhe");
    expect((createMachine("arm64", { guest, settings: { era: "today" } }) as Arm64Machine).settings.model).toBe("vhe");
  });
  test("the guest measures the round trip on its virtual counter (as kvm-unit-tests micro-bench does): it is the exit's cycles", () => {
    const src = "start:\n\tisb\n\tmrs x1, cntvct_el0\n\tldr x0, =0x84000000\n\thvc #0\n\tisb\n\tmrs x2, cntvct_el0\n\tsub x3, x2, x1\n\tldr x0, =0x84000008\n\thvc #0\n";
    const measured = (settings: Record<string, string>) => {
      const m = createMachine("arm64", { guest: { source: src }, settings }) as Arm64Machine;
      m.run();
      const hvc = m.exits.toArray().find((x) => x.reason === "HVC64")!;
      // CNTFRQ 62.5 MHz on the 1 GHz modelled core: one tick per 16 cycles.
      return { ticks: Number(m.readRegister("x3")), cycles: hvc.cycles };
    };
    for (const settings of [{ era: "2015", model: "nvhe" }, { era: "today", model: "vhe" }]) {
      const { ticks, cycles } = measured(settings);
      expect(Math.abs(ticks * 16 - cycles)).toBeLessThanOrEqual(16 + 5 * 16);
    }
    expect(measured({ era: "today", model: "vhe" }).ticks).toBeLessThan(measured({ era: "2015", model: "nvhe" }).ticks / 2);
  });
});
