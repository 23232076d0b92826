// The MMIO bus: device regions with read/write callbacks, looked up by guest-physical address.
// KVM hands an emulated MMIO access here after decoding it from the exit information.

import { hex, rangesOverlap } from "./bits.js";
import { GuestMemoryError } from "./errors.js";

export interface MmioDevice {
  readonly name: string;
  /** Read `size` bytes at `offset` from the region base. */
  read(offset: number, size: number): bigint;
  /** Write the low `size` bytes of `value` at `offset`. */
  write(offset: number, size: number, value: bigint): void;
  /** Emulated by the hypervisor's kernel (KVM's kvm_io_bus: the vGIC distributor, x86's local APIC and I/O APIC), not by the VMM in user space. */
  readonly inKernel?: boolean;
}

export interface MmioRegion {
  base: number;
  size: number;
  device: MmioDevice;
}

export class MmioBus {
  readonly regions: MmioRegion[] = [];

  add(base: number, size: number, device: MmioDevice): void {
    for (const r of this.regions) {
      if (rangesOverlap(base, size, r.base, r.size)) {
        throw new GuestMemoryError(`MMIO region ${device.name} at ${hex(base)} overlaps ${r.device.name}`);
      }
    }
    this.regions.push({ base, size, device });
  }

  /** Take the region at `base` off the bus (a device replaced: a VM's new vGIC). */
  remove(base: number): void {
    const i = this.regions.findIndex((r) => r.base === base);
    if (i >= 0) this.regions.splice(i, 1);
  }

  find(pa: number): MmioRegion | undefined {
    for (const r of this.regions) if (pa >= r.base && pa < r.base + r.size) return r;
    return undefined;
  }

  read(pa: number, size: number): bigint {
    const r = this.find(pa);
    if (!r) throw new GuestMemoryError(`no device at guest-physical address ${hex(pa)}`);
    return r.device.read(pa - r.base, size);
  }

  write(pa: number, size: number, value: bigint): void {
    const r = this.find(pa);
    if (!r) throw new GuestMemoryError(`no device at guest-physical address ${hex(pa)}`);
    r.device.write(pa - r.base, size, value);
  }
}
