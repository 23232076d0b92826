// Control registers, debug registers, MSRs and XCR0 for X86Cpu (its third layer, over
// fetch-cache.ts): MOV to/from CR and DR, LMSW, CLTS, RDMSR/WRMSR, XGETBV/XSETBV, each first asking
// the VMX controls whether it exits (Intel SDM Vol. 3 25.1), then the architectural checks.
import type { X86Insn } from "./isa/types.js";
import { CR0, CR4, EFER, GuestFault, MSR_EFER, VmExitSignal, modeOf, type ExitInfo } from "./state.js";
import { CR0_TRANSLATION_BITS, CR4_TRANSLATION_BITS } from "./paging.js";
import { movToCr4ExtraCycles } from "./cost.js";
import { EXIT } from "./vmx/reasons.js";
import { VECTOR } from "./vectors.js";
import { crAccessExit, plainCrExit, plainHltExit, plainMsrExit } from "./plain-exit.js";
import { cpuRefusesMsr } from "./canonical.js";
import { DR6_BD, DR7_GD, DR7_RW, breakpointMatches, breakpointsEnabled, dataBreakpointsEnabled, dr6AfterDebugException, drTarget, drWriteValue } from "./debug-regs.js";
import { CpuFetch } from "./fetch-cache.js";

/** MSRs the CPU implements natively when the MSR bitmap lets the guest at them. */
const NATIVE_MSRS: Record<number, string> = {
  0x174: "IA32_SYSENTER_CS",
  0x175: "IA32_SYSENTER_ESP",
  0x176: "IA32_SYSENTER_EIP",
  0xc000_0100: "FS_BASE",
  0xc000_0101: "GS_BASE",
  0xc000_0102: "KERNEL_GS_BASE",
};

/** X86Cpu's register layer (cpu.ts): CR0-CR8, DR0-DR7, the natively implemented MSRs, XCR0. */
export abstract class CpuControl extends CpuFetch {
  /** Modelled cycles the instruction just executed costs beyond one (cost.ts: a MOV to CR4 that flushes global entries); the machine takes them. */
  extraCycles = 0;
  readonly msrs = new Map<number, bigint>();

  private crExit(cr: number, accessType: number, gpr: number): never {
    throw new VmExitSignal(crAccessExit(cr, accessType, gpr));
  }

  /** The CR-access exit MOV to/from CR `insn` takes, decided before it runs (cr-exit.ts), or null. */
  plainCrExit(insn: X86Insn): ExitInfo | null {
    return this.emulating || this.cpl() !== 0 ? null : plainCrExit(this.state, this.deps.rules, insn);
  }

  /** The MSR exit RDMSR/WRMSR `insn` takes, decided before it runs (plain-exit.ts), or null. */
  plainMsrExit(insn: X86Insn): ExitInfo | null {
    return this.emulating || this.cpl() !== 0 ? null : plainMsrExit(this.state, this.deps.rules, insn);
  }

  /** The exit HLT takes, decided before it runs (plain-exit.ts), or null. */
  plainHltExit(): ExitInfo | null {
    return this.emulating || this.cpl() !== 0 ? null : plainHltExit(this.deps.rules);
  }

  writeCr(cr: number, value: bigint, gpr: number): void {
    const s = this.state;
    const rules = this.deps.rules;
    if (this.cpl() !== 0) this.raise(VECTOR.GP, 0);
    switch (cr) {
      case 0: {
        if (rules.movToCr0or4Exits(0, value)) this.crExit(0, 0, gpr);
        const next = rules.mergeCr0or4(0, s.cr0, value);
        this.checkCr0(next);
        this.applyCr0(next);
        return;
      }
      case 3:
        if (rules.movToCr3Exits(value)) this.crExit(3, 0, gpr);
        if (s.efer & EFER.LMA && value >> 52n) this.raise(VECTOR.GP, 0);
        s.cr3 = value;
        this.flushTlb();
        return;
      case 4: {
        const next = rules.cr4Write(s.cr4, value);
        if (next === null) this.crExit(4, 0, gpr);
        if (s.efer & EFER.LMA && !(next & CR4.PAE)) this.raise(VECTOR.GP, 0);
        const changed = s.cr4 ^ next;
        this.extraCycles += movToCr4ExtraCycles(s.cr4, next);
        s.cr4 = next;
        // Only bits that change translations flush the TLB (SDM Vol. 3 4.10.4.1 "MOV to CR4";
        // KVM's X86_CR4_TLBFLUSH_BITS = PGE | PCIDE | PAE | SMEP, plus PSE, SMAP and LA57, which
        // change how a walk reads the tables). Decoded code is kept by physical page either way.
        // PGE alone, with no paging-structure entry or EPT changed since the last flush, leaves
        // every entry what a walk would now give: the flush is one nothing could tell (pt-watch.ts).
        if ((changed & CR4_TRANSLATION_BITS) === CR4.PGE && this.ptWatch.unchangedSinceFlush(this.deps.ept.version)) this.systemVersion++;
        else if (changed & CR4_TRANSLATION_BITS) this.flushTlb();
        else this.systemVersion++;
        return;
      }
      case 8:
        if (rules.movCr8Exits(true)) this.crExit(8, 0, gpr);
        if (value >> 4n) this.raise(VECTOR.GP, 0);
        s.cr8 = value;
        return;
      default:
        this.raise(VECTOR.UD);
    }
  }

  /**
   * Architectural checks of a CR0 value (SDM Vol. 2 MOV CR: #GP conditions; Vol. 3 9.8.5.4:
   * paging cannot be turned off in 64-bit mode, software must go to compatibility mode first;
   * nor while CR4.PCIDE = 1).
   */
  checkCr0(v: bigint): void {
    if (v >> 32n) this.raise(VECTOR.GP, 0);
    if (!(v & CR0.PG) && (this.state.mode === "long64" || this.state.cr4 & CR4.PCIDE)) this.raise(VECTOR.GP, 0);
    if (v & CR0.PG && !(v & CR0.PE)) this.raise(VECTOR.GP, 0);
    if (v & CR0.NW && !(v & CR0.CD)) this.raise(VECTOR.GP, 0);
    if (v & CR0.PG && !(this.state.cr0 & CR0.PG) && this.state.efer & EFER.LME && !(this.state.cr4 & CR4.PAE)) this.raise(VECTOR.GP, 0);
  }

  /** Commit CR0; paging turning on with EFER.LME activates IA-32e mode (EFER.LMA), off deactivates it. */
  applyCr0(v: bigint): void {
    const s = this.state;
    const wasPg = (s.cr0 & CR0.PG) !== 0n;
    const isPg = (v & CR0.PG) !== 0n;
    const changed = s.cr0 ^ v;
    s.cr0 = v;
    if (!wasPg && isPg && s.efer & EFER.LME) s.efer |= EFER.LMA;
    if (wasPg && !isPg) s.efer &= ~EFER.LMA;
    s.mode = modeOf(s);
    // SDM Vol. 3 4.10.4.1 "MOV to CR0": the TLBs are invalidated when CR0.PG changes; PE changes the
    // mode. The TLB here keeps each translation's R/W, U/S and XD bits and CR0.WP is applied at every
    // access (paging.ts finish), as the processor does (4.10.2.2), so a WP change keeps it; the data
    // fast path, which skips that check, is dropped.
    if (changed & CR0_TRANSLATION_BITS) this.flushTlb();
    else {
      this.systemVersion++;
      if (changed & CR0.WP) this.invalidateData();
    }
  }

  readCr(cr: number, gpr: number, anyCpl = false): bigint {
    const s = this.state;
    const rules = this.deps.rules;
    if (!anyCpl && this.cpl() !== 0) this.raise(VECTOR.GP, 0);
    switch (cr) {
      case 0:
        return rules.readCr0or4(0, s.cr0);
      case 2:
        return s.cr2;
      case 3:
        if (rules.movFromCr3Exits()) this.crExit(3, 1, gpr);
        return s.cr3;
      case 4:
        return rules.readCr0or4(4, s.cr4);
      case 8:
        if (rules.movCr8Exits(false)) this.crExit(8, 1, gpr);
        return s.cr8;
      default:
        this.raise(VECTOR.UD);
    }
  }

  /** FastMem.readCr8 (MOV r64, CR8 on the compiled path, fast-system.ts): readCr(8) as a Number. */
  readCr8(gpr: number): number {
    // The common case without BigInt work: CPL 0, no CR8-store exiting, a TPR class (CR8 is 4 bits).
    if (this.cpl() === 0 && !this.deps.rules.movCr8Exits(false)) {
      const v = this.state.cr8;
      if (v === this.cr8Seen) return this.cr8SeenNum;
      this.cr8Seen = v;
      return (this.cr8SeenNum = Number(v));
    }
    return Number(this.readCr(8, gpr));
  }
  /** readCr8's last CR8 value and its Number (the value seldom changes; BigInt → Number is not free). */
  private cr8Seen = 0n;
  private cr8SeenNum = 0;

  /** FastMem.writeCr8 (MOV CR8, r64 on the compiled path): writeCr(8) of the value (lo, hi). */
  writeCr8(lo: number, hi: number, gpr: number): void {
    this.writeCr(8, hi === 0 ? BigInt(lo >>> 0) : (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0), gpr);
  }

  lmsw(value: number): void {
    if (this.deps.rules.lmswExits(value)) {
      // Access type 3 (LMSW), no register (bits 11:8 cleared): Intel SDM Vol. 3 Table 28-3.
      const memoryOperand = this.insn?.operands.some((o) => o.kind === "mem") ?? false;
      throw new VmExitSignal(crAccessExit(0, 3, 0, { source: value & 0xffff, memoryOperand }));
    }
    // LMSW loads PE, MP, EM, TS and cannot clear PE.
    const s = this.state;
    const next = (s.cr0 & ~0xen) | BigInt(value & 0xe) | (s.cr0 & 1n) | BigInt(value & 1);
    this.applyCr0(this.deps.rules.mergeCr0or4(0, s.cr0, next));
  }

  clts(): void {
    if (this.deps.rules.cltsExits()) this.crExit(0, 2, 0);
    this.state.cr0 &= ~CR0.TS;
  }

  /** DR0-DR7 by number (DR4/DR5 slots unused: they alias DR6/DR7, debug-regs.ts drTarget). */
  debugRegister(n: number): bigint {
    return this.dr[n] ?? 0n;
  }

  /** Store a debug register value already checked and normalized (drWriteValue). */
  setDebugRegister(n: number, v: bigint): void {
    this.dr[n] = v;
    this.drArmed = breakpointsEnabled(this.dr[7]!);
    const watch = dataBreakpointsEnabled(this.dr[7]!);
    // Data breakpoints: every data access takes the checked path (read/write), the fast caches stay empty.
    if (watch && !this.dataWatch) this.invalidateData();
    this.dataWatch = watch;
  }

  /** Data breakpoint matches of a MOV SS / POP SS, held until the next instruction (SDM 6.8.3). */
  heldDebug = 0n;

  /** DR7 enables a breakpoint: the machine checks instruction breakpoints before each instruction (interpreter only). */
  drArmed = false;

  /**
   * The debug register MOV DR names, after the checks the CPU makes before the access (SDM Vol. 2
   * MOV DR): #UD for DR4/DR5 with CR4.DE, then #DB (DR6.BD, fault) while DR7.GD is set, which clears
   * GD. A MOV-DR exit takes priority over the #UD (SDM Vol. 3 25.1.3), so callers check exiting first.
   */
  private drAccess(dr: number): number {
    const n = drTarget(dr, (this.state.cr4 & CR4.DE) !== 0n);
    if (n === "ud") this.raise(VECTOR.UD);
    if (this.dr[7]! & DR7_GD) {
      this.setDebugRegister(7, this.dr[7]! & ~DR7_GD);
      throw new GuestFault(VECTOR.DB, undefined, DR6_BD);
    }
    return n;
  }

  readDr(dr: number, gpr: number): bigint {
    if (this.deps.rules.movDrExits()) {
      throw new VmExitSignal({ reason: EXIT.DR_ACCESS, qualification: BigInt(dr | (1 << 4) | (gpr << 8)) });
    }
    return this.dr[this.drAccess(dr)]!;
  }

  writeDr(dr: number, value: bigint, gpr: number): void {
    if (this.deps.rules.movDrExits()) {
      // SDM Table 27-4: bits 2:0 DR number, bit 4 direction (0 = MOV to DR), 11:8 GPR.
      throw new VmExitSignal({ reason: EXIT.DR_ACCESS, qualification: BigInt(dr | (gpr << 8)) });
    }
    const n = this.drAccess(dr);
    const v = drWriteValue(n, value);
    if (v === "gp") this.raise(VECTOR.GP, 0);
    this.setDebugRegister(n, v);
  }

  /** A #DB's effect on DR6 (dr6AfterDebugException), as the CPU or KVM's payload delivery applies it. */
  debugException(payload: bigint): void {
    this.dr[6] = dr6AfterDebugException(this.dr[6]!, payload);
  }

  /** B0-B3 of the instruction breakpoints matching the instruction at rip (0n: none), SDM 17.3.1.1. */
  instructionBreakpoints(): bigint {
    return breakpointMatches(this.dr, DR7_RW.EXECUTE, this.linear("cs", this.state.rip), 1);
  }

  rdmsr(msr: number): bigint {
    if (this.cpl() !== 0) this.raise(VECTOR.GP, 0);
    if (this.deps.rules.msrExits(msr, false)) throw new VmExitSignal({ reason: EXIT.MSR_READ, qualification: 0n });
    // Virtualize x2APIC mode (SDM 29.5): an x2APIC MSR the bitmap passes reads the virtual-APIC page.
    if (msr >= 0x800 && msr <= 0x8ff && this.deps.x2apicMsr) {
      const v = this.deps.x2apicMsr(msr, false, 0n);
      if (v === "gp") this.raise(VECTOR.GP, 0);
      if (v !== undefined) return v;
    }
    const s = this.state;
    if (msr === 0xc000_0100) return s.seg.fs.base;
    if (msr === 0xc000_0101) return s.seg.gs.base;
    if (msr === MSR_EFER) return s.efer;
    if (NATIVE_MSRS[msr] !== undefined) return this.msrs.get(msr) ?? 0n;
    this.raise(VECTOR.GP, 0);
  }

  wrmsr(msr: number, value: bigint): void {
    if (this.cpl() !== 0) this.raise(VECTOR.GP, 0);
    if (this.deps.rules.msrExits(msr, true)) throw new VmExitSignal({ reason: EXIT.MSR_WRITE, qualification: 0n });
    if (msr >= 0x800 && msr <= 0x8ff && this.deps.x2apicMsr) {
      const v = this.deps.x2apicMsr(msr, true, value);
      if (v === "gp") this.raise(VECTOR.GP, 0);
      if (v !== undefined) return;
    }
    if (cpuRefusesMsr(msr, value)) this.raise(VECTOR.GP, 0);
    const s = this.state;
    if (msr === 0xc000_0100) s.seg.fs.base = value;
    else if (msr === 0xc000_0101) s.seg.gs.base = value;
    else if (msr === MSR_EFER) {
      if ((value ^ s.efer) & EFER.LME && s.cr0 & CR0.PG) this.raise(VECTOR.GP, 0);
      s.efer = (value & ~EFER.LMA) | (s.efer & EFER.LMA);
    } else if (NATIVE_MSRS[msr] !== undefined) this.msrs.set(msr, value);
    else this.raise(VECTOR.GP, 0);
  }

  /** SYSCALL/SYSRET's MSRs (KVM loads the guest's values into the CPU before entry: user-return MSRs) and SYSENTER/SYSEXIT's (the CPU's own, NATIVE_MSRS). */
  syscallMsr(msr: number): bigint {
    return this.msrs.get(msr) ?? 0n;
  }

  /** XCR0 while the guest runs (KVM loads the guest's on entry: kvm_load_guest_xcr0); x87 state only. */
  xcr0 = 1n;

  /** XSETBV exits unconditionally in VMX non-root operation (SDM Vol. 3 25.1.2); no qualification. */
  xsetbv(_index: number, _value: bigint): void {
    throw new VmExitSignal({ reason: EXIT.XSETBV, qualification: 0n });
  }

  /** XGETBV: XCR0; XCR1 (XINUSE) exists only with CPUID.(EAX=0DH,ECX=1):EAX[2], not modelled: #GP(0). */
  xgetbv(index: number): bigint {
    if (index !== 0) this.raise(VECTOR.GP, 0);
    return this.xcr0;
  }
}
