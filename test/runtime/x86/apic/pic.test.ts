// KVM's in-kernel 8259A pair (runtime/x86/apic/pic.ts) through its ports, as a guest programs it:
// the initialization sequence and the operation command words of the 8259A datasheet (Intel
// 231468), the ELCR, and the behaviour of Linux arch/x86/kvm/i8259.c (priorities, EOI, poll,
// cascade through the master's IR2, acknowledge).

import { describe, expect, test } from "vitest";
import { KvmPic, type PicSetIrqEvent } from "../../../../runtime/x86/apic/pic.js";

/** The pair with its port devices mapped by port, and the kvm_pic_set_irq events. */
function pair() {
  const events: PicSetIrqEvent[] = [];
  const pic = new KvmPic((e) => events.push(e));
  const ports = new Map<number, { device: { read(o: number, s: number): number; write(o: number, s: number, v: number): void }; base: number }>();
  for (const d of pic.devices()) for (let p = d.base; p < d.base + d.size; p++) ports.set(p, d);
  const outb = (port: number, v: number) => ports.get(port)!.device.write(port - ports.get(port)!.base, 1, v);
  const inb = (port: number) => ports.get(port)!.device.read(port - ports.get(port)!.base, 1);
  /** Linux's init_8259A: ICW1-4 on both chips, vectors 0x20 and 0x28, the slave on IR2. */
  const init = () => {
    outb(0x20, 0x11), outb(0x21, 0x20), outb(0x21, 0x04), outb(0x21, 0x01);
    outb(0xa0, 0x11), outb(0xa1, 0x28), outb(0xa1, 0x02), outb(0xa1, 0x01);
  };
  return { pic, events, outb, inb, init };
}

describe("the 8259A pair (KVM's in-kernel PIC)", () => {
  test("ICW1-ICW4 set the vector base; OCW1 writes and reads the mask (what kvm-unit-tests' mask_pic_interrupts does)", () => {
    const { pic, outb, inb, init } = pair();
    init();
    expect(pic.pics[0].irqBase).toBe(0x20);
    expect(pic.pics[1].irqBase).toBe(0x28);
    expect(pic.pics.map((c) => c.initState)).toEqual([0, 0]);
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    expect([inb(0x21), inb(0xa1)]).toEqual([0xff, 0xff]);
    // A masked pin's request is recorded in IRR but raises nothing.
    expect(pic.setIrq(3, true)).toBe(-1);
    expect(pic.output).toBe(false);
    expect(inb(0x20)).toBe(0x08); // OCW3 default: IRR at the command port
  });

  test("ICW2 after ICW1 without IC4 skips ICW4: the next data write is OCW1", () => {
    const { pic, outb, inb } = pair();
    outb(0x20, 0x10); // ICW1, IC4 = 0
    outb(0x21, 0x40); // ICW2
    outb(0x21, 0x04); // ICW3
    outb(0x21, 0x5a); // OCW1
    expect(pic.pics[0].irqBase).toBe(0x40);
    expect(inb(0x21)).toBe(0x5a);
  });

  test("an edge request, the acknowledge cycle and a non-specific EOI (OCW2 0x20); OCW3 reads the ISR", () => {
    const { pic, outb, inb, init } = pair();
    init();
    expect(pic.setIrq(1, true)).toBe(1);
    expect(pic.output).toBe(true);
    expect(pic.readIrq()).toBe(0x21);
    expect(pic.output).toBe(false);
    outb(0x20, 0x0b); // OCW3: read ISR
    expect(inb(0x20)).toBe(0x02);
    outb(0x20, 0x20); // non-specific EOI
    expect(inb(0x20)).toBe(0x00);
    // Edge-triggered: the line still high makes no new request; low then high does.
    expect(pic.setIrq(1, true)).toBe(1);
    pic.readIrq();
    outb(0x20, 0x20);
    expect(pic.output).toBe(false);
    pic.setIrq(1, false);
    pic.setIrq(1, true);
    expect(pic.output).toBe(true);
  });

  test("priorities: IR0 highest; a lower request waits while a higher one is in service; specific EOI (OCW2 0x60 | level)", () => {
    const { pic, outb, init } = pair();
    init();
    pic.setIrq(5, true);
    pic.setIrq(3, true);
    expect(pic.readIrq()).toBe(0x23);
    expect(pic.output).toBe(false); // IR5 is below IR3 in service
    outb(0x20, 0x63); // specific EOI of IR3
    expect(pic.output).toBe(true);
    expect(pic.readIrq()).toBe(0x25);
  });

  test("the slave cascades through the master's IR2: its vector comes from the slave's base", () => {
    const { pic, init } = pair();
    init();
    pic.setIrq(11, true);
    expect(pic.output).toBe(true);
    expect(pic.readIrq()).toBe(0x2b);
    expect(pic.pics[0].isr).toBe(0x04);
    expect(pic.pics[1].isr).toBe(0x08);
  });

  test("nothing pending: the acknowledge cycle returns the spurious IR7 vector", () => {
    const { pic, init } = pair();
    init();
    expect(pic.readIrq()).toBe(0x27);
  });

  test("the ELCR makes a pin level-triggered (bits 0-2 of ELCR1, 0 and 5 of ELCR2 stay edge); IRR follows a level line", () => {
    const { pic, outb, inb, init } = pair();
    init();
    outb(0x4d0, 0xff);
    outb(0x4d1, 0xff);
    expect([inb(0x4d0), inb(0x4d1)]).toEqual([0xf8, 0xde]);
    pic.setIrq(9, true);
    expect(pic.pics[1].irr & 0x02).toBe(0x02);
    expect(pic.setIrq(9, true)).toBe(0); // still high: coalesced
    pic.setIrq(9, false);
    expect(pic.pics[1].irr & 0x02).toBe(0);
  });

  test("poll mode (OCW3 P): the read answers the pending pin and ends it", () => {
    const { pic, outb, inb, init } = pair();
    init();
    pic.setIrq(6, true);
    outb(0x20, 0x0c); // OCW3: poll
    expect(inb(0x20)).toBe(6);
    expect(pic.pics[0].isr).toBe(0);
    outb(0x20, 0x0c);
    expect(inb(0x20)).toBe(7); // nothing pending
  });

  test("kvm_pic_set_irq events carry the chip's ELCR and IMR and whether the request coalesced", () => {
    const { pic, events, outb, init } = pair();
    init();
    outb(0x21, 0xfb);
    pic.setIrq(0, true);
    pic.setIrq(0, true);
    expect(events).toEqual([
      { chip: 0, pin: 0, elcr: 0, imr: 0xfb, coalesced: false },
      { chip: 0, pin: 0, elcr: 0, imr: 0xfb, coalesced: false },
    ]);
  });

  test("word accesses are not decoded (i8259.c picdev_read: non-byte reads give 0, writes are dropped)", () => {
    const { pic, inb, init } = pair();
    init();
    const dev = pic.devices()[0]!.device;
    dev.write(1, 2, 0xffff);
    expect(inb(0x21)).toBe(0);
    expect(dev.read(1, 2)).toBe(0);
  });
});
