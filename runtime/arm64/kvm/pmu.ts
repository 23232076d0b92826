// KVM's virtual PMUv3 (Linux arch/arm64/kvm/pmu-emul.c, sys_regs.c access_pm*), as a guest on a
// Cortex-A57 host sees it: PMCR_EL0 with the host's IMP/IDCODE (0x41, 0x01) and N = 6 counters, the
// cycle counter and six event counters, their enable/overflow/interrupt-enable sets, PMSELR/PMXEV*,
// PMCEID0/1, PMSWINC, PMUSERENR, PMCCFILTR. Every access is a trap (MDCR_EL2.TPM/TPMCR) KVM
// emulates in the kernel; nothing runs per guest instruction: a counter's count is derived from
// the vCPU's retired instructions or the VM's modelled cycles when a register is accessed (sync).
//
// Events (this model's choice, see PMU_EVENTS): SW_INCR, INST_RETIRED and CPU_CYCLES, the events
// the model counts exactly, and CHAIN, which KVM always adds (pmu-emul.c kvm_pmu_get_pmceid). A
// real host's PMCEID0 has more (the A57's: L1 cache, bus, MEM_ACCESS 0x13, ...): those are left
// out, so a guest that needs them skips, and a counter programmed with one counts nothing (a perf
// event KVM could not create). Not modelled: the overflow interrupt (PPI 23), the P/U/NSH filters
// beyond "P = 1 counts nothing at EL1" (guests run at EL1), EL0 access (PMUSERENR only stores).

import type { SysregDef } from "../sysregs.js";

/** PMCR_EL0 bits (Arm ARM D13.10 PMCR_EL0). */
const PMCR_E = 1n, PMCR_P = 2n, PMCR_C = 4n, PMCR_LC = 1n << 6n;
/** The writable bits of PMCR_EL0 KVM keeps: E, D, X, DP, LC, LP (P and C are actions, read 0). */
const PMCR_WRITABLE = 0xf9n;
/** Counters of the host (Cortex-A57 TRM 11.4: PMCR_EL0.N = 6); KVM gives a vCPU the host's number. */
export const PMU_COUNTERS = 6;
/** PMCR_EL0's read-only part: IMP 0x41 (Arm), IDCODE 0x01 (Cortex-A57), N (Cortex-A57 TRM, PMCR_EL0). */
const PMCR_RO = (0x41n << 24n) | (0x01n << 16n) | (BigInt(PMU_COUNTERS) << 11n);
const CYCLE_IDX = 31;
const M32 = 0xffff_ffffn;
const M64 = (1n << 64n) - 1n;

/** What an event counts: nothing by itself (software), retired instructions, or cycles. Arm ARM D17.11 "PMU events". */
export interface PmuEvent {
  code: number;
  name: string;
  source: "software" | "instructions" | "cycles" | "chain";
}
export const PMU_EVENTS: readonly PmuEvent[] = [
  { code: 0x00, name: "SW_INCR", source: "software" },
  { code: 0x08, name: "INST_RETIRED", source: "instructions" },
  { code: 0x11, name: "CPU_CYCLES", source: "cycles" },
  // KVM always advertises CHAIN (pmu-emul.c kvm_pmu_get_pmceid): an odd counter counting it goes
  // up each time the even counter below it overflows (Arm ARM D7.11 "Chaining counters").
  { code: 0x1e, name: "CHAIN", source: "chain" },
];
const EVENT_BY_CODE = new Map(PMU_EVENTS.map((e) => [e.code, e]));

/** PMCEID0_EL0/PMCEID1_EL0: bit n of event n (0x00-0x3f), from PMU_EVENTS. */
export const PMCEID = [0, 1].map((half) => PMU_EVENTS.reduce((v, e) => (e.code >> 5 === half ? v | (1n << BigInt(e.code & 31)) : v), 0n));

/** Where the counts come from: the vCPU's retired instructions and the VM's modelled cycles. */
export interface PmuSources {
  instructions(): number;
  cycles(): number;
}

/** One vCPU's PMU state (kvm_pmu); registers are emulated by `read`/`write` (access_pm*). */
export class VPmu {
  pmcr = PMCR_RO | PMCR_LC;
  cntenset = 0n;
  intenset = 0n;
  ovs = 0n;
  selr = 0n;
  userenr = 0n;
  ccfiltr = 0n;
  readonly evtyper = new Array<bigint>(PMU_COUNTERS).fill(0n);
  /** Counter values: 0..N-1 the event counters, CYCLE_IDX the cycle counter. */
  private readonly value = new Map<number, bigint>();
  /** The source's reading when each counter was last brought up to date. */
  private readonly seen = new Map<number, number>();

  constructor(private readonly src: PmuSources) {}

  /** The counters that exist: bits 0..N-1 and 31. */
  static readonly IMPLEMENTED = ((1n << BigInt(PMU_COUNTERS)) - 1n) | (1n << BigInt(CYCLE_IDX));

  private sourceOf(i: number): PmuEvent["source"] | undefined {
    if (i === CYCLE_IDX) return (this.ccfiltr >> 31n) & 1n ? undefined : "cycles";
    const t = this.evtyper[i]!;
    if ((t >> 31n) & 1n) return undefined; // P: EL1 not counted (the guest runs at EL1)
    return EVENT_BY_CODE.get(Number(t & 0x3ffn))?.source;
  }

  private counting(i: number): boolean {
    return (this.pmcr & PMCR_E) !== 0n && ((this.cntenset >> BigInt(i)) & 1n) !== 0n;
  }

  /** Overflow width of counter i: the cycle counter at 64 bits with PMCR.LC, else 32 (PMUv3: no LP). */
  private width(i: number): bigint {
    return i === CYCLE_IDX && this.pmcr & PMCR_LC ? M64 : M32;
  }

  /** Bring every counter up to date with its source (kvm_pmu_get_counter_value reads the perf event). */
  sync(): void {
    for (const i of [...Array(PMU_COUNTERS).keys(), CYCLE_IDX]) {
      const s = this.sourceOf(i);
      const now = s === "instructions" ? this.src.instructions() : s === "cycles" ? this.src.cycles() : 0;
      const delta = now - (this.seen.get(i) ?? now);
      this.seen.set(i, now);
      if (delta > 0 && s !== "software" && this.counting(i)) this.add(i, BigInt(delta));
    }
  }

  /** Take every counter's current source reading as its baseline (after a write that may change what it counts). */
  private rebase(): void {
    for (const i of [...Array(PMU_COUNTERS).keys(), CYCLE_IDX]) {
      const s = this.sourceOf(i);
      this.seen.set(i, s === "instructions" ? this.src.instructions() : s === "cycles" ? this.src.cycles() : 0);
    }
  }

  /** Add `n` to counter i, setting its overflow flag when it wraps at its width. */
  private add(i: number, n: bigint): void {
    const w = this.width(i);
    const full = i === CYCLE_IDX ? M64 : M32;
    const old = this.value.get(i) ?? 0n;
    const next = (old + n) & full;
    const wraps = ((old & w) + n) / (w + 1n);
    this.value.set(i, next);
    if (wraps === 0n) return;
    this.ovs |= 1n << BigInt(i);
    // An even counter's overflow is the CHAIN event of the odd counter above it.
    const odd = i + 1;
    if (i % 2 === 0 && odd < PMU_COUNTERS && (this.evtyper[odd]! & 0x3ffn) === 0x1en && this.counting(odd)) this.add(odd, wraps);
  }

  private counter(i: number): bigint {
    return this.value.get(i) ?? 0n;
  }

  /** Counter index a register names, or undefined for an unimplemented one (KVM: undefined instruction). */
  private index(name: string): number | undefined {
    if (name === "PMCCNTR_EL0" || name === "PMCCFILTR_EL0") return CYCLE_IDX;
    if (name === "PMXEVCNTR_EL0" || name === "PMXEVTYPER_EL0") {
      const sel = Number(this.selr & 31n);
      return sel === 31 ? (name === "PMXEVTYPER_EL0" ? CYCLE_IDX : undefined) : sel < PMU_COUNTERS ? sel : undefined;
    }
    const m = /^PMEV(?:CNTR|TYPER)(\d+)_EL0$/.exec(name);
    if (!m) return undefined;
    const n = Number(m[1]);
    return n < PMU_COUNTERS ? n : undefined;
  }

  /** MRS of a PMU register: its value, or undefined when KVM injects an undefined instruction (a counter beyond N). */
  read(reg: SysregDef): bigint | undefined {
    this.sync();
    switch (reg.name) {
      case "PMCR_EL0": return this.pmcr;
      case "PMCNTENSET_EL0": case "PMCNTENCLR_EL0": return this.cntenset;
      case "PMINTENSET_EL1": case "PMINTENCLR_EL1": return this.intenset;
      case "PMOVSSET_EL0": case "PMOVSCLR_EL0": return this.ovs;
      case "PMSELR_EL0": return this.selr;
      case "PMUSERENR_EL0": return this.userenr;
      case "PMCEID0_EL0": return PMCEID[0]!;
      case "PMCEID1_EL0": return PMCEID[1]!;
    }
    const i = this.index(reg.name);
    if (i === undefined) return undefined;
    if (reg.name.includes("TYPER") || reg.name === "PMCCFILTR_EL0") return i === CYCLE_IDX ? this.ccfiltr : this.evtyper[i]!;
    return this.counter(i);
  }

  /** MSR to a PMU register; false when KVM injects an undefined instruction (a counter beyond N). */
  write(reg: SysregDef, v: bigint): boolean {
    this.sync();
    const ok = this.apply(reg, v);
    this.rebase();
    return ok;
  }

  private apply(reg: SysregDef, v: bigint): boolean {
    const impl = VPmu.IMPLEMENTED;
    switch (reg.name) {
      case "PMCR_EL0": {
        // kvm_pmu_handle_pmcr: C resets the cycle counter, P the event counters; both read as 0.
        this.pmcr = PMCR_RO | (v & PMCR_WRITABLE);
        if (v & PMCR_C) this.value.set(CYCLE_IDX, 0n);
        if (v & PMCR_P) for (let i = 0; i < PMU_COUNTERS; i++) this.value.set(i, 0n);
        return true;
      }
      case "PMCNTENSET_EL0": this.cntenset |= v & impl; return true;
      case "PMCNTENCLR_EL0": this.cntenset &= ~v; return true;
      case "PMINTENSET_EL1": this.intenset |= v & impl; return true;
      case "PMINTENCLR_EL1": this.intenset &= ~v; return true;
      case "PMOVSSET_EL0": this.ovs |= v & impl; return true;
      case "PMOVSCLR_EL0": this.ovs &= ~v; return true;
      case "PMSELR_EL0": this.selr = v & 31n; return true;
      case "PMUSERENR_EL0": this.userenr = v & 0xfn; return true;
      case "PMSWINC_EL0": {
        // kvm_pmu_software_increment: enabled counters counting SW_INCR go up by one.
        for (let i = 0; i < PMU_COUNTERS; i++) if ((v >> BigInt(i)) & 1n && this.counting(i) && (this.evtyper[i]! & 0x3ffn) === 0n) this.add(i, 1n);
        return true;
      }
    }
    const i = this.index(reg.name);
    if (i === undefined) return false;
    if (reg.name.includes("TYPER") || reg.name === "PMCCFILTR_EL0") {
      // PMEVTYPER: P, U, NSK, NSU, NSH, M, MT and evtCount[9:0] (PMUv3); PMCCFILTR the filters only.
      if (i === CYCLE_IDX) this.ccfiltr = v & 0xfc00_0000n;
      else this.evtyper[i] = v & 0xfe00_03ffn;
      return true;
    }
    this.value.set(i, i === CYCLE_IDX ? v & M64 : v & M32);
    return true;
  }
}
