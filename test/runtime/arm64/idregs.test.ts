// The arm64 CPU advertises only what it models: the feature-ID registers as the guest reads them
// in both eras (2015: no HCR_EL2.TID3, the hardware value; today: TID3 traps and KVM emulates the
// same value), every advertised feature working and every absent one absent; the reserved ID
// space RAZ; and today's handle_smc. Expected values are written from the manuals, not read
// from the model's table. Sources: Arm ARM (DDI 0487) field encodings of ID_AA64PFR0_EL1,
// ID_AA64DFR0_EL1, ID_AA64ISAR0_EL1, ID_AA64MMFR0_EL1; "Reserved encodings in the ID space"
// (RAZ; trapped by HCR_EL2.TID3); Linux arch/arm64/kvm/sys_regs.c (ID_UNALLOCATED: RAZ;
// access_pm*: the vPMU); Linux arch/arm64/kvm/handle_exit.c
// handle_smc (v4.1: kvm_inject_undefined; 6.4+: kvm_incr_pc, x0 = ~0 for a nonzero immediate,
// else kvm_smccc_call_handler).

import { describe, expect, test } from "vitest";
import { createArm64Machine, type Arm64Machine } from "../../../runtime/arm64/machine.js";
import { ID_FIELDS, idRegValue } from "../../../runtime/arm64/idregs.js";
import { SYSREGS } from "../../../runtime/arm64/sysregs.js";

type Era = "2015" | "today";
const ERAS: Era[] = ["2015", "today"];

/** EL1 vector (VBAR_EL1 + 0x200): logs ESR_EL1 into `log` (x23 counts), returns past the instruction. */
const VECTORS = `
	.balign	2048
vectors:
	.skip	0x200
	adr	x26, log
	add	x26, x26, x23, lsl #3
	mrs	x24, esr_el1
	str	x24, [x26]
	add	x23, x23, #1
	mrs	x26, elr_el1
	add	x26, x26, #4
	msr	elr_el1, x26
	eret
	.balign	4096
log:	.space	256
`;

const program = (body: string) => `
_start:
	adr	x1, vectors
	msr	vbar_el1, x1
	mov	x23, #0
${body}
	ldr	x0, =0x84000008		/* PSCI SYSTEM_OFF */
	hvc	#0
	b	.
	.ltorg
${VECTORS}
`;

function run(body: string, era: Era, prepare?: (m: Arm64Machine) => void, gic: "v2" | "v3" = "v2"): { m: Arm64Machine; ecs: number[] } {
  const m = createArm64Machine({ guest: { source: program(body) }, settings: { era, gic, stepLimit: 1_000_000 } });
  prepare?.(m);
  const r = m.run({ maxSteps: 200_000 });
  expect(r.stop, `${r.message ?? ""} ${m.halted?.message ?? ""}`).toBe("halted");
  expect(m.halted!.message).toMatch(/SYSTEM_OFF/);
  const n = Number(m.readRegister("x23"));
  const bytes = m.readPhysical(Number(m.symbols.get("log")!), 8 * n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { m, ecs: Array.from({ length: n }, (_, i) => Number(dv.getBigUint64(8 * i, true) >> 26n)) };
}

const sysExits = (m: Arm64Machine) => m.exits.filter((e) => e.reason === "SYS64");

describe("feature-ID registers", () => {
  /*
   * ID_AA64PFR0_EL1: EL0/EL1/EL2 = 1 (AArch64 only), EL3 = 0 (absent), FP = AdvSIMD = 0xf (absent),
   * GIC = 0 → 0x00ff_0111. ID_AA64DFR0_EL1: DebugVer 6 (v8), PMUVer 1 (PMUv3: KVM's vPMU, pmu.test.ts), BRPs = 5, WRPs = 3 (the Cortex-A57 TRM values)
   * (2 each, the minimum), CTX_CMPs 0 → 0x0010_1006. ID_AA64ISAR0_EL1: 0 (no AES/SHA/CRC32/LSE).
   * ID_AA64MMFR0_EL1: PARange 4 (44 bits), ASIDBits 2 (16), BigEnd 0, SNSMem 1, TGran4/64 0
   * (supported), TGran16 0 (absent) → 0x1024.
   */
  const EXPECTED: [string, bigint][] = [
    ["ID_AA64PFR0_EL1", 0x00ff_0111n], ["ID_AA64DFR0_EL1", 0x0030_5106n], ["ID_AA64ISAR0_EL1", 0n],
    ["ID_AA64MMFR0_EL1", 0x1024n], ["ID_AA64PFR1_EL1", 0n], ["ID_AA64MMFR1_EL1", 0n],
  ];

  test("the guest reads the field table's values: in 2015 directly, today through KVM's TID3 emulation", () => {
    const body = EXPECTED.map(([name], i) => `\tmov\tx${i + 1}, #-1\n\tmrs\tx${i + 1}, ${name.toLowerCase()}`).join("\n");
    for (const era of ERAS) {
      const { m, ecs } = run(body, era);
      expect(ecs, era).toEqual([]);
      expect(EXPECTED.map(([, _v], i) => m.readRegister(`x${i + 1}`)), era).toEqual(EXPECTED.map(([, v]) => v));
      expect(sysExits(m).map((e) => e.info.sysreg), era).toEqual(era === "today" ? EXPECTED.map(([n]) => n) : []);
    }
    for (const [name, v] of EXPECTED) expect(SYSREGS.find((r) => r.name === name)!.reset, name).toBe(v);
    for (const name of new Set(ID_FIELDS.map((f) => f.reg))) expect(idRegValue(name)).toBe(EXPECTED.find(([n]) => n === name)![1]);
  });

  test("absent features are absent: FP, AdvSIMD, AES, SHA, CRC32, LSE and GIC system registers are UNDEFINED; the PMU is there (PMUVer 1)", () => {
    const undef = [
      ".word 0x9e670020 /* fmov d0, x1 (FP) */",
      ".word 0x4ee28420 /* add v0.2d, v1.2d, v2.2d (AdvSIMD) */",
      ".word 0x4e284820 /* aese v0.16b, v1.16b (AES) */",
      ".word 0x5e280820 /* sha1h s0, s1 (SHA1) */",
      ".word 0x5e282820 /* sha256su0 v0.4s, v1.4s (SHA2) */",
      ".word 0x9ac14c00 /* crc32x w0, w0, x1 (CRC32) */",
      ".word 0xf8200041 /* ldadd x0, x1, [x2] (LSE atomics) */",
      "mrs x3, s3_0_c12_c12_5 /* ICC_SRE_EL1 (GIC 0) */",
    ];
    const body = `\tadr\tx2, log\n` + undef.map((l) => `\t${l}`).join("\n") + "\n\tmrs\tx10, id_aa64pfr0_el1\n\tmrs\tx11, id_aa64isar0_el1\n\tmrs\tx12, id_aa64dfr0_el1";
    const field = (v: bigint, lsb: number) => Number((v >> BigInt(lsb)) & 0xfn);
    for (const era of ERAS) {
      const { m, ecs } = run(body, era);
      expect(ecs, era).toEqual(undef.map(() => 0)); // EC 0: Unknown reason (UNDEFINED)
      expect(sysExits(m).filter((e) => !String(e.info.sysreg).startsWith("ID_")), `${era}: UNDEFINED at EL1, no trap`).toEqual([]);
      // ... and the guest is told so: FP 19:16 and AdvSIMD 23:20 = 0xf, GIC 27:24 = 0; AES, SHA1, SHA2, CRC32, Atomic = 0; PMUVer 11:8 = 1 (the vPMU's registers: pmu.test.ts).
      const pfr0 = m.readRegister("x10"), isar0 = m.readRegister("x11"), dfr0 = m.readRegister("x12");
      expect([field(pfr0, 16), field(pfr0, 20), field(pfr0, 24)], era).toEqual([0xf, 0xf, 0]);
      expect([4, 8, 12, 16, 20].map((l) => field(isar0, l)), era).toEqual([0, 0, 0, 0, 0]);
      expect(field(dfr0, 8), `${era}: PMUVer`).toBe(1);
    }
    // With a GICv3 the system-register interface is there and the ID register says so (GIC 27:24 = 1).
    const { m } = run("\tmrs\tx3, s3_0_c12_c12_5\n\tmrs\tx10, id_aa64pfr0_el1", "today", undefined, "v3");
    expect(m.readRegister("x3")).toBe(7n);
    expect(field(m.readRegister("x10"), 24)).toBe(1);
  });

  test("EL3 absent: SMC without HCR_EL2.TSC is UNDEFINED; EL1 AArch64 only: ERET to AArch32 is an illegal return", () => {
    const body = `
	smc	#0
	ldr	x1, =0x10		/* SPSR: M[4] = 1, AArch32 User */
	msr	spsr_el1, x1
	adr	x1, back
	msr	elr_el1, x1
	eret
back:
	mrs	x10, id_aa64pfr0_el1`;
    for (const era of ERAS) {
      const { m, ecs } = run(body, era, (m) => m.setTrap({ kind: "smc" }, false));
      expect(ecs, era).toEqual([0x00, 0x0e]); // UNDEFINED, then Illegal Execution state
      const pfr0 = m.readRegister("x10");
      expect([0, 4, 12].map((l) => Number((pfr0 >> BigInt(l)) & 0xfn)), `${era}: EL0, EL1 AArch64 only; EL3 absent`).toEqual([1, 1, 0]);
    }
  });

  test("advertised features work: debug (MDSCR_EL1), little-endian only (SCTLR_EL1.EE RES0), 44-bit physical addresses", () => {
    const body = `
	ldr	x1, =0x8000		/* MDSCR_EL1.MDE */
	msr	mdscr_el1, x1
	mrs	x2, mdscr_el1
	mrs	x3, sctlr_el1
	orr	x3, x3, #0x2000000	/* EE */
	msr	sctlr_el1, x3
	mrs	x4, sctlr_el1
	ubfx	x4, x4, #25, #1
	ldr	x5, =0x100000000000	/* 2^44: beyond PARange, stage 1 off → Address size fault, level 0 */
	ldr	x6, [x5]`;
    for (const era of ERAS) {
      const { m, ecs } = run(body, era);
      expect(m.readRegister("x2"), era).toBe(0x8000n);
      expect(m.readRegister("x4"), `${era}: EE reads as zero`).toBe(0n);
      expect(ecs, era).toEqual([0x25]);
      const esr = BigInt.asUintN(64, m.readRegister("esr_el1"));
      expect(Number(esr & 0x3fn), "DFSC: address size fault, level 0").toBe(0);
    }
  });
});

describe("debug registers (ID_AA64DFR0_EL1: DebugVer 6, BRPs = 5, WRPs = 3)", () => {
  // Arm ARM OSLAR_EL1/OSLSR_EL1 (OSLK, OSLM = 0b10), DBGBVR<n>/DBGBCR<n>/DBGWVR<n>/DBGWCR<n> for
  // n <= BRPs/WRPs; Linux's boot clears the OS lock (debug-monitors.c clear_os_lock) and resets
  // every breakpoint and watchpoint slot DFR0 advertises (hw_breakpoint.c reset_ctrl_regs).
  test("the OS lock and the advertised breakpoint/watchpoint slots exist; the slot past them is UNDEFINED", () => {
    const body = `
	mov	x1, #1
	msr	oslar_el1, x1		/* lock */
	mrs	x2, oslsr_el1
	msr	oslar_el1, xzr		/* unlock */
	mrs	x3, oslsr_el1
	ldr	x4, =0x40001000
	msr	dbgbvr1_el1, x4
	mov	x5, #0x1e5
	msr	dbgwcr1_el1, x5
	mrs	x6, dbgbvr1_el1
	mrs	x7, dbgwcr1_el1
	mov	x8, #1
	msr	osdlr_el1, x8		/* RAZ/WI */
	mov	x8, #-1
	mrs	x8, osdlr_el1
	mrs	x9, s2_0_c0_c6_5	/* DBGBCR6_EL1: a seventh breakpoint is not advertised */
	mrs	x10, s2_0_c1_c0_4	/* OSLAR_EL1 is write-only */`;
    for (const era of ERAS) {
      const { m, ecs } = run(body, era);
      expect([m.readRegister("x2"), m.readRegister("x3")], `${era}: OSLSR_EL1 locked, unlocked`).toEqual([0xan, 0x8n]);
      expect([m.readRegister("x6"), m.readRegister("x7"), m.readRegister("x8")], era).toEqual([0x4000_1000n, 0x1e5n, 0n]);
      expect(ecs, `${era}: UNDEFINED: DBGBCR6_EL1, MRS OSLAR_EL1`).toEqual([0, 0]);
    }
  });
});

describe("reserved ID space (op0 3, op1 0, CRn 0, CRm 1..7)", () => {
  const REGS = ["id_aa64mmfr2_el1", "s3_0_c0_c7_7", "s3_0_c0_c3_7", "id_pfr0_el1", "id_aa64isar1_el1"];
  test("reads are zero: directly in 2015, emulated RAZ by KVM under TID3 today; writes are UNDEFINED", () => {
    const body = REGS.map((r, i) => `\tmov\tx${i + 1}, #-1\n\tmrs\tx${i + 1}, ${r}`).join("\n") + "\n\tmsr\ts3_0_c0_c7_2, x1";
    for (const era of ERAS) {
      const { m, ecs } = run(body, era);
      expect(REGS.map((_, i) => m.readRegister(`x${i + 1}`)), era).toEqual(REGS.map(() => 0n));
      expect(ecs, `${era}: only the MSR is UNDEFINED`).toEqual([0]);
      const sys = sysExits(m);
      expect(sys.map((e) => e.info.sysreg), era).toEqual(era === "today" ? ["ID_AA64MMFR2_EL1", "S3_0_C0_C7_7", "S3_0_C0_C3_7", "ID_PFR0_EL1", "ID_AA64ISAR1_EL1"] : []);
    }
  });
});

describe("SMC trapped by HCR_EL2.TSC", () => {
  test("today: KVM advances the pc, a nonzero immediate returns x0 = -1, imm 0 is an SMCCC/PSCI call", () => {
    const body = `
	mov	x0, #5
	smc	#0x12
	mov	x1, x0
	ldr	x0, =0x84000000		/* PSCI_VERSION */
	smc	#0
	mov	x2, x0`;
    const today = run(body, "today");
    expect(today.ecs, "no exception at EL1").toEqual([]);
    expect(BigInt.asUintN(64, today.m.readRegister("x1"))).toBe(0xffff_ffff_ffff_ffffn);
    expect(today.m.readRegister("x2"), "PSCI 1.1").toBe(0x1_0001n);
    expect(today.m.exits.filter((e) => e.reason === "SMC64")).toHaveLength(2);
    expect(today.m.trace.lines("today").filter((l) => l.includes("kvm_hvc_arm64")), "handle_smc has no HVC tracepoint").toHaveLength(1); // the final SYSTEM_OFF HVC
    // 2015: handle_smc injects an undefined-instruction exception at the SMC (twice here).
    const old = run(body, "2015");
    expect(old.ecs).toEqual([0, 0]);
    expect(old.m.readRegister("x1")).toBe(5n);
  });

  test("today: SMC #0 with PSCI SYSTEM_OFF powers the VM off", () => {
    const m = createArm64Machine({ guest: { source: "_start:\n\tldr\tx0, =0x84000008\n\tsmc\t#0\n\tb\t.\n\t.ltorg\n" }, settings: { era: "today" } });
    const r = m.run({ maxSteps: 10_000 });
    expect(r.stop).toBe("halted");
    expect(m.halted!.message).toMatch(/SYSTEM_OFF/);
  });
});
