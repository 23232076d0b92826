// The guest CPU: an A64 processor at EL1/EL0 with EL2 present. It implements the A64Env the
// instruction semantics call, and decides at every memory access, system-register access,
// cache/TLB operation, WFI/WFE, HVC and SMC whether the architecture takes an exception to the
// guest's own EL1 (aborts of stage 1, UNDEFINED, SVC) or traps to EL2 under HCR_EL2 (stage-2
// aborts, TVM, TWI, ...). EL2 itself is not executed: a trap to EL2 is thrown as El2Trap with the
// syndrome the hardware would write to ESR_EL2/FAR_EL2/HPFAR_EL2, and the KVM model takes over.
// Sources: Arm ARM (DDI 0487) D1.10 exception entry (vector offsets, SPSR/ELR, PSTATE on entry),
// D1.11 exception return, D17.2.37 ESR_EL2 ISS encodings, D13.2 HCR_EL2 (see el2.ts).

import type { A64Barrier, A64Env, A64MemAccess, A64PstateField, A64SysregEncoding } from "./env.js";
import { A64State } from "./state.js";
import type { GuestMemory } from "../core/memory.js";
import type { MmioBus } from "../core/bus.js";
import { Mmu, MmuFault, type AccessKind, type MmuRegisters } from "./mmu.js";
import { SYSREGS, sysregByEncoding, type SysregDef } from "./sysregs.js";
import { EC, FSC, encodeEsr } from "./esr.js";
import { SoftTlb } from "./tlb.js";
import { clearExclusive } from "./isa/table/system.js";
import { join64 } from "./state.js";
import { hcr, isImpDefSysreg, isSetWayOp, isTlbiOp, sysregTraps } from "./el2.js";
import { sysregTarget } from "./vhe.js";
import { armed, breakpointAt, debugExceptionsEnabled, watchpointHit } from "./debug.js";

import { MASK64 } from "../core/bits.js";

/**
 * The modelled core's clock (core/clock.ts): 1 GHz, one cycle per guest instruction as the cost
 * model counts (cost.ts GUEST_INSTRUCTION_CYCLES), so CNTFRQ_EL0 = 62.5 MHz ticks once every 16 cycles.
 */
export { MODELLED_CPU_HZ } from "../core/clock.js";
import { MODELLED_CPU_HZ } from "../core/clock.js";

import { ATTN_STOP, ATTN_VIRQ, takeIrq, type SysregHook } from "./interrupts.js";
import { CpuStop, El2Trap, GuestException } from "./cpu-signals.js";
export { CpuStop, El2Trap, GuestException } from "./cpu-signals.js";
export { ATTN_STOP, ATTN_VIRQ, type SysregHook } from "./interrupts.js";

/** The trap of each HVC #imm16, made once (traps are immutable; HVC is the hypercall hot path). */
const HVC_TRAPS: El2Trap[] = [];

/** Fault kind + level → DFSC/IFSC (Arm ARM D17.2.37). */
function fscOf(f: MmuFault): number {
  switch (f.kind) {
    case "translation": return FSC.translation(f.level);
    case "accessFlag": return FSC.accessFlag(f.level);
    case "permission": return FSC.permission(f.level);
    case "addressSize": return FSC.addressSize(f.level);
    case "alignment": return FSC.ALIGNMENT;
  }
}

/** The registers an exit writes that A64Cpu keeps as numbers until read (setExitRegs). */
const isExitReg = (name: string): boolean => name === "ESR_EL2" || name === "ELR_EL2" || name === "SPSR_EL2";

/** ESR_EL2 of HVC64 with IL = 1, ISS = imm16 (Arm ARM D17.2.37). */
const ESR_HVC64 = ((EC.HVC64 << 26) | (1 << 25)) >>> 0;

const SAS: Record<number, number> = { 1: 0, 2: 1, 4: 2, 8: 3 };

export class A64Cpu implements A64Env {
  readonly state = new A64State();
  /** System registers by name: EL1/EL0 state of the guest and the EL2 controls KVM programs. */
  readonly sysregs = new Map<string, bigint>();
  readonly mmu: Mmu;
  /**
   * ESR_EL2, ELR_EL2 (halves) and SPSR_EL2 of the last exit as numbers: written at every exit,
   * turned into the BigInt register values only when a register is read or written.
   */
  private exitRegs = false;
  private exitEsr = 0;
  private exitElrLo = 0;
  private exitElrHi = 0;
  private exitSpsr = 0;

  /** The syndrome registers a trap to EL2 writes (Arm ARM D1.10: ESR_EL2, ELR_EL2, SPSR_EL2). */
  setExitRegs(esr: number, elrLo: number, elrHi: number): void {
    const s = this.state;
    this.exitEsr = esr;
    this.exitElrLo = elrLo;
    this.exitElrHi = elrHi;
    this.exitSpsr = ((s.nzcv << 28) | (s.daif << 6) | (s.el << 2) | s.spsel) >>> 0;
    this.exitRegs = true;
  }

  private storeExitRegs(): void {
    this.exitRegs = false;
    this.sysregs.set("ESR_EL2", BigInt(this.exitEsr >>> 0));
    this.sysregs.set("ELR_EL2", join64(this.exitElrLo, this.exitElrHi));
    this.sysregs.set("SPSR_EL2", BigInt(this.exitSpsr));
  }

  /** Modelled time in cycles (the machine's count; advances as guest code and exits cost cycles). */
  clock: () => number = () => 0;

  /** YIELD executed (a spin-wait hint): the machine's reaction, when it has one (smp.ts yieldVcpu). */
  onYield: (() => void) | null = null;

  /** A trap to EL2 raised by compiled code without throwing (see hvcTrap): the machine takes it. */
  trap: El2Trap | null = null;

  /**
   * Work for the engine's block boundaries (ATTN_* bits): a virtual IRQ is signalled (taken once
   * PSTATE.I is clear), or the machine must look at its clock or a physical interrupt (the run stops).
   */
  attention = 0;
  /** The virtual CPU interface signals a vIRQ (HCR_EL2.IMO routes it to the guest's EL1). */
  virq = false;
  /** Registers answered by device models: the generic timer's CNTx_*, the GICv3 ICC_* (only with a GICv3). */
  sysregHook: SysregHook | null = null;
  /** The GICv3 system-register interface exists (ICC_* accessible); without it they are UNDEFINED. */
  gicSysregs = false;
  /** CNTHCTL_EL2 as a number (the timer trap rules read it on every timer access). */
  cnthctl = 0;
  /** A stage-2 fault on a page KVM maps directly (GICV): map it and retry; false when it is not one. */
  mapDirect: (ipa: number) => boolean = () => false;

  /** Set or clear the vIRQ line. */
  setVirq(on: boolean): void {
    this.virq = on;
    if (on) this.attention |= ATTN_VIRQ;
    else this.attention &= ~ATTN_VIRQ;
  }

  /** At a block boundary with attention set: take a signalled vIRQ (interrupts.ts); true when the run must stop (ATTN_STOP, cleared). */
  serviceAttention(): boolean {
    if (this.attention & ATTN_STOP) {
      this.attention &= ~ATTN_STOP;
      return true;
    }
    if (this.virq && (this.state.daif & 2) === 0) takeIrq(this);
    return false;
  }
  /** Guest memory for compiled code (the MemPort the templates use): a software TLB in front of load/store. */
  readonly port: SoftTlb;

  constructor(
    readonly memory: GuestMemory,
    readonly bus: MmioBus,
    host: GuestMemory,
  ) {
    for (const r of SYSREGS) this.sysregs.set(r.name, r.reset);
    // KVM's reset value of SCTLR_EL1 (Linux v4.1 arch/arm64/kvm/sys_regs.c: 0x00C50078): MMU and caches off.
    this.sysregs.set("SCTLR_EL1", 0x00c5_0078n);
    this.sctlrChanged();
    this.mmu = new Mmu(memory, host, () => this.mmuRegisters());
    this.port = new SoftTlb(this.state, memory, this);
    this.mmu.onFlush = () => this.port.flush();
    this.mmu.onInvalidate = (first, count) => this.port.invalidatePages(first, count);
  }

  /**
   * The architectural reset of the registers KVM resets for a vCPU (kvm_reset_vcpu: core registers
   * zeroed, system registers to their reset values), as PSCI CPU_ON does to its target.
   */
  resetRegisters(): void {
    this.state.r.fill(0);
    this.state.nzcv = 0;
    this.exitRegs = false;
    this.trap = null;
    this.attention = 0;
    this.virq = false;
    for (const r of SYSREGS) this.setReg(r.name, r.reset);
    this.setReg("SCTLR_EL1", 0x00c5_0078n);
    this.mmu.flush();
  }

  /** Address of the instruction being executed (state.pc until the instruction completes). */
  private get insnPc(): bigint {
    return this.state.pc;
  }

  reg(name: string): bigint {
    if (this.exitRegs && isExitReg(name)) this.storeExitRegs();
    return this.sysregs.get(name) ?? 0n;
  }

  /** HCR_EL2.HCD (HVC disabled), kept with HCR_EL2 by setReg: hvcTrap's test with no BigInt. */
  private hcd = false;

  /**
   * SCTLR_EL1's alignment controls, kept as booleans for the memory paths (Arm ARM SCTLR_EL1: A,
   * bit 1, checks the alignment of every data access at EL0/EL1; SA, bit 3, and SA0, bit 4, the
   * SP alignment at EL1 / EL0).
   */
  strictAlign = false;
  private spAlignEl1 = false;
  private spAlignEl0 = false;

  private sctlrChanged(): void {
    const v = this.sysregs.get("SCTLR_EL1")!;
    this.strictAlign = (v & 2n) !== 0n;
    this.spAlignEl1 = (v & 8n) !== 0n;
    this.spAlignEl0 = (v & 16n) !== 0n;
  }

  setReg(name: string, value: bigint): void {
    if (this.exitRegs && isExitReg(name)) this.storeExitRegs();
    // SCTLR_EL1.EE (bit 25) and E0E (bit 24) are RES0: ID_AA64MMFR0_EL1.BigEnd/BigEndEL0 = 0 (idregs.ts).
    if (name === "SCTLR_EL1") value &= ~(3n << 24n);
    this.sysregs.set(name, value & MASK64);
    if (name === "SCTLR_EL1") this.sctlrChanged();
    if (name === "MDSCR_EL1" || name.startsWith("DBG")) this.debugChanged();
    if (name === "HCR_EL2") {
      this.hcd = (value & hcr("HCD")) !== 0n;
      this.e2h = (value & hcr("E2H")) !== 0n;
    }
    if (/^(SCTLR|TCR|TTBR0|TTBR1|MAIR)_EL1$|^(HCR|VTCR|VTTBR)_EL2$/.test(name)) this.mmu.flush();
  }

  private mmuRegisters(): MmuRegisters {
    const r = (n: string) => this.reg(n);
    return {
      SCTLR_EL1: r("SCTLR_EL1"), TCR_EL1: r("TCR_EL1"), TTBR0_EL1: r("TTBR0_EL1"), TTBR1_EL1: r("TTBR1_EL1"),
      MAIR_EL1: r("MAIR_EL1"), HCR_EL2: r("HCR_EL2"), VTCR_EL2: r("VTCR_EL2"), VTTBR_EL2: r("VTTBR_EL2"),
    };
  }


  /** PSTATE as an SPSR value: NZCV 31:28, DAIF 9:6, M[3:0] = EL << 2 | SPSel (AArch64). */
  get pstate(): bigint {
    const s = this.state;
    return (BigInt(s.nzcv) << 28n) | (BigInt(this.pstateSS) << 21n) | (BigInt(s.daif) << 6n) | BigInt((s.el << 2) | s.spsel);
  }

  set pstate(v: bigint) {
    const s = this.state;
    this.pstateSS = Number((v >> 21n) & 1n);
    s.nzcv = Number((v >> 28n) & 0xfn);
    s.daif = Number((v >> 6n) & 0xfn);
    s.el = Number((v >> 2n) & 3n);
    s.spsel = Number(v & 1n);
  }

  // ---- exceptions ----

  /** Take a synchronous exception to EL1 (Arm ARM D1.10): ESR/ELR/SPSR/FAR_EL1, vector, PSTATE. */
  takeToEl1(ec: number, iss: bigint, far?: bigint, returnPc = this.insnPc): never {
    this.enterEl1(ec, iss, far, returnPc);
    throw new GuestException(ec, this.reg("ESR_EL1"));
  }

  /** Exception entry to EL1 without abandoning anything (also used by KVM to inject). */
  enterEl1(ec: number, iss: bigint, far: bigint | undefined, returnPc: bigint): void {
    const s = this.state;
    const esr = encodeEsr(ec, iss);
    this.sysregs.set("ESR_EL1", esr);
    if (far !== undefined) this.sysregs.set("FAR_EL1", far);
    this.sysregs.set("ELR_EL1", returnPc);
    this.sysregs.set("SPSR_EL1", this.pstate);
    this.pstateSS = 0;
    // Vector offset: current EL with SP_EL0 0x000, with SP_ELx 0x200, lower EL (AArch64) 0x400; synchronous +0.
    const offset = s.el === 0 ? 0x400n : s.spsel ? 0x200n : 0n;
    s.el = 1;
    s.spsel = 1;
    s.daif = 0xf;
    s.nextPc = (this.reg("VBAR_EL1") & ~0x7ffn) + offset;
    s.pc = s.nextPc;
  }

  undefinedInstruction(): never {
    this.takeToEl1(EC.UNKNOWN, 0n);
  }

  /** A translation fault → stage 1: abort to EL1; stage 2: trap to EL2 with HPFAR. */
  private abort(f: MmuFault, a: { write: boolean; fetch: boolean; access?: A64MemAccess; cm?: boolean }): never {
    const fsc = fscOf(f);
    const lower = this.state.el === 0;
    if (f.stage === 1) {
      const ec = a.fetch ? (lower ? EC.IABT_LOW : EC.IABT_CUR) : lower ? EC.DABT_LOW : EC.DABT_CUR;
      const iss = a.fetch ? BigInt(fsc) : BigInt(fsc) | (a.write ? 1n << 6n : 0n) | (a.cm ? 1n << 8n : 0n);
      this.takeToEl1(ec, iss, f.va);
    }
    const hpfar = BigInt(Math.floor(f.ipa / 4096)) << 4n;
    if (a.fetch) {
      throw new El2Trap(Number(encodeEsr(EC.IABT_LOW, { ifsc: fsc, s1ptw: f.s1ptw ? 1 : 0 })), f.va, hpfar);
    }
    const acc = a.access;
    // ISV = 1 only for single general-register accesses, and never for a fault on the stage-1 walk.
    const isv = acc && acc.syndromeValid && !f.s1ptw && !a.cm;
    const iss = {
      dfsc: fsc,
      wnr: a.write && !f.s1ptw ? 1 : 0,
      s1ptw: f.s1ptw ? 1 : 0,
      cm: a.cm ? 1 : 0,
      ...(isv ? { isv: 1, sas: SAS[acc.size]!, sse: acc.signed ? 1 : 0, srt: acc.rt, sf: acc.sf ? 1 : 0, ar: acc.acqrel ? 1 : 0 } : {}),
    };
    throw new El2Trap(Number(encodeEsr(EC.DABT_LOW, iss)), f.va, hpfar);
  }

  private translate(va: bigint, kind: AccessKind, a: { access?: A64MemAccess; cm?: boolean; unaligned?: boolean } = {}): number {
    try {
      return this.mmu.translate(va, kind, this.state.el, a.unaligned);
    } catch (e) {
      if (e instanceof MmuFault && e.stage === 2 && kind !== "fetch" && this.mapDirect(e.ipa)) return this.translate(va, kind, a);
      if (e instanceof MmuFault) this.abort(e, { write: kind === "write", fetch: kind === "fetch", ...a });
      throw e;
    }
  }

  /** Fetch the instruction word at pc (PC alignment, then translation for execution). */
  fetch(pc: bigint): { word: number; pa: number } {
    const pa = this.fetchPa(pc);
    return { word: this.memory.read32(pa), pa };
  }

  private fetchPa(pc: bigint): number {
    if (pc & 3n) this.takeToEl1(EC.PC_ALIGN, 0n, pc);
    const pa = this.translate(pc, "fetch");
    if (!this.memory.isRam(pa)) {
      // Only reachable with stage 2 off: instruction fetch from a device is a synchronous external abort.
      this.takeToEl1(this.state.el === 0 ? EC.IABT_LOW : EC.IABT_CUR, BigInt(FSC.SYNC_EXTERNAL), pc);
    }
    return pa;
  }

  /** VA → PA of an access with its architectural checks (the software TLB's fill path); throws the fault. */
  translateFor(va: bigint, kind: AccessKind, access?: A64MemAccess): number {
    if (kind === "fetch") return this.fetchPa(va);
    return this.translate(va, kind, { access });
  }

  /** The last translateFor was to Device memory (the software TLB marks the entry). */
  get lastDevice(): boolean {
    return this.mmu.device;
  }

  // ---- alignment (Arm ARM B2.5.2 "Alignment of data accesses", D1.8.2 "Stack pointer alignment checking";
  // pseudocode AArch64.CheckAlignment, CheckSPAlignment) ----

  /**
   * The alignment check made before translation: an access not aligned to its size is an
   * Alignment fault (DFSC 0b100001, to EL1) when it is exclusive, acquire/release or atomic
   * (`a.mustAlign`), or when SCTLR_EL1.A = 1. Returns whether the access is unaligned (the
   * translation then faults if the memory is Device).
   */
  checkAlignment(va: bigint, a: A64MemAccess): boolean {
    if ((Number(va & 15n) & (a.size - 1)) === 0) return false;
    if (a.mustAlign || this.strictAlign) this.alignmentFault(va, a.write);
    return true;
  }

  private alignmentFault(va: bigint, write: boolean): never {
    const lower = this.state.el === 0;
    this.takeToEl1(lower ? EC.DABT_LOW : EC.DABT_CUR, BigInt(FSC.ALIGNMENT) | (write ? 1n << 6n : 0n), va);
  }

  /** CheckSPAlignment: a load/store based on SP with SP not 16-byte aligned and SCTLR_EL1.SA (SA0 at EL0) set → SP alignment fault (EC 0x26). */
  checkSpAlignment(): void {
    const s = this.state;
    if ((s.r[s.spi]! & 15) === 0) return;
    if (s.el === 0 ? this.spAlignEl0 : this.spAlignEl1) this.takeToEl1(EC.SP_ALIGN, 0n);
  }

  /**
   * CheckFPAdvSIMDEnabled64 (Arm ARM D1.10.1; CPACR_EL1.FPEN, D17.2.30): FPEN = 0b11 traps nothing,
   * 0b01 traps EL0, 0bx0 traps EL0 and EL1, each to EL1 with EC 0x07 (ISS 0: AArch64, COND not valid).
   * KVM leaves CPTR_EL2 trapping to its lazy FP switch, which the host never sees as an exit
   * (arch/arm64/kvm/hyp/include/hyp/switch.h kvm_hyp_handle_fpsimd), so no EL2 trap is modelled.
   */
  checkFpAccess(): void {
    const fpen = Number((this.reg("CPACR_EL1") >> 20n) & 3n);
    if (fpen === 3 || (fpen === 1 && this.state.el === 1)) return;
    this.takeToEl1(EC.FP_ASIMD, 0n);
  }

  // ---- debug exceptions (debug.ts) ----

  /** Some breakpoint is enabled (MDSCR_EL1.MDE, DBGBCR<n>.E): the engine checks every instruction, one at a time. */
  bpArmed = false;
  /** Some watchpoint is enabled: every data access takes this slow path (the software TLB holds no data entries). */
  watchArmed = false;
  private readonly debugReg = (name: string): bigint => this.reg(name);

  /** MDSCR_EL1.SS: software step is on (the engine runs one instruction at a time and asks stepBefore/stepAfter). */
  ssEnabled = false;
  /** PSTATE.SS (SPSR bit 21): 1 = active-not-pending, the next instruction is stepped. */
  pstateSS = 0;
  /** The instruction just run was an exception return (which sets PSTATE.SS from SPSR_EL1 instead of advancing it). */
  private ssReturned = false;

  /**
   * AArch64.CheckSoftwareStep before an instruction: with software step enabled from the current
   * EL and PSTATE.SS = 0 (active-pending), a Software Step exception (EC 0x32/0x33, ISS.ISV = 1,
   * EX = 0, IFSC 0x22) is taken before the instruction. Arm ARM D2.12.
   */
  stepBefore(): void {
    const s = this.state;
    this.ssReturned = false;
    if (this.pstateSS === 0 && debugExceptionsEnabled(this.debugReg, s.el, (s.daif & 8) !== 0)) {
      this.takeToEl1(s.el === 0 ? EC.SOFTSTP_LOW : EC.SOFTSTP_CUR, (1n << 24n) | 0x22n);
    }
  }

  /** After an instruction completed without an exception: the step advances (PSTATE.SS = 0), except after ERET. */
  stepAfter(): void {
    if (!this.ssReturned) this.pstateSS = 0;
  }

  private debugChanged(): void {
    this.ssEnabled = (this.reg("MDSCR_EL1") & 1n) === 1n;
    this.bpArmed = armed(this.debugReg, "b");
    const w = armed(this.debugReg, "w");
    if (w !== this.watchArmed) {
      this.watchArmed = w;
      this.port.flush();
    }
  }

  /** Before the instruction at pc runs: a matching breakpoint with debug exceptions enabled → Breakpoint exception (EC 0x30/0x31, IFSC 0x22). */
  checkBreakpoint(): void {
    const s = this.state;
    if (breakpointAt(this.debugReg, s.pc, s.el) < 0 || !debugExceptionsEnabled(this.debugReg, s.el, (s.daif & 8) !== 0)) return;
    this.takeToEl1(s.el === 0 ? EC.BREAKPT_LOW : EC.BREAKPT_CUR, 0x22n);
  }

  /** After a data access translated: a hit watchpoint → Watchpoint exception (EC 0x34/0x35, DFSC 0x22, WnR, FAR = the address). */
  private checkWatchpoint(va: bigint, size: number, write: boolean): void {
    const s = this.state;
    if (watchpointHit(this.debugReg, va, size, write, s.el) < 0 || !debugExceptionsEnabled(this.debugReg, s.el, (s.daif & 8) !== 0)) return;
    this.takeToEl1(s.el === 0 ? EC.WATCHPT_LOW : EC.WATCHPT_CUR, 0x22n | (write ? 1n << 6n : 0n), va);
  }

  // ---- A64Env: memory ----

  load(va: bigint, a: A64MemAccess): bigint {
    const unaligned = this.checkAlignment(va, a);
    if (unaligned && this.crossesPage(va, a.size)) return this.splitLoad(va, a);
    const pa = this.translate(va, "read", { access: a, unaligned });
    if (this.watchArmed) this.checkWatchpoint(va, a.size, false);
    return this.physRead(pa, a.size, va);
  }

  store(va: bigint, value: bigint, a: A64MemAccess): void {
    const unaligned = this.checkAlignment(va, a);
    if (unaligned && this.crossesPage(va, a.size)) return this.splitStore(va, value, a);
    const pa = this.translate(va, "write", { access: a, unaligned });
    if (this.watchArmed) this.checkWatchpoint(va, a.size, true);
    this.physWrite(pa, a.size, value, va);
  }

  private crossesPage(va: bigint, size: number): boolean {
    return Number(va & 0xfffn) + size > 4096;
  }

  private splitLoad(va: bigint, a: A64MemAccess): bigint {
    const pas: number[] = [];
    for (let i = 0; i < a.size; i++) pas.push(this.translate(va + BigInt(i), "read", { access: a, unaligned: true }));
    if (this.watchArmed) this.checkWatchpoint(va, a.size, false);
    let v = 0n;
    pas.forEach((pa, i) => (v |= this.physRead(pa, 1, va) << BigInt(8 * i)));
    return v;
  }

  private splitStore(va: bigint, value: bigint, a: A64MemAccess): void {
    const pas: number[] = [];
    for (let i = 0; i < a.size; i++) pas.push(this.translate(va + BigInt(i), "write", { access: a, unaligned: true }));
    if (this.watchArmed) this.checkWatchpoint(va, a.size, true);
    pas.forEach((pa, i) => this.physWrite(pa, 1, (value >> BigInt(8 * i)) & 0xffn, va));
  }

  private physRead(pa: number, size: number, va: bigint): bigint {
    if (this.memory.isRam(pa)) return this.memory.read(pa, size);
    if (this.bus.find(pa)) return this.bus.read(pa, size);
    this.takeToEl1(this.state.el === 0 ? EC.DABT_LOW : EC.DABT_CUR, BigInt(FSC.SYNC_EXTERNAL), va);
  }

  private physWrite(pa: number, size: number, value: bigint, va: bigint): void {
    if (this.memory.isRam(pa)) return this.memory.write(pa, size, value);
    if (this.bus.find(pa)) return this.bus.write(pa, size, value);
    this.takeToEl1(this.state.el === 0 ? EC.DABT_LOW : EC.DABT_CUR, BigInt(FSC.SYNC_EXTERNAL) | (1n << 6n), va);
  }

  // ---- A64Env: system registers ----

  private sysTrap(enc: A64SysregEncoding, rt: number, isRead: boolean): never {
    throw new El2Trap(Number(encodeEsr(EC.SYS64, { op0: enc.op0, op1: enc.op1, crn: enc.crn, crm: enc.crm, op2: enc.op2, rt, direction: isRead ? 1 : 0 })));
  }

  /** The access checks of MRS/MSR at the current EL: UNDEFINED, trap to EL2, or the register. */
  private checkSysreg(enc: A64SysregEncoding, rt: number, isRead: boolean): SysregDef {
    const el = this.state.el;
    const reg = sysregByEncoding(enc);
    const hcrEl2 = this.reg("HCR_EL2");
    if (!reg) {
      if (el === 1 && isImpDefSysreg(enc) && hcrEl2 & hcr("TIDCP")) this.sysTrap(enc, rt, isRead);
      this.undefinedInstruction();
    }
    if (reg.minEl > el || (!isRead && reg.readOnly) || (isRead && reg.writeOnly)) this.undefinedInstruction();
    if ((reg.trap === "icc" || reg.trap === "imo") && !this.gicSysregs) this.undefinedInstruction();
    if (el === 1 && sysregTraps(hcrEl2, reg, isRead, this.cnthctl, reg.trap === "tpm" ? this.reg("MDCR_EL2") : 0n)) this.sysTrap(enc, rt, isRead);
    return reg;
  }

  /** Called at a guest's read of CNTPCT_EL0/CNTVCT_EL0 (before the count is taken): spin.ts may skip a polling loop. */
  counterRead: ((virtual: boolean, rt: number) => void) | null = null;

  readSysreg(enc: A64SysregEncoding, rt: number): bigint {
    const reg = this.checkSysreg(enc, rt, true);
    if (this.counterRead !== null && enc.crn === 14 && enc.crm === 0 && (enc.op2 === 1 || enc.op2 === 2) && enc.op1 === 3) this.counterRead(enc.op2 === 2, rt);
    return this.readSysregValue(this.state.el === 2 ? this.el2Target(reg.name) : reg.name);
  }

  /** HCR_EL2.E2H (VHE), kept with HCR_EL2 by setReg. */
  e2h = false;

  /** The register an access at EL2 reaches (vhe.ts: E2H redirection and the *_EL12 aliases); UNDEFINED for an alias without E2H. */
  private el2Target(name: string): string {
    const t = sysregTarget(name, 2, this.e2h);
    if (t === undefined) this.undefinedInstruction();
    return t;
  }

  /** The value an MRS at EL1 returns (virtualised ID registers, PSTATE views, counters). */
  readSysregValue(name: string): bigint {
    const s = this.state;
    switch (name) {
      case "MIDR_EL1": return this.reg("VPIDR_EL2");
      case "MPIDR_EL1": return this.reg("VMPIDR_EL2");
      case "CURRENTEL": return BigInt(s.el << 2);
      case "DAIF": return BigInt(s.daif << 6);
      case "NZCV": return BigInt((s.nzcv << 28) >>> 0); // bits 63:32 RES0 (Arm ARM D13.2 NZCV)
      case "SPSEL": return BigInt(s.spsel);
      case "SP_EL0": return s.sp[0]!;
      case "SP_EL1": return s.sp[1]!;
      // The generic timer's count advances with modelled time (Arm ARM D11.1.2: the system
      // counter at CNTFRQ_EL0 Hz; CNTVOFF_EL2 is 0 here, so virtual = physical).
      case "CNTPCT_EL0": case "CNTVCT_EL0": {
        const count = BigInt(Math.floor((this.clock() * Number(this.reg("CNTFRQ_EL0"))) / MODELLED_CPU_HZ));
        return name === "CNTVCT_EL0" && this.sysregHook ? count - (this.sysregHook.read("CNTVOFF_EL2") ?? 0n) : count;
      }
    }
    if (this.sysregHook !== null) {
      const v = this.sysregHook.read(name);
      if (v !== undefined) return v;
    }
    return this.reg(name);
  }

  writeSysreg(enc: A64SysregEncoding, value: bigint, rt: number): void {
    const reg = this.checkSysreg(enc, rt, false);
    if (reg.ignoresWrites) return;
    this.writeSysregValue(this.state.el === 2 ? this.el2Target(reg.name) : reg.name, value);
  }

  writeSysregValue(name: string, value: bigint): void {
    const s = this.state;
    switch (name) {
      case "DAIF": s.daif = Number((value >> 6n) & 0xfn); return;
      case "NZCV": s.nzcv = Number((value >> 28n) & 0xfn); return;
      case "SPSEL": s.spsel = Number(value & 1n); return;
      case "SP_EL0": s.sp[0] = value & MASK64; return;
      case "SP_EL1": s.sp[1] = value & MASK64; return;
      // Arm ARM OSLAR_EL1: OSLK (bit 0) → OSLSR_EL1.OSLK (bit 1); OSLM stays 0b10.
      case "OSLAR_EL1": this.setReg("OSLSR_EL1", 0x8n | ((value & 1n) << 1n)); return;
      case "CNTHCTL_EL2": this.cnthctl = Number(value & 0xffn); break;
    }
    if (this.sysregHook !== null && this.sysregHook.write(name, value & MASK64)) return;
    this.setReg(name, value);
  }

  writePstate(field: A64PstateField, imm: number): void {
    const s = this.state;
    if (field === "spsel") {
      if (s.el === 0) this.undefinedInstruction();
      s.spsel = imm & 1;
    } else if (field === "daifset") s.daif |= imm & 0xf;
    else s.daif &= ~imm & 0xf;
  }

  sys(enc: A64SysregEncoding, value: bigint, rt: number): void {
    const hcrEl2 = this.reg("HCR_EL2");
    if (this.state.el === 0 && !(enc.op1 === 3)) this.undefinedInstruction(); // EL0 may only use the op1 = 3 (EL0-accessible) operations
    if (isSetWayOp(enc)) {
      if (hcrEl2 & hcr("TSW")) this.sysTrap(enc, rt, false);
      return; // set/way maintenance has no visible effect in this model (no cache contents are modelled)
    }
    if (isTlbiOp(enc)) {
      if (hcrEl2 & hcr("TTLB")) this.sysTrap(enc, rt, false);
      // By VA (Arm ARM C5.5: TLBI VAE1{IS} op2 1, VAAE1{IS} 3, VALE1{IS} 5, VAALE1{IS} 7; CRm 3 = IS,
      // 7 = local; Xt[43:0] = VA[55:12]): that page's leaf. Anything else: all of stage 1.
      if (enc.op1 === 0 && (enc.crm === 3 || enc.crm === 7) && (enc.op2 & 1) === 1) {
        const field = Number(value & 0xfff_ffff_ffffn);
        this.mmu.invalidateVa(field >= 2 ** 43 ? field + (2 ** 52 - 2 ** 44) : field);
      } else this.mmu.flushStage1();
      return;
    }
    if (enc.crn === 7 && enc.op1 === 3 && enc.crm === 4 && enc.op2 === 1) {
      // DC ZVA: zero the 64-byte block (DCZID_EL0.BS = 4 words = 64 bytes); HCR_EL2.TDZ traps it.
      if (hcrEl2 & hcr("TDZ")) this.sysTrap(enc, rt, false);
      const base = value & ~63n;
      // DC ZVA to Device memory is an Alignment fault (Arm ARM AArch64.FirstStageTranslate: AccType_DCZVA).
      this.translate(base, "write", { unaligned: true });
      const a: A64MemAccess = { size: 8, write: true, rt, signed: false, sf: true, acqrel: false, syndromeValid: false, mustAlign: false };
      for (let i = 0n; i < 64n; i += 8n) this.store(base + i, 0n, a);
      return;
    }
    if (enc.crn === 7 && enc.crm === 8) return this.addressTranslate(enc, value);
    // DC by VA and IC: cache maintenance with no visible effect here (no cache contents are modelled).
  }

  /** AT S1E1R/W, S1E0R/W (Arm ARM C5.5): a stage 1 + 2 walk into PAR_EL1 (bit 0 F = fault, FST 6:1). */
  private addressTranslate(enc: A64SysregEncoding, va: bigint): void {
    const write = (enc.op2 & 1) === 1;
    const el = enc.op2 >= 2 ? 0 : 1;
    try {
      const t = this.mmu.walk(va, write ? "write" : "read", el);
      this.setReg("PAR_EL1", BigInt(t.pa) & 0xffff_ffff_f000n);
    } catch (e) {
      if (!(e instanceof MmuFault)) throw e;
      this.setReg("PAR_EL1", 1n | (BigInt(fscOf(e)) << 1n) | (e.stage === 2 ? 1n << 9n : 0n));
    }
  }

  /**
   * HVC #imm16 from compiled code, without throwing (exits are the hot path): returns 1 with the
   * trap to EL2 left in `trap` for the machine to take, or 2 when HVC is UNDEFINED here and the
   * exception has been taken to EL1 (Arm ARM D1.10.2: HVC is UNDEFINED at EL0 and with
   * HCR_EL2.HCD set; ELR_EL2 = the next instruction).
   */
  hvcTrap(imm16: number): number {
    const s = this.state;
    if (s.el === 0 || this.hcd) {
      this.enterEl1(EC.UNKNOWN, 0n, undefined, s.pc);
      return 2;
    }
    this.trap = HVC_TRAPS[imm16] ??= new El2Trap(ESR_HVC64 | imm16, undefined, undefined, true);
    return 1;
  }

  call(kind: "svc" | "hvc" | "smc", imm16: number): void {
    const s = this.state;
    const hcrEl2 = this.reg("HCR_EL2");
    if (kind === "svc") this.takeToEl1(EC.SVC64, BigInt(imm16), undefined, this.insnPc + 4n);
    if (kind === "hvc") {
      // The rule of hvcTrap, with its outcomes thrown as the other exceptions are.
      if (this.hvcTrap(imm16) === 2) throw new GuestException(EC.UNKNOWN, this.reg("ESR_EL1"));
      const t = this.trap!;
      this.trap = null;
      throw t;
    }
    if (s.el === 1 && hcrEl2 & hcr("TSC")) throw new El2Trap(Number(encodeEsr(EC.SMC64, { imm16 })));
    this.undefinedInstruction(); // no EL3 in this machine: SMC is UNDEFINED
  }

  eret(): void {
    const s = this.state;
    if (s.el === 0) this.undefinedInstruction();
    // From EL2 (the world switch, hyp/): SPSR_EL2 and ELR_EL2, to EL2, EL1 or EL0 (Arm ARM D1.11).
    const fromEl2 = s.el === 2;
    const spsr = this.reg(fromEl2 ? "SPSR_EL2" : "SPSR_EL1");
    const targetEl = Number((spsr >> 2n) & 3n);
    if ((spsr >> 4n) & 1n || targetEl > s.el) {
      // Illegal exception return (AArch32 or a higher EL): modelled as the Illegal Execution state exception.
      this.takeToEl1(0x0e, 0n);
    }
    this.pstate = spsr;
    // DebugExceptionReturnSS: PSTATE.SS = SPSR.SS only when software step is enabled at the target.
    if (!this.ssEnabled || !debugExceptionsEnabled(this.debugReg, s.el, (s.daif & 8) !== 0)) this.pstateSS = 0;
    this.ssReturned = true;
    s.nextPc = this.reg(fromEl2 ? "ELR_EL2" : "ELR_EL1");
    // AArch64.ExceptionReturn: ClearExclusiveLocal (Arm ARM J1, B2.9.5).
    clearExclusive(s);
  }

  wait(isWfe: boolean): void {
    const hcrEl2 = this.reg("HCR_EL2");
    if (this.state.el <= 1 && hcrEl2 & hcr(isWfe ? "TWE" : "TWI")) {
      throw new El2Trap(Number(encodeEsr(EC.WFx, { ti: isWfe ? 1 : 0, cv: 1, cond: 0xe })));
    }
    if (!isWfe) throw new CpuStop("the guest executed WFI with WFI trapping off: it waits for an interrupt, and no interrupt source exists");
    // WFE without a trap: the event register is treated as set, so it completes at once.
  }

  barrier(_kind: A64Barrier): void {
    // Barriers order nothing in a single in-order CPU model.
  }
}
