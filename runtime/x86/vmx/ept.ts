// Extended page tables: 4-level tables held in a model of host memory, walked by the "hardware" on
// every guest-physical access. Entry format: Intel SDM Vol. 3 28.2.2, Tables 28-1..28-6 (bit 0 read,
// bit 1 write, bit 2 execute, bits 5:3 memory type in leaves, bit 7 large page, bits 51:12 address).
// EPTP: SDM 24.6.11 (bits 2:0 memory type, 5:3 page-walk length - 1, 6 A/D enable, 51:12 PML4).
// Violations report the access and the AND of the permissions along the walk (SDM 27.2.1 Table 27-7).

import { HostMemory } from "../../core/host-memory.js";

export { HostMemory };

export const EPT_READ = 1;
export const EPT_WRITE = 2;
export const EPT_EXEC = 4;
export const EPT_RWX = 7;
/** Write-back memory type in leaf bits 5:3 (KVM: VMX_EPT_DEFAULT_MT << VMX_EPT_MT_EPTE_SHIFT). */
export const EPT_MT_WB = 6 << 3;
/**
 * Ignore-PAT, leaf bit 6 (SDM Vol. 3 Table 28-6 / 29-6). KVM's vmx_get_mt_mask sets it with WB for
 * RAM when no non-coherent DMA is assigned: v4.1 `(MTRR_TYPE_WRBACK << VMX_EPT_MT_EPTE_SHIFT) |
 * VMX_EPT_IPAT_BIT`, and today's vmx/vmx.c the same.
 */
export const EPT_IPAT = 1 << 6;
const LARGE = 1n << 7n;
const ADDR_MASK = ((1n << 52n) - 1n) & ~0xfffn;

export type EptAccess = "read" | "write" | "fetch";

export interface EptWalk {
  ok: boolean;
  hpa: number;
  /** AND of the R/W/X bits of the entries walked (0 if an entry was not present). */
  perms: number;
  misconfig: boolean;
  /** Level that was not present (4 = PML4 ... 1 = PT), 0 if the walk completed. */
  missingLevel: number;
}

/** A cached leaf translation: valid while `generation` is the cache's (flush bumps it). */
interface EptCacheEntry {
  generation: number;
  hpaPage: number;
  perms: number;
}

/** Slots of the leaf cache's direct-mapped front (Ept.dmGfn): 128 MiB of guest frames without a collision. */
const DM_SLOTS = 32768;

/** Bytes one entry of each level maps (level 1 = PT ... 4 = PML4). */
const LEVEL_SPAN = [0, 2 ** 12, 2 ** 21, 2 ** 30, 2 ** 39] as const;

export class Ept {
  /**
   * Cached leaf translations by guest frame number, dropped whenever the tables change or KVM
   * invalidates them (INVEPT). Entries of an older generation are dead and refilled in place.
   */
  private readonly tlb = new Map<number, EptCacheEntry>();
  private generation = 0;
  /**
   * A direct-mapped front of `tlb` (slot gfn mod DM_SLOTS): the entry object the Map holds for the
   * gfn in dmGfn (-1: none). A guest striding through all of its RAM (kvm-unit-tests' apic
   * test touches a new page per pass of a loop) then finds its entry by index instead of hashing
   * into a Map of tens of thousands. Kept in step with the Map: set with it, emptied with it.
   */
  private readonly dmGfn = new Float64Array(DM_SLOTS).fill(-1);
  private readonly dmEntry: (EptCacheEntry | null)[] = new Array<EptCacheEntry | null>(DM_SLOTS).fill(null);

  /** The cached entry of guest frame `gfn` (any generation), through the direct-mapped front. */
  private entryOf(gfn: number): EptCacheEntry | undefined {
    const i = gfn & (DM_SLOTS - 1);
    if (this.dmGfn[i] === gfn) return this.dmEntry[i]!;
    const e = this.tlb.get(gfn);
    if (e !== undefined) (this.dmGfn[i] = gfn), (this.dmEntry[i] = e);
    return e;
  }
  constructor(
    readonly host: HostMemory,
    /** EPTP value (SDM 24.6.11). */
    public eptp: bigint,
  ) {}

  static create(host: HostMemory): Ept {
    const root = host.allocPage();
    // Write-back (6), 4-level walk (3 << 3), root address — KVM's construct_eptp without A/D bits.
    return new Ept(host, BigInt(root) | 6n | (3n << 3n));
  }

  get root(): number {
    return Number(this.eptp & ADDR_MASK);
  }

  /** Bumped whenever the tables change (the CPU's translation caches compare it). */
  version = 0;

  flush(): void {
    this.generation++;
    if (this.tlb.size > 4096) this.tlb.clear(), this.dmGfn.fill(-1);
    this.version++;
  }

  private entry(table: number, index: number): bigint {
    return this.host.memory.read(table + index * 8, 8);
  }

  /**
   * The host page (a page-aligned host-physical address) the cached translation of guest frame
   * `gfn` gives for an access needing `need` (EPT_READ, EPT_WRITE or EPT_EXEC), or -1: walk()
   * decides. Allocates nothing (the CPU asks on every walk of the guest's tables).
   */
  cachedHostPage(gfn: number, need: number): number {
    const hit = this.entryOf(gfn);
    return hit !== undefined && hit.generation === this.generation && (hit.perms & need) !== 0 ? hit.hpaPage : -1;
  }

  /**
   * Walk the tables for `gpa` (SDM Vol. 3 28.2.2): entries read as two 32-bit halves (no BigInt),
   * R/W/X ANDed along the walk; a leaf allowing the access is cached.
   */
  walk(gpa: number, access: EptAccess): EptWalk {
    const gfn = Math.floor(gpa / 4096);
    const need = access === "read" ? EPT_READ : access === "write" ? EPT_WRITE : EPT_EXEC;
    const hit = this.entryOf(gfn);
    if (hit !== undefined && hit.generation === this.generation && hit.perms & need) return { ok: true, hpa: hit.hpaPage + (gpa - gfn * 4096), perms: hit.perms, misconfig: false, missingLevel: 0 };
    const memory = this.host.memory;
    let table = this.root;
    let perms = EPT_RWX;
    for (let level = 4; level >= 1; level--) {
      const span = LEVEL_SPAN[level]!;
      const at = table + (Math.floor(gpa / span) & 511) * 8;
      const lo = memory.read32(at);
      const hi = memory.read32(at + 4);
      const p = lo & 7;
      if (p === 0) return { ok: false, hpa: 0, perms: 0, misconfig: false, missingLevel: level };
      if ((p & 3) === EPT_WRITE) return { ok: false, hpa: 0, perms: 0, misconfig: true, missingLevel: 0 };
      perms &= p;
      // Bits 51:12: the next table or the page.
      const address = (hi & 0xf_ffff) * 4294967296 + ((lo & 0xffff_f000) >>> 0);
      const leaf = level === 1 || ((level === 2 || level === 3) && (lo & 0x80) !== 0);
      if (leaf) {
        const within = gpa - Math.floor(gpa / span) * span;
        const hpa = address - (address % span) + within;
        if ((perms & need) === 0) return { ok: false, hpa: 0, perms, misconfig: false, missingLevel: 0 };
        const hpaPage = hpa - (gpa - gfn * 4096);
        if (hit !== undefined) (hit.generation = this.generation), (hit.hpaPage = hpaPage), (hit.perms = perms);
        else {
          const e = { generation: this.generation, hpaPage, perms };
          this.tlb.set(gfn, e);
          const i = gfn & (DM_SLOTS - 1);
          (this.dmGfn[i] = gfn), (this.dmEntry[i] = e);
        }
        return { ok: true, hpa, perms, misconfig: false, missingLevel: 0 };
      }
      table = address;
    }
    throw new Error("unreachable");
  }

  /** Map one 4 KiB guest page (KVM's __direct_map at PT_PAGE_TABLE_LEVEL), allocating tables as needed. */
  map4k(gpa: number, hpa: number, perms: number): { tablesAllocated: number } {
    let table = this.root;
    let allocated = 0;
    const g = BigInt(gpa);
    for (let level = 4; level >= 2; level--) {
      const shift = 12 + 9 * (level - 1);
      const index = Number((g >> BigInt(shift)) & 0x1ffn);
      let e = this.entry(table, index);
      if ((e & 7n) === 0n) {
        const t = this.host.allocPage();
        allocated++;
        e = BigInt(t) | BigInt(EPT_RWX); // non-leaf entries allow everything; the leaf decides
        this.host.memory.write(table + index * 8, 8, e);
      }
      table = Number(e & ADDR_MASK);
    }
    const index = Number((g >> 12n) & 0x1ffn);
    const leaf = (BigInt(hpa) & ADDR_MASK) | BigInt(perms & 7) | BigInt(EPT_MT_WB | EPT_IPAT);
    this.host.memory.write(table + index * 8, 8, leaf);
    this.flush();
    return { tablesAllocated: allocated };
  }

  /**
   * KVM's MMIO spte for a guest page without a memslot: write+execute without read, an EPT
   * misconfiguration (SDM 28.2.3.1), so the next access exits with EPT_MISCONFIG (ept_set_mmio_spte_mask).
   */
  markMmio(gpa: number): void {
    const page = gpa - (gpa % 4096);
    this.map4k(page, 0, EPT_RWX);
    let table = this.root;
    const g = BigInt(page);
    for (let level = 4; level >= 2; level--) {
      const index = Number((g >> BigInt(12 + 9 * (level - 1))) & 0x1ffn);
      table = Number(this.entry(table, index) & ADDR_MASK);
    }
    this.host.memory.write(table + Number((g >> 12n) & 0x1ffn) * 8, 8, BigInt(EPT_WRITE | EPT_EXEC));
    this.flush();
  }

  /**
   * Zap the 4 KiB leaf mapping guest page `gpa` (KVM's MMU notifier, kvm_unmap_gfn_range, when the
   * host mapping of the page changes): the next access is an EPT violation that maps it again.
   * Returns whether a leaf was present. Tables stay; a large page is not split (none are mapped).
   */
  unmap4k(gpa: number): boolean {
    let table = this.root;
    const g = BigInt(gpa - (gpa % 4096));
    for (let level = 4; level >= 2; level--) {
      const e = this.entry(table, Number((g >> BigInt(12 + 9 * (level - 1))) & 0x1ffn));
      if ((e & 7n) === 0n || (e & LARGE) !== 0n) return false;
      table = Number(e & ADDR_MASK);
    }
    const at = table + Number((g >> 12n) & 0x1ffn) * 8;
    if (this.host.memory.read(at, 8) === 0n) return false;
    this.host.memory.write(at, 8, 0n);
    this.flush();
    return true;
  }

  /** The leaf entry for a guest page, or 0n (for `show ept`). */
  leaf(gpa: number): bigint {
    let table = this.root;
    const g = BigInt(gpa);
    for (let level = 4; level >= 1; level--) {
      const index = Number((g >> BigInt(12 + 9 * (level - 1))) & 0x1ffn);
      const e = this.entry(table, index);
      if ((e & 7n) === 0n) return 0n;
      if (level === 1 || (e & LARGE) !== 0n) return e;
      table = Number(e & ADDR_MASK);
    }
    return 0n;
  }

  /** Every mapped 4 KiB leaf: [gpa, entry]. */
  mappings(): [number, bigint][] {
    const out: [number, bigint][] = [];
    const visit = (table: number, level: number, base: number) => {
      for (let i = 0; i < 512; i++) {
        const e = this.entry(table, i);
        if ((e & 7n) === 0n) continue;
        const gpa = base + i * 2 ** (12 + 9 * (level - 1));
        if (level === 1 || (e & LARGE) !== 0n) out.push([gpa, e]);
        else visit(Number(e & ADDR_MASK), level - 1, gpa);
      }
    };
    visit(this.root, 4, 0);
    return out;
  }
}
