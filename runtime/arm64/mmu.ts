// Address translation for a guest at EL1/EL0: stage 1 (the guest's tables: SCTLR_EL1, TCR_EL1,
// TTBR0/1_EL1, MAIR_EL1) and stage 2 (the hypervisor's tables: HCR_EL2.VM, VTCR_EL2, VTTBR_EL2),
// walked from real descriptors in guest RAM and host memory, 4 KiB and 64 KiB granules, with the
// memory attributes of both stages combined ("non-cacheable at either stage wins", the talk's
// MMU_CombineS1S2Noncached). Faults are thrown as MmuFault with the stage, kind and level the
// syndrome needs. Successful translations are cached per page until a TLB flush.
// Sources: Arm ARM (DDI 0487) D5.2 "The VMSAv8-64 address translation system" (granules, levels,
// start levels from TxSZ and VTCR_EL2.SL0), D5.3 descriptor formats (table/block/page; AP[2:1],
// AF, PXN/UXN; stage-2 MemAttr[3:0], S2AP, XN), D5.5 memory attributes and their combination;
// register fields from D13.2 (TCR_EL1, VTCR_EL2, SCTLR_EL1, MAIR_EL1).

import type { GuestMemory } from "../core/memory.js";
import { PA_BITS } from "./idregs.js";

export type AccessKind = "read" | "write" | "fetch";
export type FaultKind = "translation" | "accessFlag" | "permission" | "addressSize" | "alignment";

/** A translation fault at one stage (thrown; the CPU turns it into an abort to EL1 or EL2). */
export class MmuFault {
  constructor(
    readonly stage: 1 | 2,
    readonly kind: FaultKind,
    readonly level: number,
    readonly va: bigint,
    /** Stage 2: the IPA that faulted (of the access, or of the stage-1 table entry). */
    readonly ipa: number,
    /** Stage 2 fault while walking the stage-1 tables (ISS.S1PTW). */
    readonly s1ptw: boolean,
  ) {}
}

export interface MemAttrs {
  device: boolean;
  /** Normal memory that caches may hold (meaningless for Device). */
  cacheable: boolean;
  /** Short text, e.g. "Normal WB" or "Device-nGnRnE". */
  text: string;
}

export interface Translation {
  pa: number;
  ipa: number;
  s1: MemAttrs;
  s2: MemAttrs;
  /** The combined attributes the access is made with. */
  final: MemAttrs;
  /** log2 of the stage-1 leaf's size (12 or 16 for pages, more for blocks; 12 with stage 1 off). */
  s1Shift: number;
}

/** The registers translation reads (values as the guest/KVM set them). */
export interface MmuRegisters {
  SCTLR_EL1: bigint;
  TCR_EL1: bigint;
  TTBR0_EL1: bigint;
  TTBR1_EL1: bigint;
  MAIR_EL1: bigint;
  HCR_EL2: bigint;
  VTCR_EL2: bigint;
  VTTBR_EL2: bigint;
}

const ADDR48 = (1n << 48n) - 1n;
const DEVICE: MemAttrs = { device: true, cacheable: false, text: "Device-nGnRnE" };
const NORMAL_WB: MemAttrs = { device: false, cacheable: true, text: "Normal WB" };
const NORMAL_NC: MemAttrs = { device: false, cacheable: false, text: "Normal NC" };

interface Granule {
  shift: number; // 12 or 16
  bits: number; // index bits per level: shift - 3
  /** Levels at which a block descriptor is allowed. */
  blockLevels: readonly number[];
}
const G4K: Granule = { shift: 12, bits: 9, blockLevels: [1, 2] };
const G64K: Granule = { shift: 16, bits: 13, blockLevels: [2] };

const levelShift = (g: Granule, level: number) => g.shift + g.bits * (3 - level);
const bitsOf = (v: bigint, lsb: number, width: number) => Number((v >> BigInt(lsb)) & ((1n << BigInt(width)) - 1n));

/** MAIR attribute byte → attributes (Arm ARM D13.2 MAIR_EL1: 0000dd00 Device, else outer:inner Normal; 0100 = Non-cacheable). */
export function mairAttrs(byte: number): MemAttrs {
  if ((byte & 0xf0) === 0) return { device: true, cacheable: false, text: ["Device-nGnRnE", "Device-nGnRE", "Device-nGRE", "Device-GRE"][(byte >> 2) & 3]! };
  const inner = byte & 0xf;
  const outer = byte >> 4;
  const cacheable = inner !== 0b0100 && outer !== 0b0100 && inner !== 0;
  const kind = (n: number) => (n === 0b0100 ? "NC" : (n & 0b1100) === 0b1100 || (n & 0b1100) === 0b0100 ? "WB" : "WT");
  return { device: false, cacheable, text: `Normal ${kind(outer)}/${kind(inner)}` };
}

/** Stage-2 MemAttr[3:0] (descriptor bits 5:2) → attributes (Arm ARM D5.5.5). */
export function s2Attrs(memAttr: number): MemAttrs {
  const outer = memAttr >> 2;
  const inner = memAttr & 3;
  if (outer === 0) return { device: true, cacheable: false, text: ["Device-nGnRnE", "Device-nGnRE", "Device-nGRE", "Device-GRE"][inner]! };
  const kind = (n: number) => ["?", "NC", "WT", "WB"][n]!;
  return { device: false, cacheable: outer !== 1 && inner !== 1, text: `Normal ${kind(outer)}/${kind(inner)}` };
}

/** Combine stage-1 and stage-2 attributes: Device at either stage is Device; non-cacheable at either stage wins. */
export function combineS1S2(s1: MemAttrs, s2: MemAttrs): MemAttrs {
  if (s1.device || s2.device) return s1.device ? s1 : s2;
  if (s1.cacheable && s2.cacheable) return s1;
  return NORMAL_NC;
}

export class Mmu {
  /**
   * Page-aligned PA by VA page (a TLB), one map per access kind and EL (read, write, fetch at EL1
   * and EL0): the page number of a 64-bit VA fits a double exactly (52 bits), a key mixing in the
   * kind would not for the upper VA range.
   */
  private readonly tlb: Map<number, number>[] = Array.from({ length: 6 }, () => new Map<number, number>());
  /** Counters for `show stats`. */
  walks = 0;
  /** The last translation (translate) was to Device memory (the final attributes of both stages). */
  device = false;

  constructor(
    private readonly guest: GuestMemory,
    private readonly host: GuestMemory,
    private readonly regs: () => MmuRegisters,
  ) {}

  /**
   * Stage-2 translations by IPA page and access kind (a walk cache): the guest's TLB maintenance
   * by VA leaves these alone, as TLBI VAE1 & co. leave stage-2-only entries alone (Arm ARM D5.10).
   */
  private readonly s2cache = new Map<number, { pa: number; attrs: MemAttrs }>();
  /** Cached entries that came from stage-1 leaves larger than 64 KiB (blocks). */
  private largeLeaves = 0;
  /** 64 KiB virtual regions that have cached entries (TLBI by VA elsewhere has nothing to drop). */
  private readonly regions = new Set<number>();
  /** Called after every flush (the CPU's software TLB for compiled code listens). */
  onFlush: (() => void) | null = null;
  /** Called when the 4 KiB virtual pages [first, first + count) are invalidated. */
  onInvalidate: ((firstPage: number, count: number) => void) | null = null;

  /** Forget every translation (both stages). */
  flush(): void {
    for (const t of this.tlb) t.clear();
    this.regions.clear();
    this.s2cache.clear();
    this.largeLeaves = 0;
    this.onFlush?.();
  }

  /** Forget the stage-1 (and combined) translations, keeping stage 2's (TLBI VMALLE1 & co.). */
  flushStage1(): void {
    for (const t of this.tlb) t.clear();
    this.regions.clear();
    this.largeLeaves = 0;
    this.onFlush?.();
  }

  /**
   * TLBI by VA (VAE1, VAAE1, VALE1, VAALE1 and their IS forms): forget the translations of the
   * stage-1 leaf holding `vpn` (the VA's 4 KiB page number). Cached pages came from leaves of
   * 4 or 64 KiB, so dropping the 64 KiB-aligned run of 16 pages covers them; when a larger block
   * is cached everything stage 1 goes (over-invalidating is always allowed).
   */
  invalidateVa(vpn: number): void {
    if (this.largeLeaves > 0) return this.flushStage1();
    const first = vpn - (vpn % 16);
    if (!this.regions.delete(first / 16)) return;
    for (const t of this.tlb) for (let p = first; p < first + 16; p++) t.delete(p);
    this.onInvalidate?.(first, 16);
  }

  /**
   * VA → PA for an access at `el`, through both stages; throws MmuFault. Cached per 4 KiB page.
   * `unaligned`: the data access is not aligned to its size, which Device memory does not allow
   * (an alignment fault of the stage whose attributes say Device). Sets `device`.
   */
  translate(va: bigint, kind: AccessKind, el: number, unaligned = false): number {
    if (el === 2) {
      // EL2 (the world switch, hyp/): not cached, so the guest's EL1&0 entries never mix with it.
      const t = this.walk(va, kind, el, unaligned);
      this.device = t.final.device;
      return t.pa;
    }
    const page = Number(va >> 12n);
    const tlb = this.tlb[(kind === "read" ? 0 : kind === "write" ? 2 : 4) + (el === 0 ? 1 : 0)]!;
    const off = Number(va & 0xfffn);
    const hit = tlb.get(page);
    if (hit !== undefined) {
      // The page-aligned PA with stage 1 Device in bit 0 and stage 2 Device in bit 1.
      const dev = hit & 3;
      this.device = dev !== 0;
      if (unaligned && dev !== 0) throw new MmuFault(dev & 1 ? 1 : 2, "alignment", 0, va, Number(va), false);
      return hit - dev + off;
    }
    // Walk the access's own address so that a fault reports it exactly (FAR); cache the page.
    const t = this.walk(va, kind, el, unaligned);
    if (t.s1Shift > 16) this.largeLeaves++;
    this.regions.add(Math.floor(page / 16));
    tlb.set(page, t.pa - off + (t.s1.device ? 1 : 0) + (t.s2.device ? 2 : 0));
    this.device = t.final.device;
    return t.pa;
  }

  /**
   * The full walk without the TLB (also used by `show translate`). An unaligned data access to
   * Device memory is an Alignment fault, checked after each stage's translation (Arm ARM
   * AArch64.FirstStageTranslate / AArch64.SecondStageTranslate: a stage-1 Device alignment fault
   * comes before any stage-2 fault of the access).
   */
  walk(va: bigint, kind: AccessKind, el: number, unaligned = false): Translation {
    this.walks++;
    if (el === 2) {
      // The EL2 regime with SCTLR_EL2.M = 0, as exitlab's hyp runs (hyp/): flat, data accesses
      // Device (aligned only), fetches Normal; no stage 2 (Arm ARM D5.2.9, "The effects of
      // disabling a stage of address translation").
      if (va >> BigInt(PA_BITS)) throw new MmuFault(1, "addressSize", 0, va, 0, false);
      if (unaligned && kind !== "fetch") throw new MmuFault(1, "alignment", 0, va, 0, false);
      const attrs = kind === "fetch" ? NORMAL_WB : DEVICE;
      return { pa: Number(va), ipa: Number(va), s1: attrs, s2: attrs, final: attrs, s1Shift: 12 };
    }
    const r = this.regs();
    const s1 = this.stage1(r, va, kind, el);
    if (unaligned && kind !== "fetch" && s1.attrs.device) throw new MmuFault(1, "alignment", 0, va, 0, false);
    const s2 = this.stage2Cached(r, s1.ipa, kind, va, false);
    if (unaligned && kind !== "fetch" && s2.attrs.device) throw new MmuFault(2, "alignment", 0, va, s1.ipa, false);
    return { pa: s2.pa, ipa: s1.ipa, s1: s1.attrs, s2: s2.attrs, final: combineS1S2(s1.attrs, s2.attrs), s1Shift: s1.shift };
  }

  /** stage2() through the walk cache (faults are never cached). */
  private stage2Cached(r: MmuRegisters, ipa: number, kind: AccessKind, va: bigint, s1ptw: boolean): { pa: number; attrs: MemAttrs } {
    const off = ipa % 4096;
    const key = (ipa - off) / 4096 * 4 + (kind === "read" ? 0 : kind === "write" ? 1 : 2);
    const hit = this.s2cache.get(key);
    if (hit) return { pa: hit.pa + off, attrs: hit.attrs };
    const t = this.stage2(r, ipa, kind, va, s1ptw);
    this.s2cache.set(key, { pa: t.pa - off, attrs: t.attrs });
    return t;
  }

  private stage1(r: MmuRegisters, va: bigint, kind: AccessKind, el: number): { ipa: number; attrs: MemAttrs; shift: number } {
    const sctlr = r.SCTLR_EL1;
    const dc = (r.HCR_EL2 >> 12n) & 1n;
    if (!(sctlr & 1n)) {
      // Stage 1 off: flat, Device for data and Normal (cacheable iff SCTLR.I) for fetches; HCR_EL2.DC makes both Normal WB.
      if (va >> BigInt(PA_BITS)) throw new MmuFault(1, "addressSize", 0, va, 0, false);
      const attrs = dc ? NORMAL_WB : kind === "fetch" ? ((sctlr >> 12n) & 1n ? NORMAL_WB : NORMAL_NC) : DEVICE;
      return { ipa: Number(va), attrs, shift: 12 };
    }
    const tcr = r.TCR_EL1;
    const upper = (va >> 63n) & 1n;
    const tsz = upper ? bitsOf(tcr, 16, 6) : bitsOf(tcr, 0, 6);
    const inputSize = 64 - tsz;
    const top = va >> BigInt(inputSize);
    if (upper ? top !== (1n << BigInt(tsz)) - 1n : top !== 0n) throw new MmuFault(1, "translation", 0, va, 0, false);
    if (upper ? (tcr >> 23n) & 1n : (tcr >> 7n) & 1n) throw new MmuFault(1, "translation", 0, va, 0, false); // EPDn
    const tg = upper ? bitsOf(tcr, 30, 2) : bitsOf(tcr, 14, 2);
    const g = upper ? (tg === 3 ? G64K : G4K) : tg === 1 ? G64K : G4K; // 16K granules are not implemented (ID_AA64MMFR0_EL1.TGran16 = 0)
    const ttbr = upper ? r.TTBR1_EL1 : r.TTBR0_EL1;
    const start = 4 - Math.ceil((inputSize - g.shift) / g.bits);
    let table = Number(ttbr & ADDR48 & ~1n);
    for (let level = start; level <= 3; level++) {
      const sh = levelShift(g, level);
      const idxBits = level === start ? inputSize - sh : g.bits;
      const index = Number((va >> BigInt(sh)) & ((1n << BigInt(idxBits)) - 1n));
      const descIpa = table + index * 8;
      // The descriptor read is itself translated by stage 2 (a fault there is S1PTW).
      const descPa = this.stage2Cached(r, descIpa, "read", va, true).pa;
      const desc = this.guest.read(descPa, 8);
      const type = Number(desc & 3n);
      if (!(type & 1)) throw new MmuFault(1, "translation", level, va, 0, false);
      const isTable = type === 3 && level < 3;
      if (isTable) {
        table = Number(desc & ADDR48 & ~BigInt((1 << g.shift) - 1));
        continue;
      }
      if (type === 1 && !g.blockLevels.includes(level)) throw new MmuFault(1, "translation", level, va, 0, false);
      // Leaf: block or page.
      if (!((desc >> 10n) & 1n)) throw new MmuFault(1, "accessFlag", level, va, 0, false);
      const ap = bitsOf(desc, 6, 2);
      const pxn = (desc >> 53n) & 1n;
      const uxn = (desc >> 54n) & 1n;
      const denied = (el === 0 && !(ap & 1)) || (kind === "write" && ap & 2) || (kind === "fetch" && (el === 0 ? uxn : pxn));
      if (denied) throw new MmuFault(1, "permission", level, va, 0, false);
      const outMask = ADDR48 & ~((1n << BigInt(sh)) - 1n);
      const ipa = Number((desc & outMask) | (va & ((1n << BigInt(sh)) - 1n)));
      let attrs = mairAttrs(Number((r.MAIR_EL1 >> BigInt(8 * bitsOf(desc, 2, 3))) & 0xffn));
      // SCTLR_EL1.C = 0: data accesses to Normal memory are Non-cacheable; SCTLR_EL1.I = 0 likewise for fetches.
      const cacheOn = kind === "fetch" ? (sctlr >> 12n) & 1n : (sctlr >> 2n) & 1n;
      if (!attrs.device && !cacheOn) attrs = NORMAL_NC;
      return { ipa, attrs, shift: sh };
    }
    throw new MmuFault(1, "translation", 3, va, 0, false);
  }

  /** IPA → PA by the stage-2 tables (identity attributes when HCR_EL2.VM = 0). */
  stage2(r: MmuRegisters, ipa: number, kind: AccessKind, va: bigint, s1ptw: boolean): { pa: number; attrs: MemAttrs } {
    if (!(r.HCR_EL2 & 1n)) return { pa: ipa, attrs: NORMAL_WB };
    const vtcr = r.VTCR_EL2;
    const t0sz = bitsOf(vtcr, 0, 6);
    const sl0 = bitsOf(vtcr, 6, 2);
    const g = bitsOf(vtcr, 14, 2) === 1 ? G64K : G4K;
    const inputSize = 64 - t0sz;
    const start = g === G64K ? 3 - sl0 : 2 - sl0;
    if (ipa >= 2 ** inputSize) throw new MmuFault(2, "translation", start, va, ipa, s1ptw);
    let table = Number(r.VTTBR_EL2 & ADDR48 & ~1n);
    const bipa = BigInt(ipa);
    for (let level = start; level <= 3; level++) {
      const sh = levelShift(g, level);
      const idxBits = level === start ? inputSize - sh : g.bits;
      const index = Number((bipa >> BigInt(sh)) & ((1n << BigInt(idxBits)) - 1n));
      const desc = this.host.read(table + index * 8, 8);
      const type = Number(desc & 3n);
      if (!(type & 1)) throw new MmuFault(2, "translation", level, va, ipa, s1ptw);
      if (type === 3 && level < 3) {
        table = Number(desc & ADDR48 & ~BigInt((1 << g.shift) - 1));
        continue;
      }
      if (type === 1 && !g.blockLevels.includes(level)) throw new MmuFault(2, "translation", level, va, ipa, s1ptw);
      if (!((desc >> 10n) & 1n)) throw new MmuFault(2, "accessFlag", level, va, ipa, s1ptw);
      const s2ap = bitsOf(desc, 6, 2);
      const xn = (desc >> 54n) & 1n;
      if ((kind === "write" ? !(s2ap & 2) : !(s2ap & 1)) || (kind === "fetch" && xn)) throw new MmuFault(2, "permission", level, va, ipa, s1ptw);
      const outMask = ADDR48 & ~((1n << BigInt(sh)) - 1n);
      const pa = Number((desc & outMask) | (bipa & ((1n << BigInt(sh)) - 1n)));
      let attrs = s2Attrs(bitsOf(desc, 2, 4));
      // HCR_EL2.CD / ID force stage-2 data / instruction accesses to Non-cacheable.
      if (!attrs.device && ((kind === "fetch" ? r.HCR_EL2 >> 33n : r.HCR_EL2 >> 32n) & 1n)) attrs = NORMAL_NC;
      return { pa, attrs };
    }
    throw new MmuFault(2, "translation", 3, va, ipa, s1ptw);
  }
}
