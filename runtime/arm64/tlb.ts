// The fast path of guest memory for compiled code: a direct-mapped software TLB per access kind
// (read, write, fetch) from a virtual page (and EL0/EL1) to the guest RAM page backing it, as
// arrays, not Maps. Only accesses that translated without a fault to allocated RAM are cached;
// everything else (misses, MMIO, faults, page-crossing accesses) takes the CPU's full path
// (stage 1 + stage 2 walk, syndromes, the MMIO bus), which then fills the entry. Entries are
// dropped whenever the CPU's MMU flushes (TLB maintenance, translation registers, stage-2 changes).
// Write entries are never made for pages that hold compiled code, so that every write to such a
// page goes through GuestMemory and invalidates the code (self-modifying code, loaders).
// Alignment (Arm ARM B2.5.2): an aligned access never faults for alignment and never crosses a
// page, so it is the whole fast path; an unaligned one uses an entry only when the entry is not
// Device memory, the access is not exclusive/acquire-release, and SCTLR_EL1.A is clear — else the
// CPU's full path raises the Alignment fault.

import { REG, join64, type A64State } from "./state.js";
import type { A64MemAccess } from "./env.js";
import type { MemPort } from "./isa/block.js";
import type { GuestMemory } from "../core/memory.js";

const ENTRIES = 256;

/** The slow path the TLB falls back to (the CPU). */
export interface SlowMemory {
  load(va: bigint, a: A64MemAccess): bigint;
  store(va: bigint, value: bigint, a: A64MemAccess): void;
  /** VA → PA for an access, raising the architectural fault (throws). */
  translateFor(va: bigint, kind: "read" | "write" | "fetch", a?: A64MemAccess): number;
  /** The last translateFor was to Device memory. */
  readonly lastDevice: boolean;
  /** SCTLR_EL1.A: every unaligned data access faults. */
  readonly strictAlign: boolean;
  /** A watchpoint is enabled: no data entries (every access must be checked). */
  readonly watchArmed: boolean;
}

class Way {
  readonly tag = new Float64Array(ENTRIES).fill(-1);
  readonly view: (DataView | null)[] = new Array<DataView | null>(ENTRIES).fill(null);
  /** Guest-physical page number of the entry (for code-page eviction). */
  readonly ppn = new Float64Array(ENTRIES).fill(-1);
  /** 1 when the entry's memory is Device (unaligned accesses must take the slow path and fault). */
  readonly dev = new Uint8Array(ENTRIES);
  flush(): void {
    this.tag.fill(-1);
    this.view.fill(null);
    this.ppn.fill(-1);
  }
}

export class SoftTlb implements MemPort {
  private readonly rd = new Way();
  private readonly wr = new Way();
  private readonly fe = new Way();
  /** Guest-physical pages that hold compiled code (writes to them must take the slow path). */
  codePage: (ppn: number) => boolean = () => false;
  /** Called whenever entries are dropped (the engine's block links depend on fetch translations). */
  onChange: () => void = () => {};

  constructor(
    private readonly state: A64State,
    private readonly memory: GuestMemory,
    private readonly slow: SlowMemory,
  ) {}

  flush(): void {
    this.onChange();
    this.rd.flush();
    this.wr.flush();
    this.fe.flush();
  }

  /** Drop the entries of the 4 KiB virtual pages [first, first + count) (TLBI by VA). */
  invalidatePages(first: number, count: number): void {
    this.onChange();
    for (let vpn = first; vpn < first + count; vpn++) {
      const i = vpn & (ENTRIES - 1);
      for (const w of [this.rd, this.wr, this.fe]) {
        const t = w.tag[i]!;
        if (t === vpn * 2 || t === vpn * 2 + 1) (w.tag[i] = -1), (w.view[i] = null), (w.ppn[i] = -1);
      }
    }
  }

  /** Drop write entries for a page that now holds compiled code. */
  protectPage(ppn: number): void {
    const w = this.wr;
    for (let i = 0; i < ENTRIES; i++) if (w.ppn[i] === ppn) (w.tag[i] = -1), (w.view[i] = null), (w.ppn[i] = -1);
  }

  private tagOf(lo: number, hi: number): number {
    return ((hi >>> 0) * 0x100000 + (lo >>> 12)) * 2 + (this.state.el === 0 ? 1 : 0);
  }

  ld(lo: number, hi: number, a: A64MemAccess): number {
    const size = a.size;
    if ((lo & (size - 1)) === 0) {
      const i = (lo >>> 12) & (ENTRIES - 1);
      const v = this.rd.view[i];
      if (v != null && this.rd.tag[i] === this.tagOf(lo, hi)) {
        const off = lo & 0xfff;
        switch (size) {
          case 1: return v.getUint8(off);
          case 2: return v.getUint16(off, true);
          case 4: return v.getInt32(off, true);
          case 8: this.state.r[REG.T] = v.getInt32(off + 4, true); return v.getInt32(off, true);
        }
      }
      return this.ldSlow(lo, hi, a);
    }
    return this.ldUnaligned(lo, hi, a);
  }

  st(lo: number, hi: number, vlo: number, vhi: number, a: A64MemAccess): void {
    const size = a.size;
    if ((lo & (size - 1)) === 0) {
      const i = (lo >>> 12) & (ENTRIES - 1);
      const v = this.wr.view[i];
      if (v != null && this.wr.tag[i] === this.tagOf(lo, hi)) {
        const off = lo & 0xfff;
        switch (size) {
          case 1: v.setUint8(off, vlo); return;
          case 2: v.setUint16(off, vlo, true); return;
          case 4: v.setInt32(off, vlo, true); return;
          case 8: v.setInt32(off, vlo, true); v.setInt32(off + 4, vhi, true); return;
        }
      }
      return this.stSlow(lo, hi, vlo, vhi, a);
    }
    this.stUnaligned(lo, hi, vlo, vhi, a);
  }

  /** The entry of `way` an unaligned access may use: same page, not Device, not a must-align access, SCTLR_EL1.A clear. */
  private unalignedView(way: Way, lo: number, hi: number, a: A64MemAccess): DataView | null {
    if ((lo & 0xfff) + a.size > 0x1000 || a.mustAlign === true || this.slow.strictAlign) return null;
    const i = (lo >>> 12) & (ENTRIES - 1);
    const v = way.view[i]!;
    return v !== null && way.dev[i] === 0 && way.tag[i] === this.tagOf(lo, hi) ? v : null;
  }

  private ldUnaligned(lo: number, hi: number, a: A64MemAccess): number {
    const v = this.unalignedView(this.rd, lo, hi, a);
    if (v === null) return this.ldSlow(lo, hi, a);
    const off = lo & 0xfff;
    switch (a.size) {
      case 2: return v.getUint16(off, true);
      case 4: return v.getInt32(off, true);
      default: this.state.r[REG.T] = v.getInt32(off + 4, true); return v.getInt32(off, true);
    }
  }

  private stUnaligned(lo: number, hi: number, vlo: number, vhi: number, a: A64MemAccess): void {
    const v = this.unalignedView(this.wr, lo, hi, a);
    if (v === null) return this.stSlow(lo, hi, vlo, vhi, a);
    const off = lo & 0xfff;
    switch (a.size) {
      case 2: v.setUint16(off, vlo, true); return;
      case 4: v.setInt32(off, vlo, true); return;
      default: v.setInt32(off, vlo, true); v.setInt32(off + 4, vhi, true); return;
    }
  }

  /** Guest-physical address of the instruction at pc (fetch permission checked), or throws the fetch fault. */
  fetchPa(lo: number, hi: number): number {
    const i = (lo >>> 12) & (ENTRIES - 1);
    if ((lo & 3) === 0 && this.fe.view[i] !== null && this.fe.tag[i] === this.tagOf(lo, hi)) return this.fe.ppn[i]! * 0x1000 + (lo & 0xfff);
    const pa = this.slow.translateFor(join64(lo, hi), "fetch");
    this.fill(this.fe, lo, hi, pa, false);
    return pa;
  }

  private ldSlow(lo: number, hi: number, a: A64MemAccess): number {
    const va = join64(lo, hi);
    // The access first (its checks come in the architecture's order: alignment before translation), then the entry.
    const v = this.slow.load(va, a);
    if ((lo & 0xfff) + a.size <= 0x1000) this.fill(this.rd, lo, hi, this.slow.translateFor(va, "read", a), false);
    this.state.r[REG.T] = Number(v >> 32n) | 0;
    return Number(v & 0xffff_ffffn) | 0;
  }

  private stSlow(lo: number, hi: number, vlo: number, vhi: number, a: A64MemAccess): void {
    const va = join64(lo, hi);
    this.slow.store(va, BigInt.asUintN(a.size * 8, join64(vlo, vhi)), a);
    if ((lo & 0xfff) + a.size <= 0x1000) this.fill(this.wr, lo, hi, this.slow.translateFor(va, "write", a), true);
  }

  private fill(way: Way, lo: number, hi: number, pa: number, write: boolean): void {
    if (!this.memory.isRam(pa) || (way !== this.fe && this.slow.watchArmed)) return;
    const page = this.memory.allocatedPage(pa);
    if (!page) return;
    const ppn = Math.floor(pa / 0x1000);
    if (write && this.codePage(ppn)) return;
    const i = (lo >>> 12) & (ENTRIES - 1);
    way.tag[i] = this.tagOf(lo, hi);
    way.view[i] = new DataView(page.buffer, page.byteOffset, page.byteLength);
    way.ppn[i] = ppn;
    way.dev[i] = this.slow.lastDevice ? 1 : 0;
  }
}
