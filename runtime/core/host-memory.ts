// Host-physical memory for the hypervisor's own structures (EPT and stage-2 tables, I/O and MSR
// bitmaps), separate from guest RAM so the walkers read real table entries that KVM wrote.

import { GuestMemory } from "./memory.js";
import { GuestMemoryError } from "./errors.js";

export class HostMemory {
  readonly memory: GuestMemory;
  private next: number;
  constructor(readonly base = 0x1_0000_0000, size = 64 * 1024 * 1024) {
    this.memory = new GuestMemory({ capBytes: size });
    this.memory.addRegion({ name: "host", base, size });
    this.next = base;
  }

  /** `count` zeroed, contiguous 4 KiB host pages (like KVM's __get_free_pages). */
  allocPage(count = 1): number {
    return this.alloc(count * 4096, 4096);
  }

  /** `bytes` zeroed bytes aligned to `align` (a power of two, at least 4 KiB). */
  alloc(bytes: number, align: number): number {
    const pa = Math.ceil(this.next / align) * align;
    if (pa + bytes > this.base + this.memory.capBytes) throw new GuestMemoryError("host memory model exhausted");
    this.next = pa + bytes;
    for (let off = 0; off < bytes; off += 4096) this.memory.writeByte(pa + off, 0); // materialise the pages
    return pa;
  }
}
