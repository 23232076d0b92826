// The xAPIC MMIO windows of a VM's local APICs. Each vCPU's APIC answers at the 4 KiB page its
// own IA32_APIC_BASE names (SDM Vol. 3 11.4.5 "Relocating the Local APIC Registers"): KVM keeps
// apic->base_address from the MSR (kvm_lapic_set_base; today __kvm_apic_set_base) and looks an
// access up for the vCPU that makes it (vcpu_mmio_read/write → apic_mmio_in_range: base_address
// ≤ addr < base_address + LAPIC_MMIO_LENGTH, and an APIC that is hardware-enabled in xAPIC mode),
// before the VM's other in-kernel devices. An access the accessing vCPU's APIC does not claim goes
// on to user space; here it reads all ones and a write is dropped, as this model already treats
// the default page of a disabled APIC or one in x2APIC mode (lapic.ts read).
// The bus holds one region per page some APIC is at (the default page always): the region asks
// the loaded vCPU's APIC whether the page is its own.
// Not modelled: KVM inhibits APICv VM-wide once an enabled APIC leaves 0xfee00000
// (APICV_INHIBIT_REASON_APIC_BASE_MODIFIED); here a vCPU with APICv keeps its APIC-access page.

import type { MmioBus, MmioDevice } from "../../core/bus.js";
import { APIC_DEFAULT_BASE } from "./registers.js";
import type { LocalApic } from "./lapic.js";

/** LAPIC_MMIO_LENGTH (Linux arch/x86/kvm/lapic.h): one 4 KiB page. */
export const LAPIC_MMIO_LENGTH = 0x1000;

/** The loaded vCPU's APIC and every APIC of the VM (one with one vCPU). */
export interface LapicWindowHost {
  loaded(): LocalApic;
  all(): readonly LocalApic[];
}

export class LapicWindows {
  /** Pages with a region on the bus, by base address. */
  private readonly mapped = new Set<number>();

  constructor(
    private readonly bus: MmioBus,
    private readonly host: LapicWindowHost,
  ) {
    this.map(APIC_DEFAULT_BASE);
  }

  /** The region of the page at `base`: the loaded vCPU's APIC when it is there (apic_mmio_in_range), else all ones. */
  private device(base: number): MmioDevice & { inKernel: true } {
    const host = this.host;
    return {
      name: "local APIC (in-kernel)",
      inKernel: true,
      read(offset, size) {
        const l = host.loaded();
        return l.baseAddress === base ? l.read(offset, size) : (1n << BigInt(8 * Math.min(size, 8))) - 1n;
      },
      write(offset, size, value) {
        const l = host.loaded();
        if (l.baseAddress === base) l.write(offset, size, value);
      },
    };
  }

  private map(base: number): void {
    // A page another device holds (the I/O APIC's, say) keeps it: the bus has one region per address.
    if (this.mapped.has(base) || this.bus.regions.some((r) => base < r.base + r.size && r.base < base + LAPIC_MMIO_LENGTH)) return;
    this.bus.add(base, LAPIC_MMIO_LENGTH, this.device(base));
    this.mapped.add(base);
  }

  /** After an IA32_APIC_BASE write: a region at every page an APIC is at; pages none is at any more (but the default) leave the bus. */
  sync(): void {
    const used = new Set(this.host.all().map((l) => l.baseAddress));
    for (const base of used) this.map(base);
    for (const base of [...this.mapped]) {
      if (base === APIC_DEFAULT_BASE || used.has(base)) continue;
      this.bus.remove(base);
      this.mapped.delete(base);
    }
  }
}
