// KVM's stage-2 page tables for one VM (Linux v4.1 arch/arm/kvm/mmu.c: kvm_alloc_stage2_pgd,
// stage2_set_pte, stage2_flush_vm), held in host memory and walked by the hardware model (mmu.ts).
// The host's PAGE_SIZE is the stage-2 granule: distribution arm64 kernels of 2015 used 64 KiB
// pages, so each fault mapped 64 KiB; a 4 KiB host maps 4 KiB per fault.
// Layout facts: Arm ARM D5.3 (stage-2 descriptors: MemAttr 5:2, S2AP 7:6, SH 9:8, AF 10, XN 54)
// and D13.2 VTCR_EL2 (T0SZ, SL0, TG0, PS); KVM's VTCR_EL2_FLAGS (arch/arm64/include/asm/kvm_arm.h).

import { HostMemory } from "../../core/host-memory.js";

export type Granule = "4k" | "64k";
export const GRANULE_BYTES: Record<Granule, number> = { "4k": 4096, "64k": 65536 };

/** PAGE_S2 for RAM: Normal outer/inner write-back (MemAttr 0xf), S2AP read/write, inner shareable, AF. */
export const S2_RAM_ATTRS = (0xfn << 2n) | (3n << 6n) | (3n << 8n) | (1n << 10n);
const DESC_TABLE = 3n;
const DESC_PAGE = 3n;
const IPA_BITS = 40; // KVM_PHYS_SHIFT in Linux v4.1

interface Geometry {
  shift: number;
  bits: number;
  startLevel: number;
  vtcr: bigint;
}

/**
 * VTCR_EL2 as KVM v4.1 set it: T0SZ = 24 (40-bit IPA), SL0 = 1, IRGN0/ORGN0 write-back
 * write-allocate, SH0 inner shareable, PS = 40 bits, TG0 per granule. SL0 = 1 starts the walk at
 * level 1 with 4 KiB pages (two concatenated level-1 tables) and at level 2 with 64 KiB pages.
 */
function geometry(g: Granule): Geometry {
  const common = BigInt(64 - IPA_BITS) | (1n << 6n) | (1n << 8n) | (1n << 10n) | (3n << 12n) | (2n << 16n);
  return g === "64k"
    ? { shift: 16, bits: 13, startLevel: 2, vtcr: common | (1n << 14n) }
    : { shift: 12, bits: 9, startLevel: 1, vtcr: common };
}

export interface Stage2Mapping {
  ipa: number;
  size: number;
  descriptor: bigint;
}

export class Stage2 {
  readonly host: HostMemory;
  readonly geo: Geometry;
  readonly root: number;
  /** Bytes of guest RAM mapped so far (what stage2_flush_vm has to clean; device pages are not cleaned). */
  mappedBytes = 0;
  private readonly leaves = new Map<number, Stage2Mapping>();

  constructor(host: HostMemory, readonly granule: Granule, readonly vmid = 1) {
    this.host = host;
    this.geo = geometry(granule);
    const levelShift = this.levelShift(this.geo.startLevel);
    const rootBytes = 8 * 2 ** (IPA_BITS - levelShift);
    this.root = host.alloc(Math.max(rootBytes, 1 << this.geo.shift), Math.max(rootBytes, 1 << this.geo.shift));
  }

  get pageSize(): number {
    return GRANULE_BYTES[this.granule];
  }

  get vtcr(): bigint {
    return this.geo.vtcr;
  }

  /** VTTBR_EL2: VMID 55:48, table base. */
  get vttbr(): bigint {
    return (BigInt(this.vmid) << 48n) | BigInt(this.root);
  }

  private levelShift(level: number): number {
    return this.geo.shift + this.geo.bits * (3 - level);
  }

  isMapped(ipa: number): boolean {
    return this.leaves.has(Math.floor(ipa / this.pageSize));
  }

  /** Map the stage-2 page holding `ipa` to the same host address (memslot pages are modelled in place). */
  mapPage(ipa: number, attrs = S2_RAM_ATTRS): Stage2Mapping {
    const mem = this.host.memory;
    const page = ipa - (ipa % this.pageSize);
    let table = this.root;
    for (let level = this.geo.startLevel; level < 3; level++) {
      const sh = this.levelShift(level);
      const idxBits = level === this.geo.startLevel ? IPA_BITS - sh : this.geo.bits;
      const index = Math.floor(page / 2 ** sh) % 2 ** idxBits;
      const at = table + index * 8;
      let desc = mem.read(at, 8);
      if (!(desc & 1n)) {
        const next = this.host.alloc(1 << this.geo.shift, 1 << this.geo.shift);
        desc = BigInt(next) | DESC_TABLE;
        mem.write(at, 8, desc);
      }
      table = Number(desc & ((1n << 48n) - 1n) & ~BigInt((1 << this.geo.shift) - 1));
    }
    const index = Math.floor(page / this.pageSize) % 2 ** this.geo.bits;
    const descriptor = BigInt(page) | attrs | DESC_PAGE;
    mem.write(table + index * 8, 8, descriptor);
    const m = { ipa: page, size: this.pageSize, descriptor };
    if (!this.leaves.has(page / this.pageSize) && attrs === S2_RAM_ATTRS) this.mappedBytes += this.pageSize;
    this.leaves.set(page / this.pageSize, m);
    return m;
  }

  mappings(): Stage2Mapping[] {
    return [...this.leaves.values()].sort((a, b) => a.ipa - b.ipa);
  }
}
