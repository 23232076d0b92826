// HCR_EL2 trap rules of the arm64 model and KVM's handling of each exit class: TVM/TRVM, WFx,
// SMC (TSC), SVC and UNDEFINED at EL1, EL2 registers from EL1, PSCI over HVC, TID3, set/way (TSW),
// and MMIO data aborts with and without a valid syndrome. Syndromes are decoded with decodeEsr.

import { describe, it, expect } from "vitest";
import { createArm64Machine, type Arm64Machine, type Arm64Settings } from "../../../runtime/arm64/machine.js";
import { decodeEsr, EC } from "../../../runtime/arm64/esr.js";
import type { Exit } from "../../../runtime/core/machine.js";

const POWEROFF = `
	ldr	x0, =0x84000008
	hvc	#0
	b	.
	.ltorg
`;

/** EL1 vectors: the current-EL/SP_ELx synchronous entry (+0x200) records ESR_EL1 in x20, ELR_EL1 in
 *  x21, counts in x23 and returns; for EC 0 (UNDEFINED) it first steps ELR_EL1 past the instruction. */
const VECTORS = `
	.balign	2048
vectors:
	.skip	0x200
el1_sync:
	mrs	x20, esr_el1
	mrs	x21, elr_el1
	add	x23, x23, #1
	lsr	x24, x20, #26
	cbnz	x24, 1f
	add	x25, x21, #4
	msr	elr_el1, x25
1:	eret
`;

const SET_VBAR = `
	adr	x1, vectors
	msr	vbar_el1, x1
`;

function boot(body: string, settings: Partial<Arm64Settings> = {}): Arm64Machine {
  const source = `\t.text\n\t.globl start\nstart:\n${body}\n${POWEROFF}\n${VECTORS}\n`;
  return createArm64Machine({ guest: { source, fileName: "test.s" }, settings });
}

const sym = (m: Arm64Machine, name: string): bigint => {
  const v = m.symbols.get(name);
  if (v === undefined) throw new Error(`no symbol ${name}`);
  return v;
};

/** A stage-2 fault on RAM, which KVM maps and the tests do not care about. */
function isRamFault(e: Exit): boolean {
  if (e.code !== EC.IABT_LOW && e.code !== EC.DABT_LOW) return false;
  const ipa = Number(e.info.ipa as bigint);
  return ipa >= 0x4000_0000 && ipa < 0x4800_0000;
}

/** Run (handling RAM faults) until the next other exit; fails if the guest halts or loops first. */
function runToExit(m: Arm64Machine): Exit {
  const r = m.run({ maxSteps: 100_000, stopOnExit: (e) => !isRamFault(e) });
  expect(r.stop, r.message).toBe("exit");
  expect(m.pendingExit).not.toBeNull();
  return m.pendingExit!;
}

function runToHalt(m: Arm64Machine): void {
  const r = m.run({ maxSteps: 100_000 });
  expect(r.stop, r.message).toBe("halted");
}

/** The exit's ESR_EL2, decoded; also checks that ESR_EL2 holds the same value. */
function esrOf(m: Arm64Machine, e: Exit) {
  const esr = e.info.esr as bigint;
  expect(m.readRegister("esr_el2")).toBe(esr);
  const d = decodeEsr(esr);
  expect(d.ec).toBe(e.code);
  expect(d.il).toBe(1);
  return d;
}

const exitsOf = (m: Arm64Machine, code: number) => m.exits.filter((e) => decodeEsr(e.info.esr as bigint).ec === code);

describe("HCR_EL2.TVM / TRVM", () => {
  const src = `
	ldr	x1, =0x40201000
tvm_at:
	msr	ttbr1_el1, x1
	mov	x9, #1
`;

  it("traps an MSR to TTBR1_EL1 as SYS64 with its encoding, and KVM performs the write", () => {
    const m = boot(src);
    const e = runToExit(m);
    expect(e.code).toBe(EC.SYS64);
    expect(e.pc).toBe(sym(m, "tvm_at"));
    const d = esrOf(m, e);
    expect(d.ec).toBe(0x18);
    expect(d.fields).toMatchObject({ op0: 3, op1: 0, crn: 2, crm: 0, op2: 1, rt: 1, direction: 0 });
    expect(m.readRegister("ttbr1_el1")).toBe(0n);
    m.handle();
    expect(m.readRegister("ttbr1_el1")).toBe(0x4020_1000n);
    expect(m.pc).toBe(sym(m, "tvm_at") + 4n);
    runToHalt(m);
    expect(m.readRegister("x9")).toBe(1n);
  });

  it("does not exit once TVM is cleared", () => {
    const m = boot(src);
    m.setTrap({ kind: "tvm" }, false);
    expect(m.kvm.hcr() & (1n << 26n)).toBe(0n);
    runToHalt(m);
    expect(exitsOf(m, EC.SYS64)).toHaveLength(0);
    expect(m.readRegister("ttbr1_el1")).toBe(0x4020_1000n);
    expect(m.readRegister("x9")).toBe(1n);
  });

  it("TRVM traps an MRS of SCTLR_EL1 as a read, and KVM returns the register's value", () => {
    const m = boot(`
trvm_at:
	mrs	x2, sctlr_el1
`);
    m.setTrap({ kind: "trvm" }, true);
    const e = runToExit(m);
    expect(e.pc).toBe(sym(m, "trvm_at"));
    const d = esrOf(m, e);
    expect(d.ec).toBe(EC.SYS64);
    expect(d.fields).toMatchObject({ op0: 3, op1: 0, crn: 1, crm: 0, op2: 0, rt: 2, direction: 1 });
    const sctlr = m.readRegister("sctlr_el1");
    expect(sctlr).not.toBe(0n);
    expect(m.readRegister("x2")).not.toBe(sctlr);
    m.handle();
    expect(m.readRegister("x2")).toBe(sctlr);
    expect(m.pc).toBe(sym(m, "trvm_at") + 4n);
  });
});

describe("WFI / WFE (TWI, TWE)", () => {
  const src = `
wfe_at:
	wfe
wfi_at:
	wfi
`;

  it("WFE exits with ti 1 and resumes past it; WFI exits with ti 0", () => {
    const m = boot(src);
    const e1 = runToExit(m);
    expect(e1.pc).toBe(sym(m, "wfe_at"));
    const d1 = esrOf(m, e1);
    expect(d1.ec).toBe(EC.WFx);
    expect(d1.fields.ti).toBe(1);
    expect(m.handle().action).toBe("resume");
    expect(m.halted).toBeNull();
    expect(m.pc).toBe(sym(m, "wfe_at") + 4n);

    const e2 = runToExit(m);
    expect(e2.pc).toBe(sym(m, "wfi_at"));
    const d2 = esrOf(m, e2);
    expect(d2.ec).toBe(EC.WFx);
    expect(d2.fields.ti).toBe(0);
  });

  it("WFI without TWI stops the machine (no interrupt source), without an exit", () => {
    const m = boot(src);
    m.setTrap({ kind: "wfe" }, false);
    m.setTrap({ kind: "wfi" }, false);
    const r = m.run({ maxSteps: 100_000 });
    expect(r.stop).toBe("halted");
    expect(m.halted).not.toBeNull();
    expect(m.halted!.message).toMatch(/WFI/);
    expect(exitsOf(m, EC.WFx)).toHaveLength(0);
    expect(m.pc).toBe(sym(m, "wfi_at"));
  });
});

describe("SMC (TSC), SVC and UNDEFINED", () => {
  it("SMC exits as SMC64; KVM injects an undefined-instruction exception at EL1", () => {
    const m = boot(`${SET_VBAR}
smc_at:
	smc	#0x12
`);
    const e = runToExit(m);
    expect(e.pc).toBe(sym(m, "smc_at"));
    const d = esrOf(m, e);
    expect(d.ec).toBe(EC.SMC64);
    expect(d.fields.imm16).toBe(0x12);
    m.handle();
    expect(m.pc).toBe(sym(m, "vectors") + 0x200n);
    expect(m.readRegister("elr_el1")).toBe(sym(m, "smc_at"));
    const el1 = decodeEsr(m.readRegister("esr_el1"));
    expect(el1.ec).toBe(EC.UNKNOWN);
    expect(el1.il).toBe(1);
    runToHalt(m);
    expect(m.readRegister("x23")).toBe(1n);
    expect(decodeEsr(m.readRegister("x20")).ec).toBe(0);
    expect(m.readRegister("x21")).toBe(sym(m, "smc_at"));
  });

  it("SVC is taken to EL1 without an exit; ERET returns to ELR_EL1; an UNDEFINED word gives EC 0", () => {
    const m = boot(`${SET_VBAR}
svc_at:
	svc	#0x42
	mov	x10, #1
undef_at:
	.inst	0x00000000
	mov	x11, #2
`);
    const vec = sym(m, "vectors") + 0x200n;
    const svcAt = sym(m, "svc_at");
    let r = m.run({ maxSteps: 100_000, until: () => m.pc === vec, stopOnExit: (e) => !isRamFault(e) });
    expect(r.stop).toBe("until");
    const d = decodeEsr(m.readRegister("esr_el1"));
    expect(d.ec).toBe(0x15);
    expect(d.fields.imm16).toBe(0x42);
    expect(m.readRegister("elr_el1")).toBe(svcAt + 4n);
    expect(m.readRegister("el")).toBe(1n);
    expect(m.exits.filter((e) => !isRamFault(e))).toHaveLength(0);

    r = m.run({ maxSteps: 100, until: () => m.pc === svcAt + 4n, stopOnExit: (e) => !isRamFault(e) });
    expect(r.stop).toBe("until");
    expect(m.readRegister("x23")).toBe(1n);

    r = m.run({ maxSteps: 100, until: () => m.pc === vec, stopOnExit: (e) => !isRamFault(e) });
    expect(r.stop).toBe("until");
    const u = decodeEsr(m.readRegister("esr_el1"));
    expect(u.ec).toBe(EC.UNKNOWN);
    expect(m.readRegister("elr_el1")).toBe(sym(m, "undef_at"));

    runToHalt(m);
    expect(m.readRegister("x10")).toBe(1n);
    expect(m.readRegister("x11")).toBe(2n);
    expect(m.readRegister("x23")).toBe(2n);
    expect(m.exits.filter((e) => !isRamFault(e)).map((e) => e.code)).toEqual([EC.HVC64]);
  });

  it("MSR to HCR_EL2 from EL1 is UNDEFINED at EL1, not an exit", () => {
    const m = boot(`${SET_VBAR}
	mov	x0, #0x3
msr_at:
	msr	hcr_el2, x0
`);
    const hcrBefore = m.kvm.hcr();
    runToHalt(m);
    expect(m.readRegister("x23")).toBe(1n);
    expect(decodeEsr(m.readRegister("esr_el1")).ec).toBe(0);
    expect(m.readRegister("x21")).toBe(sym(m, "msr_at"));
    expect(m.kvm.hcr()).toBe(hcrBefore);
    expect(exitsOf(m, EC.SYS64)).toHaveLength(0);
  });
});

describe("HVC: PSCI", () => {
  const src = `
	ldr	x0, =0x84000000
	hvc	#0
	mov	x10, x0
	ldr	x0, =0x84001234
	hvc	#0
	mov	x11, x0
`;

  for (const era of ["2015", "today"] as const) {
    it(`PSCI_VERSION and an unknown function (era ${era})`, () => {
      const m = boot(src, { era });
      const e = runToExit(m);
      const d = esrOf(m, e);
      expect(d.ec).toBe(EC.HVC64);
      expect(d.fields.imm16).toBe(0);
      runToHalt(m);
      const version = m.readRegister("x10");
      if (era === "2015") expect(version).toBe(2n);
      else {
        expect(version).not.toBe(2n);
        expect(version >> 16n).toBeGreaterThanOrEqual(1n);
      }
      expect(m.readRegister("x11")).toBe(0xffff_ffff_ffff_ffffn);
      expect(exitsOf(m, EC.HVC64)).toHaveLength(3);
    });
  }
});

describe("ID registers (TID3)", () => {
  const src = `
id_at:
	mrs	x3, id_aa64mmfr0_el1
`;

  it("era 2015: no exit, the value is read directly", () => {
    const m = boot(src, { era: "2015" });
    runToHalt(m);
    expect(exitsOf(m, EC.SYS64)).toHaveLength(0);
    expect(m.readRegister("x3")).toBe(m.readRegister("id_aa64mmfr0_el1"));
    expect(m.readRegister("x3")).not.toBe(0n);
  });

  it("era today: SYS64 read with rt 3, emulated by KVM", () => {
    const m = boot(src, { era: "today" });
    const e = runToExit(m);
    expect(e.pc).toBe(sym(m, "id_at"));
    const d = esrOf(m, e);
    expect(d.ec).toBe(EC.SYS64);
    expect(d.fields).toMatchObject({ op0: 3, op1: 0, crn: 0, crm: 7, op2: 0, rt: 3, direction: 1 });
    expect(m.readRegister("x3")).toBe(0n);
    m.handle();
    const value = m.readRegister("id_aa64mmfr0_el1");
    expect(value).not.toBe(0n);
    expect(m.readRegister("x3")).toBe(value);
  });
});

describe("DC CISW (TSW)", () => {
  for (const era of ["2015", "today"] as const) {
    it(`traps as SYS64 with op0 1 and KVM flushes the VM (era ${era})`, () => {
      const m = boot(`
	mov	x0, #0
sw_at:
	dc	cisw, x0
`, { era });
      const e = runToExit(m);
      expect(e.pc).toBe(sym(m, "sw_at"));
      const d = esrOf(m, e);
      expect(d.ec).toBe(EC.SYS64);
      expect(d.fields).toMatchObject({ op0: 1, op1: 0, crn: 7, crm: 14, op2: 2, rt: 0, direction: 0 });
      expect(m.trace.lines(era, ["kvm_set_way_flush"])).toHaveLength(0);
      m.handle();
      expect(m.trace.lines(era, ["kvm_set_way_flush"])).toHaveLength(1);
      expect(m.trace.lines(era).some((l) => l.includes("kvm_set_way_flush"))).toBe(true);
      // kvm_set_way_flush leaves VM-register writes trapped (HCR_EL2.TVM).
      expect(m.kvm.hcr() & (1n << 26n)).toBe(1n << 26n);
      expect(m.pc).toBe(sym(m, "sw_at") + 4n);
    });
  }
});

describe("MMIO data aborts", () => {
  it("ldr w5 from UARTFR: ISV syndrome, emulated from it (TXFE|RXFE)", () => {
    const m = boot(`
	ldr	x0, =0x09000018
ld_at:
	ldr	w5, [x0]
	ldrsb	x6, [x0]
`);
    const e = runToExit(m);
    expect(e.pc).toBe(sym(m, "ld_at"));
    const d = esrOf(m, e);
    expect(d.ec).toBe(EC.DABT_LOW);
    expect(d.fields).toMatchObject({ isv: 1, sas: 2, srt: 5, wnr: 0, sse: 0, sf: 0, s1ptw: 0 });
    expect(e.info.far).toBe(0x0900_0018n);
    expect(e.info.ipa).toBe(0x0900_0000n);
    m.handle();
    expect(m.readRegister("x5")).toBe(0x90n);
    expect(m.pc).toBe(sym(m, "ld_at") + 4n);

    const e2 = runToExit(m);
    const d2 = esrOf(m, e2);
    expect(d2.ec).toBe(EC.DABT_LOW);
    expect(d2.fields).toMatchObject({ isv: 1, sas: 0, srt: 6, sse: 1, sf: 1, wnr: 0 });
    m.handle();
    expect(m.readRegister("x6")).toBe(0xffff_ffff_ffff_ff90n);
  });

  it("a read where no device is: unsatisfied, to the VMM, then the zero it returns; writes are ignored", () => {
    const m = boot(`
	ldr	x0, =0x0a000000
	mov	x5, #7
	str	w5, [x0]
	ldr	x5, [x0, #8]
`);
    runToExit(m);
    m.handle();
    const e = runToExit(m);
    // Pending, the exit carries the cost known so far; handling adds the trip to the VMM.
    expect(e.info["cost.userspace"]).toBeUndefined();
    const pending = e.cycles;
    // The world switch executed at EL2 (hyp/: its phase groups) + the host's run loop + the handler.
    expect(pending).toBe(["trap", "switch_gprs", "switch_sysregs", "switch_vgic_timer", "switch_traps", "kvm_exit_path", "handler"].reduce((a, k) => a + Number(e.info[`cost.${k}`] ?? 0), 0));
    expect(m.handle().message).toMatch(/no device there: reads as zero/);
    expect(e.cycles).toBe(pending + Number(e.info["cost.userspace"]));
    expect(m.readRegister("x5")).toBe(0n);
    expect(m.trace.lines("2015", ["kvm_mmio", "kvm_userspace_exit"]).slice(-5)).toEqual([
      "kvm_mmio: mmio write len 4 gpa 0xa000000 val 0x7",
      "kvm_userspace_exit: reason KVM_EXIT_MMIO (6)",
      "kvm_mmio: mmio unsatisfied-read len 8 gpa 0xa000008 val 0x0",
      "kvm_userspace_exit: reason KVM_EXIT_MMIO (6)",
      "kvm_mmio: mmio read len 8 gpa 0xa000008 val 0x0",
    ]);
  });

  const stp = `
	ldr	x0, =0x09000000
	mov	w1, #0x41
	mov	w2, #0
stp_at:
	stp	w1, w2, [x0]
`;

  it("stp to the UART gives no syndrome and stops the VM by default", () => {
    const m = boot(stp);
    const e = runToExit(m);
    expect(e.pc).toBe(sym(m, "stp_at"));
    const d = esrOf(m, e);
    expect(d.ec).toBe(EC.DABT_LOW);
    expect(d.fields.isv).toBe(0);
    expect(d.fields.wnr).toBe(1);
    expect(m.handle().action).toBe("halt");
    expect(m.halted!.message).toMatch(/decoding not implemented/);
    expect(m.console).toBe("");
  });

  it("stp to the UART completes with pair_mmio", () => {
    const m = boot(stp, { pair_mmio: true });
    const e = runToExit(m);
    expect(decodeEsr(e.info.esr as bigint).fields.isv).toBe(0);
    expect(m.handle().action).toBe("resume");
    expect(m.pc).toBe(sym(m, "stp_at") + 4n);
    runToHalt(m);
    expect(m.console).toContain("A");
    expect(m.halted!.message).toMatch(/SYSTEM_OFF/);
  });
});
