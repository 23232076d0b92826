// The legacy PIC as KVM emulates it in the kernel (Linux arch/x86/kvm/i8259.c, the same in v4.1
// and today): a master/slave pair of Intel 8259A chips, the slave cascaded on the master's IR2.
// Ports: master command/status 0x20, data 0x21; slave 0xa0, 0xa1; the edge/level control
// registers (ELCR, PIIX3) 0x4d0 (master) and 0x4d1 (slave). Programming follows the 8259A
// datasheet (Intel 231468): ICW1 (A0 = 0, D4 = 1) starts initialization, then ICW2 (the vector
// base, T7-T3), ICW3 (cascade) and, when ICW1.IC4 asked for it, ICW4 (µPM, AEOI, SFNM); after
// that, A0 = 1 writes OCW1 (the interrupt mask, IMR), A0 = 0 writes OCW2 (D4:D3 = 00: EOI,
// specific EOI, rotation) or OCW3 (D4:D3 = 01: read IRR/ISR, poll, special mask).
// What KVM leaves out, so does this model: single mode (ICW1.SNGL) and level-triggered mode
// (ICW1.LTIM; the ELCR says which pins are level-triggered instead), non-byte accesses (read as 0).
// The PIC's output reaches a vCPU only through its local APIC's LINT0 in ExtINT mode
// (kvm_apic_accept_pic_intr, LocalApic.acceptsPicIntr); KVM's irqchip (kvm/irqchip.ts) injects
// the vector this model's acknowledge cycle (kvm_pic_read_irq) gives (kvm_cpu_get_interrupt).

import type { PioDevice } from "../../devices/pio.js";

/** The ports, as i8259.c's picdev_in_range decodes them. */
export const PIC_MASTER_PORT = 0x20;
export const PIC_SLAVE_PORT = 0xa0;
export const PIC_ELCR_PORT = 0x4d0;
/** Pins of the pair (PIC_NUM_PINS): master IR0-7 are IRQ 0-7, slave IR0-7 are IRQ 8-15. */
export const PIC_NUM_PINS = 16;
/** ELCR bits that can be set (kvm_create_pic): IRQ 0, 1, 2 and 8, 13 are always edge-triggered. */
const ELCR_MASK = [0xf8, 0xde] as const;

/** One 8259A's state (struct kvm_kpic_state). */
export class Pic8259 {
  lastIrr = 0;
  /** Interrupt request register: a bit per IR pin with a request waiting. */
  irr = 0;
  /** Interrupt mask register (OCW1). */
  imr = 0;
  /** In-service register: the interrupts acknowledged and not yet ended (EOI). */
  isr = 0;
  /** Rotation: the pin that has the lowest priority is priorityAdd - 1. */
  priorityAdd = 0;
  /** The vector of IR0 (ICW2 & 0xf8). */
  irqBase = 0;
  /** OCW3 RR/RIS: 1 reads the ISR at the command port, 0 the IRR. */
  readRegSelect = 0;
  /** OCW3 P: the next read of the command port is a poll. */
  poll = 0;
  specialMask = 0;
  /** 0: ready; 1, 2, 3: ICW2, ICW3, ICW4 expected next. */
  initState = 0;
  autoEoi = 0;
  rotateOnAutoEoi = 0;
  specialFullyNestedMode = 0;
  /** ICW1.IC4: an ICW4 follows. */
  init4 = 0;
  /** Edge/level control (the ELCR): 1 = level-triggered. */
  elcr = 0;

  constructor(
    readonly master: boolean,
    private readonly update: () => void,
    /** pic_clear_isr's kvm_notify_acked_irq: pin `irq` (0-7 of this chip) left the ISR (not IR2). */
    private readonly acked: (irq: number) => void = () => {},
  ) {}

  /** pic_clear_isr: pin `irq` leaves the ISR; the ack notifiers of its IRQ hear of it (KVM's PIT, for IRQ 0). */
  private clearIsr(irq: number): void {
    this.isr &= ~(1 << irq);
    if (!this.master || irq !== 2) this.acked(irq);
  }

  /** ELCR bits that can be set on this chip. */
  get elcrMask(): number {
    return ELCR_MASK[this.master ? 0 : 1];
  }

  /** kvm_pic_reset of one chip (also what ICW1 does, keeping level-triggered requests). */
  reset(): void {
    this.lastIrr = 0;
    this.irr &= this.elcr;
    this.imr = 0;
    this.isr = 0;
    this.priorityAdd = 0;
    this.irqBase = 0;
    this.readRegSelect = 0;
    this.poll = 0;
    this.specialMask = 0;
    this.initState = 0;
    this.autoEoi = 0;
    this.rotateOnAutoEoi = 0;
    this.specialFullyNestedMode = 0;
    this.init4 = 0;
  }

  /**
   * pic_set_irq1: pin `irq`'s line at `level`. Edge-triggered: a rising edge sets IRR; level-
   * triggered (ELCR): IRR follows the line. Returns -1 when the pin is masked, else 1 when the
   * request is new and 0 when it was pending already (coalesced).
   */
  setIrq(irq: number, level: boolean): number {
    const mask = 1 << irq;
    let ret = 1;
    if (this.elcr & mask) {
      if (level) {
        ret = this.irr & mask ? 0 : 1;
        this.irr |= mask;
        this.lastIrr |= mask;
      } else {
        this.irr &= ~mask;
        this.lastIrr &= ~mask;
      }
    } else if (level) {
      if ((this.lastIrr & mask) === 0) {
        ret = this.irr & mask ? 0 : 1;
        this.irr |= mask;
      }
      this.lastIrr |= mask;
    } else this.lastIrr &= ~mask;
    return this.imr & mask ? -1 : ret;
  }

  /** get_priority: 0 (highest) to 7 of the first bit of `mask` from the rotation; 8 when none. */
  private priority(mask: number): number {
    if (mask === 0) return 8;
    let p = 0;
    while ((mask & (1 << ((p + this.priorityAdd) & 7))) === 0) p++;
    return p;
  }

  /** pic_get_irq: the pin whose request would interrupt now (above everything in service), or -1. */
  pending(): number {
    const p = this.priority(this.irr & ~this.imr);
    if (p === 8) return -1;
    let inService = this.isr;
    // Special fully nested mode: the master lets a slave interrupt nest over one in service on IR2.
    if (this.specialFullyNestedMode && this.master) inService &= ~(1 << 2);
    return p < this.priority(inService) ? (p + this.priorityAdd) & 7 : -1;
  }

  /** pic_intack: the CPU acknowledged pin `irq` (ISR set; an edge request cleared; AEOI ends it at once). */
  intack(irq: number): void {
    this.isr |= 1 << irq;
    if (!(this.elcr & (1 << irq))) this.irr &= ~(1 << irq);
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityAdd = (irq + 1) & 7;
      this.clearIsr(irq);
    }
  }

  /** pic_ioport_write: `offset` 0 (A0 = 0: ICW1, OCW2, OCW3) or 1 (A0 = 1: ICW2-4, OCW1). */
  write(offset: number, val: number): void {
    if (offset === 0) {
      if (val & 0x10) {
        // ICW1: initialization starts; edge requests are dropped, level ones kept.
        const level = this.irr & this.elcr;
        this.reset();
        this.irr = level;
        this.init4 = val & 1;
        this.initState = 1;
      } else if (val & 0x08) {
        // OCW3.
        if (val & 0x04) this.poll = 1;
        if (val & 0x02) this.readRegSelect = val & 1;
        if (val & 0x40) this.specialMask = (val >> 5) & 1;
      } else {
        // OCW2: R, SL, EOI in D7-D5; L2-L0 the level.
        const cmd = val >> 5;
        if (cmd === 0 || cmd === 4) this.rotateOnAutoEoi = cmd >> 2;
        else if (cmd === 1 || cmd === 5) {
          // Non-specific EOI (5: and rotate): the highest-priority interrupt in service ends.
          const p = this.priority(this.isr);
          if (p !== 8) {
            const irq = (p + this.priorityAdd) & 7;
            if (cmd === 5) this.priorityAdd = (irq + 1) & 7;
            this.clearIsr(irq);
            this.update();
          }
        } else if (cmd === 3) {
          this.clearIsr(val & 7);
          this.update();
        } else if (cmd === 6) {
          this.priorityAdd = (val + 1) & 7;
          this.update();
        } else if (cmd === 7) {
          const irq = val & 7;
          this.priorityAdd = (irq + 1) & 7;
          this.clearIsr(irq);
          this.update();
        }
      }
      return;
    }
    switch (this.initState) {
      case 0:
        this.imr = val; // OCW1
        this.update();
        break;
      case 1:
        this.irqBase = val & 0xf8; // ICW2
        this.initState = 2;
        break;
      case 2:
        this.initState = this.init4 ? 3 : 0; // ICW3: the cascade wiring is fixed
        break;
      case 3:
        this.specialFullyNestedMode = (val >> 4) & 1; // ICW4
        this.autoEoi = (val >> 1) & 1;
        this.initState = 0;
        break;
    }
  }

  /** pic_ioport_read: a poll (OCW3 P) answers the pending pin as acknowledged; else IRR/ISR at A0 = 0, IMR at A0 = 1. */
  read(offset: number, pollAck: () => number): number {
    if (this.poll) {
      this.poll = 0;
      return pollAck();
    }
    if (offset === 0) return this.readRegSelect ? this.isr : this.irr;
    return this.imr;
  }
}

/** kvm_pic_set_irq's trace: chip, pin, that chip's ELCR and IMR, and whether the request coalesced. */
export interface PicSetIrqEvent {
  chip: number;
  pin: number;
  elcr: number;
  imr: number;
  coalesced: boolean;
}

/**
 * KVM's in-kernel PIC (struct kvm_pic): the two chips, their port devices, the line a VMM raises
 * (kvm_pic_set_irq, traced through `trace`) and the output to the CPU (`output`).
 */
export class KvmPic {
  readonly pics: [Pic8259, Pic8259];
  /** INTR: the master has an interrupt to present (pic_irq_request). */
  output = false;
  /** Line levels by pin (kvm_pic_set_irq's irq_states, one source: the VMM). */
  private readonly levels = new Array<boolean>(PIC_NUM_PINS).fill(false);

  /** kvm_notify_acked_irq for the PIC's IRQs (0-15): the guest ended one (EOI, or AEOI at acknowledge). */
  onAck: (irq: number) => void = () => {};

  constructor(private readonly trace: (e: PicSetIrqEvent) => void = () => {}) {
    const update = () => this.updateIrq();
    this.pics = [new Pic8259(true, update, (irq) => this.onAck(irq)), new Pic8259(false, update, (irq) => this.onAck(irq + 8))];
  }

  /** pic_update_irq: a slave request raises the master's IR2 (a pulse); the master's pending pin drives INTR. */
  updateIrq(): void {
    const [m, s] = this.pics;
    if (s.pending() >= 0) {
      m.setIrq(2, true);
      m.setIrq(2, false);
    }
    this.output = m.pending() >= 0;
  }

  /**
   * kvm_pic_set_irq: pin `irq` (0-15) driven to `level` by the VMM (KVM_IRQ_LINE of a GSI below 16
   * with KVM's default routing). Traced kvm_pic_set_irq. Returns pic_set_irq1's result (-1 masked,
   * 0 coalesced, 1 new).
   */
  setIrq(irq: number, level: boolean): number {
    const chip = this.pics[irq >> 3]!;
    const pin = irq & 7;
    this.levels[irq] = level;
    const ret = chip.setIrq(pin, level);
    this.updateIrq();
    this.trace({ chip: irq >> 3, pin, elcr: chip.elcr, imr: chip.imr, coalesced: ret === 0 });
    return ret;
  }

  /**
   * kvm_pic_read_irq: the interrupt acknowledge cycle — the vector of the master's pending pin
   * (through the slave for IR2), ISR set; a spurious IR7 when nothing is pending.
   */
  readIrq(): number {
    const [m, s] = this.pics;
    let vector: number;
    const irq = m.pending();
    if (irq >= 0) {
      m.intack(irq);
      if (irq === 2) {
        let irq2 = s.pending();
        if (irq2 >= 0) s.intack(irq2);
        else irq2 = 7; // spurious on the slave
        vector = s.irqBase + irq2;
      } else vector = m.irqBase + irq;
    } else vector = m.irqBase + 7; // spurious on the master
    this.updateIrq();
    return vector;
  }

  /** pic_poll_read of `chip`: the pending pin acknowledged and ended at once, or 7 with nothing pending. */
  private pollRead(chip: Pic8259): number {
    const [m] = this.pics;
    const ret = chip.pending();
    if (ret < 0) {
      this.updateIrq();
      return 0x07;
    }
    if (!chip.master) {
      m.isr &= ~(1 << 2);
      m.irr &= ~(1 << 2);
    }
    chip.irr &= ~(1 << ret);
    chip.isr &= ~(1 << ret);
    if (!chip.master || ret !== 2) this.updateIrq();
    return ret;
  }

  /** The port devices: master (0x20-0x21), slave (0xa0-0xa1), ELCR (0x4d0-0x4d1). In-kernel: no KVM_EXIT_IO. */
  devices(): { base: number; size: number; device: PioDevice & { inKernel: true } }[] {
    const chipDevice = (chip: Pic8259, name: string): PioDevice & { inKernel: true } => ({
      name,
      inKernel: true,
      read: (offset, size) => (size === 1 ? chip.read(offset, () => this.pollRead(chip)) : 0),
      write: (offset, size, value) => {
        if (size === 1) chip.write(offset, value & 0xff);
      },
    });
    const elcr: PioDevice & { inKernel: true } = {
      name: "8259A ELCR (in-kernel)",
      inKernel: true,
      read: (offset, size) => (size === 1 ? this.pics[offset]!.elcr : 0),
      write: (offset, size, value) => {
        if (size === 1) this.pics[offset]!.elcr = value & this.pics[offset]!.elcrMask;
      },
    };
    return [
      { base: PIC_MASTER_PORT, size: 2, device: chipDevice(this.pics[0], "8259A PIC master (in-kernel)") },
      { base: PIC_SLAVE_PORT, size: 2, device: chipDevice(this.pics[1], "8259A PIC slave (in-kernel)") },
      { base: PIC_ELCR_PORT, size: 2, device: elcr },
    ];
  }
}
