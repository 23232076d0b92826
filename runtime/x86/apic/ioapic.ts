// The I/O APIC as KVM emulates it in the kernel (Linux arch/x86/kvm/ioapic.c), as far as the
// guests here need it: the indirect register window (IOREGSEL at 0x00, IOWIN at 0x10), ID, version,
// arbitration and 24 redirection entries; a pin raised by the VMM (KVM_IRQ_LINE) is delivered to
// the local APIC as its entry says, and a level-triggered entry keeps Remote IRR until the EOI.
// Registers: Intel 82093AA I/O APIC datasheet, 3.2 (IOAPICID 0x00, IOAPICVER 0x01, IOAPICARB 0x02,
// IOREDTBL 0x10-0x3f); redirection entry layout: datasheet 3.2.4.

import type { MmioDevice } from "../../core/bus.js";
import type { BitLayout } from "../../core/bitfields.js";
import { DELIVERY_MODES } from "./registers.js";

export const IOAPIC_BASE = 0xfec0_0000;
export const IOAPIC_PINS = 24;
/** IOAPICVER: version 0x11, maximum redirection entry 23 (KVM's IOAPIC_VERSION_ID, IOAPIC_NUM_PINS - 1). */
const IOAPIC_VERSION = 0x11 | ((IOAPIC_PINS - 1) << 16);

/** A redirection table entry (82093AA datasheet 3.2.4). */
export const IOREDTBL_LAYOUT: BitLayout = {
  name: "I/O APIC redirection entry",
  source: "Intel 82093AA I/O APIC datasheet 3.2.4",
  fields: [
    { name: "vector", lsb: 0, width: 8, doc: "interrupt vector" },
    { name: "delivery_mode", lsb: 8, width: 3, values: DELIVERY_MODES as unknown as string[], doc: "delivery mode" },
    { name: "dest_mode", lsb: 11, width: 1, values: ["physical", "logical"], doc: "destination mode" },
    { name: "delivery_status", lsb: 12, width: 1, doc: "delivery status (read-only)" },
    { name: "polarity", lsb: 13, width: 1, values: ["high", "low"], doc: "pin polarity" },
    { name: "remote_irr", lsb: 14, width: 1, doc: "Remote IRR: a level interrupt was accepted and awaits its EOI (read-only)" },
    { name: "trigger_mode", lsb: 15, width: 1, values: ["edge", "level"], doc: "trigger mode" },
    { name: "masked", lsb: 16, width: 1, doc: "masked" },
    { name: "destination", lsb: 56, width: 8, radix: "hex", doc: "destination APIC ID (physical) or set (logical)" },
  ],
};

/** Where the I/O APIC sends what a pin raises (the local APICs). */
export interface IoApicSink {
  deliver(vector: number, level: boolean, mode: number, dest: number, logical: boolean): void;
}

export class IoApic implements MmioDevice {
  readonly name = "I/O APIC (in-kernel)";
  readonly inKernel = true;
  private select = 0;
  id = 0;
  /** Redirection entries: masked at reset (ioapic.c kvm_ioapic_reset). */
  readonly redirect: bigint[] = Array.from({ length: IOAPIC_PINS }, () => 1n << 16n);
  /** Pin levels (irr in ioapic.c). */
  private readonly levels = new Array<boolean>(IOAPIC_PINS).fill(false);

  constructor(private readonly sink: IoApicSink) {}

  read(offset: number, _size: number): bigint {
    if (offset === 0) return BigInt(this.select);
    if (offset !== 0x10) return 0n;
    const r = this.select;
    if (r === 0) return BigInt(this.id << 24);
    if (r === 1) return BigInt(IOAPIC_VERSION);
    if (r === 2) return BigInt(this.id << 24); // arbitration ID = the ID (ioapic_read_indirect)
    if (r >= 0x10 && r < 0x10 + 2 * IOAPIC_PINS) {
      const e = this.redirect[(r - 0x10) >> 1]!;
      return r & 1 ? e >> 32n : e & 0xffff_ffffn;
    }
    return 0n;
  }

  write(offset: number, _size: number, value: bigint): void {
    const v = value & 0xffff_ffffn;
    if (offset === 0) {
      this.select = Number(v & 0xffn);
      return;
    }
    if (offset !== 0x10) return;
    const r = this.select;
    if (r === 0) this.id = Number((v >> 24n) & 0xfn); // only bits 27:24 are writable
    else if (r >= 0x10 && r < 0x10 + 2 * IOAPIC_PINS) {
      const pin = (r - 0x10) >> 1;
      const e = this.redirect[pin]!;
      // Delivery status and Remote IRR are read-only (bits 12, 14).
      const ro = (1n << 12n) | (1n << 14n);
      this.redirect[pin] = r & 1 ? (v << 32n) | (e & 0xffff_ffffn) : (e & ~0xffff_ffffn) | (e & ro) | (v & ~ro);
      // ioapic_write_indirect: an unmasked level-triggered entry whose line is high is serviced now.
      if (!(r & 1) && (this.redirect[pin]! >> 15n) & 1n) this.service(pin);
    }
  }

  /**
   * kvm_ioapic_set_irq: a pin's level from the VMM; an edge on a rising level, a level while high.
   * Returns whether the request coalesced (ioapic_set_irq's ret == 0: an edge pin already high).
   */
  setIrq(pin: number, level: boolean): boolean {
    const was = this.levels[pin]!;
    this.levels[pin] = level;
    const e = this.redirect[pin]!;
    const levelTriggered = ((e >> 15n) & 1n) === 1n;
    if (level && (levelTriggered || !was)) this.service(pin, !levelTriggered);
    return level && !levelTriggered && was;
  }

  /** ioapic_service: deliver the pin's vector unless masked or awaiting an EOI. */
  private service(pin: number, edge = false): void {
    const e = this.redirect[pin]!;
    if (!this.levels[pin] && !edge) return;
    if ((e >> 16n) & 1n) return;
    const level = ((e >> 15n) & 1n) === 1n;
    if (level && (e >> 14n) & 1n) return;
    if (level) this.redirect[pin] = e | (1n << 14n);
    this.sink.deliver(Number(e & 0xffn), level, Number((e >> 8n) & 7n), Number((e >> 56n) & 0xffn), ((e >> 11n) & 1n) === 1n);
  }

  /** kvm_ioapic_update_eoi: an EOI of `vector` clears Remote IRR of its level entries, re-delivering a pin still high. */
  eoi(vector: number): void {
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const e = this.redirect[pin]!;
      if (Number(e & 0xffn) !== vector || !((e >> 15n) & 1n)) continue;
      this.redirect[pin] = e & ~(1n << 14n);
      this.service(pin);
    }
  }
}
