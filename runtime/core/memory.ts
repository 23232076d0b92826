// Guest-physical memory: RAM regions (KVM's memslots) backed by sparse 4 KiB pages allocated
// on first write, under a byte cap. Addresses are numbers (guest-physical addresses fit 52 bits).

import { GuestMemoryError } from "./errors.js";
import { hex, rangesOverlap } from "./bits.js";

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

export interface RamRegion {
  name: string;
  base: number;
  size: number;
}

export interface GuestMemoryOptions {
  /** Most bytes of backing pages that may be allocated (default 256 MiB). */
  capBytes?: number;
}

export class GuestMemory {
  readonly regions: RamRegion[] = [];
  readonly capBytes: number;
  private readonly pages = new Map<number, Uint8Array>();
  /** Called after every write with the page number and the bytes written (code caches listen here). */
  onWrite: ((pageNumber: number, pa: number, size: number) => void) | null = null;

  constructor(options: GuestMemoryOptions = {}) {
    this.capBytes = options.capBytes ?? 256 * 1024 * 1024;
  }

  addRegion(region: RamRegion): void {
    for (const r of this.regions) {
      if (rangesOverlap(region.base, region.size, r.base, r.size)) {
        throw new GuestMemoryError(`RAM region ${region.name} overlaps ${r.name}`);
      }
    }
    this.regions.push(region);
  }

  /** The RAM region holding `pa`, or undefined (then it is MMIO or nothing). */
  regionOf(pa: number): RamRegion | undefined {
    for (const r of this.regions) if (pa >= r.base && pa < r.base + r.size) return r;
    return undefined;
  }

  isRam(pa: number): boolean {
    return this.regionOf(pa) !== undefined;
  }

  get allocatedBytes(): number {
    return this.pages.size * PAGE_SIZE;
  }

  /** The backing page holding `pa` if it is allocated (fast paths cache it; pages are never freed). */
  allocatedPage(pa: number): Uint8Array | undefined {
    return this.pages.get(Math.floor(pa / PAGE_SIZE));
  }

  private page(pa: number, forWrite: boolean): Uint8Array | undefined {
    const pn = Math.floor(pa / PAGE_SIZE);
    let p = this.pages.get(pn);
    if (p) return p;
    if (!this.isRam(pa)) throw new GuestMemoryError(`guest-physical address ${hex(pa)} is not RAM`);
    if (!forWrite) return undefined;
    if (this.allocatedBytes + PAGE_SIZE > this.capBytes) {
      throw new GuestMemoryError(
        `guest memory cap of ${this.capBytes} bytes reached writing ${hex(pa)}`,
        "raise the memory cap (MachineOptions.memoryCapBytes of createMachine; GuestMemoryOptions.capBytes)",
      );
    }
    p = new Uint8Array(PAGE_SIZE);
    this.pages.set(pn, p);
    return p;
  }

  readByte(pa: number): number {
    const p = this.page(pa, false);
    return p ? p[(pa - Math.floor(pa / PAGE_SIZE) * PAGE_SIZE)]! : 0;
  }

  writeByte(pa: number, value: number): void {
    this.page(pa, true)![(pa - Math.floor(pa / PAGE_SIZE) * PAGE_SIZE)] = value & 0xff;
    this.onWrite?.(Math.floor(pa / PAGE_SIZE), pa, 1);
  }

  /** Little-endian read of 1, 2, 4 or 8 bytes. */
  read(pa: number, size: number): bigint {
    const off = (pa - Math.floor(pa / PAGE_SIZE) * PAGE_SIZE);
    if (off + size <= PAGE_SIZE) {
      const p = this.page(pa, false);
      if (!p) return 0n;
      let v = 0n;
      for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(p[off + i]!);
      return v;
    }
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.readByte(pa + i));
    return v;
  }

  /** 32-bit little-endian read as a number (instruction fetch). */
  read32(pa: number): number {
    const off = pa - Math.floor(pa / PAGE_SIZE) * PAGE_SIZE; // % on a double above 2^31 is a slow fmod
    if (off + 4 <= PAGE_SIZE) {
      const p = this.page(pa, false);
      if (!p) return 0;
      return (p[off]! | (p[off + 1]! << 8) | (p[off + 2]! << 16) | (p[off + 3]! << 24)) >>> 0;
    }
    return Number(this.read(pa, 4));
  }

  /** Little-endian write of 1, 2, 4 or 8 bytes. */
  write(pa: number, size: number, value: bigint): void {
    const off = (pa - Math.floor(pa / PAGE_SIZE) * PAGE_SIZE);
    if (off + size <= PAGE_SIZE) {
      const p = this.page(pa, true)!;
      let v = value;
      for (let i = 0; i < size; i++) {
        p[off + i] = Number(v & 0xffn);
        v >>= 8n;
      }
      this.onWrite?.(Math.floor(pa / PAGE_SIZE), pa, size);
      return;
    }
    let v = value;
    for (let i = 0; i < size; i++) {
      this.writeByte(pa + i, Number(v & 0xffn));
      v >>= 8n;
    }
  }

  /**
   * `length` bytes from guest-physical `pa` on, a page at a time (unallocated pages read as zero).
   * Throws GuestMemoryError at the first byte that is not RAM.
   */
  readBytes(pa: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.chunks(pa, length, (at, off, n, done) => {
      const p = this.page(at, false);
      if (p) out.set(p.subarray(off, off + n), done);
    });
    return out;
  }

  /**
   * Copy `bytes` to guest-physical `pa` on, a page at a time: one copy and one onWrite per page
   * touched. Throws GuestMemoryError at the first byte that is not RAM, or when a new page would
   * pass the cap; the pages before it are written.
   */
  writeBytes(pa: number, bytes: Uint8Array): void {
    this.chunks(pa, bytes.length, (at, off, n, done) => {
      this.page(at, true)!.set(bytes.subarray(done, done + n), off);
      this.onWrite?.(Math.floor(at / PAGE_SIZE), at, n);
    });
  }

  /**
   * Clear `length` bytes from guest-physical `pa` on (an ELF segment's .bss). Pages never written
   * stay unallocated: they read as zero already. Throws GuestMemoryError at the first byte that is
   * not RAM.
   */
  zero(pa: number, length: number): void {
    this.chunks(pa, length, (at, off, n) => {
      this.page(at, false)?.fill(0, off, off + n);
      this.onWrite?.(Math.floor(at / PAGE_SIZE), at, n);
    });
  }

  /**
   * [pa, pa + length) cut at page and RAM-region ends: `visit(address, offset in its page, bytes,
   * bytes before it)` for each piece. A piece that starts outside RAM throws GuestMemoryError.
   */
  private chunks(pa: number, length: number, visit: (at: number, off: number, n: number, done: number) => void): void {
    let done = 0;
    while (done < length) {
      const at = pa + done;
      const region = this.regionOf(at);
      if (!region) throw new GuestMemoryError(`guest-physical address ${hex(at)} is not RAM`);
      const off = at % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, length - done, region.base + region.size - at);
      visit(at, off, n, done);
      done += n;
    }
  }
}
