// Port-I/O devices of the x86 machine, as the VMM (QEMU) would implement them: KVM passes the
// access to user space (KVM_EXIT_IO) when no in-kernel device claims the port.
import { rangesOverlap } from "../core/bits.js";


export interface PioDevice {
  readonly name: string;
  /** Emulated in the kernel (KVM's in-kernel PIC): KVM handles the access without KVM_EXIT_IO. */
  readonly inKernel?: boolean;
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
  /**
   * What the VMM does after the last access, when it does more than complete it (QEMU acting on a
   * request the write made: an ACPI sleep stops or resumes the vCPU); taken once.
   */
  takeAction?(): { action: "halt" | "resume"; message: string } | undefined;
}

export class PioBus {
  readonly ranges: { base: number; size: number; device: PioDevice }[] = [];

  add(base: number, size: number, device: PioDevice): void {
    for (const r of this.ranges) {
      if (rangesOverlap(base, size, r.base, r.size)) throw new Error(`port range of ${device.name} overlaps ${r.device.name}`);
    }
    this.ranges.push({ base, size, device });
  }

  find(port: number): { base: number; size: number; device: PioDevice } | undefined {
    return this.ranges.find((r) => port >= r.base && port < r.base + r.size);
  }

  /** A read from a port nobody decodes floats high (all ones), as on a PC. */
  read(port: number, size: number): number {
    const r = this.find(port);
    return r ? r.device.read(port - r.base, size) : size === 4 ? 0xffff_ffff : (1 << (8 * size)) - 1;
  }

  /** A write to a port nobody decodes is dropped. */
  write(port: number, size: number, value: number): void {
    const r = this.find(port);
    r?.device.write(port - r.base, size, value);
  }
}
