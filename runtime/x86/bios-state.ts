// What a guest booted by QEMU's -kernel finds of SeaBIOS's work, beyond the ACPI tables (acpi.ts):
// the real-mode interrupt vector table and the legacy interrupt hardware as SeaBIOS programs it.
// exitlab runs no firmware; it leaves this minimum state, each fact from SeaBIOS (coreboot/seabios):
// - src/post.c ivt_init: every vector of the IVT (256 far pointers at 0, offset then segment)
//   points at entry_iret_official (src/romlayout.S, at the IBM BIOS's fixed F000:FF53: an IRET);
//   the PIC's vectors 0x08-0x0f at entry_hwpic1 and 0x70-0x77 at entry_hwpic2, which end the
//   interrupt at the PIC (src/hw/pic.c handle_hwpic1: pic_eoi1; handle_hwpic2: pic_eoi2, which
//   EOIs the slave and then the master). Those are modelled as three stubs in the F segment.
//   What SeaBIOS puts on other vectors (INT 10h video, 13h disk, 1Ah time, the timer's own
//   handler that counts BIOS ticks at 0x46c) is not: they are IRETs here.
// - src/hw/pic.c pic_setup → pic_reset(0x08, 0x70): ICW1 0x11, ICW2 the bases, ICW3 0x04 / 0x02,
//   ICW4 0x01 (8086 mode), every IRQ masked but the cascade (PIC_IRQMASK_DEFAULT); enable_hwirq
//   then unmasks those SeaBIOS serves: IRQ 0 (the timer, src/clock.c clock_setup) and IRQ 8 (the
//   RTC) here; the keyboard, mouse, floppy and disk IRQs SeaBIOS also unmasks stay masked, their
//   devices not being modelled.
// - src/hw/timer.c pit_setup: PIT counter 0 in mode 2, binary, LSB then MSB, count 0 (65536:
//   18.2 Hz), IRQ 0's tick.

import type { GuestMemory } from "../core/memory.js";

/** The BIOS's IRET at F000:FF53 (SeaBIOS romlayout.S entry_iret_official). */
export const BIOS_IRET = { seg: 0xf000, off: 0xff53 } as const;
/** The PIC's vector bases SeaBIOS programs (src/hw/pic.h BIOS_HWIRQ0_VECTOR, BIOS_HWIRQ8_VECTOR). */
export const BIOS_HWIRQ0_VECTOR = 0x08;
export const BIOS_HWIRQ8_VECTOR = 0x70;
/** The IRQs SeaBIOS leaves unmasked here: 0 (timer), 2 (cascade), 8 (RTC). */
export const BIOS_IRQ_UNMASKED = [0, 2, 8] as const;

/** The stubs: master EOI + IRET (hwpic1), slave and master EOI + IRET (hwpic2), IRET (F000:FF53). */
const HWPIC1 = { seg: 0xf000, off: 0xff40 } as const;
const HWPIC2 = { seg: 0xf000, off: 0xff48 } as const;
/** 16-bit code: push ax; mov al, 0x20; out 0x20, al; pop ax; iret (OCW2 non-specific EOI at the master). */
const HWPIC1_CODE = [0x50, 0xb0, 0x20, 0xe6, 0x20, 0x58, 0xcf];
/** push ax; mov al, 0x20; out 0xa0, al; out 0x20, al; pop ax; iret (the slave, then the master). */
const HWPIC2_CODE = [0x50, 0xb0, 0x20, 0xe6, 0xa0, 0xe6, 0x20, 0x58, 0xcf];

/** A real-mode far pointer as a linear address. */
const linear = (p: { seg: number; off: number }) => p.seg * 16 + p.off;

/** Write the IVT and its stubs into guest RAM (ivt_init). */
export function installBiosIvt(memory: GuestMemory): void {
  memory.writeBytes(linear(HWPIC1), Uint8Array.from(HWPIC1_CODE));
  memory.writeBytes(linear(HWPIC2), Uint8Array.from(HWPIC2_CODE));
  memory.writeBytes(linear(BIOS_IRET), Uint8Array.of(0xcf));
  const ivt = new Uint8Array(256 * 4);
  const view = new DataView(ivt.buffer);
  for (let v = 0; v < 256; v++) {
    const p = v >= BIOS_HWIRQ0_VECTOR && v < BIOS_HWIRQ0_VECTOR + 8 ? HWPIC1 : v >= BIOS_HWIRQ8_VECTOR && v < BIOS_HWIRQ8_VECTOR + 8 ? HWPIC2 : BIOS_IRET;
    view.setUint16(v * 4, p.off, true);
    view.setUint16(v * 4 + 2, p.seg, true);
  }
  memory.writeBytes(0, ivt);
}

/** pic_reset's mask: every IRQ but the cascade (IRQ 2) masked (src/hw/pic.h PIC_IRQMASK_DEFAULT). */
export const PIC_IRQMASK_DEFAULT = 0xfffb;

/** SeaBIOS's pic_reset(0x08, 0x70) as port writes, then the IRQ mask `mask` (bit n masks IRQ n): [port, byte]. */
export function picResetWrites(mask: number): [number, number][] {
  return [
    [0x20, 0x11], [0xa0, 0x11], [0x21, BIOS_HWIRQ0_VECTOR], [0xa1, BIOS_HWIRQ8_VECTOR],
    [0x21, 0x04], [0xa1, 0x02], [0x21, 0x01], [0xa1, 0x01], [0x21, mask & 0xff], [0xa1, (mask >> 8) & 0xff],
  ];
}

/** Port writes, as SeaBIOS's pic_setup/enable_hwirq and pit_setup make them: [port, byte] in order. */
export function biosPortWrites(): [number, number][] {
  const mask = ~BIOS_IRQ_UNMASKED.reduce<number>((m, irq) => m | (1 << irq), 0) & 0xffff;
  return [
    ...picResetWrites(mask),
    // PM_SEL_TIMER0 | PM_ACCESS_WORD | PM_MODE2 | PM_CNT_BINARY, then count 0 (LSB, MSB).
    [0x43, 0x34], [0x40, 0], [0x40, 0],
  ];
}
