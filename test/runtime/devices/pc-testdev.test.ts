// QEMU's pc-testdev (runtime/devices/pc-testdev.ts, QEMU hw/misc/pc-testdev.c) on the x86 pc
// machine (MachineOptions.devices): the data register at ports 0xe0 (any size) and 0xe8 (a byte at
// a time), the flush-page port 0xe4 (4-byte writes only: the page's EPT entry is zapped, so the next
// access is an EPT violation), the IRQ lines at 0x2000 + N (1-byte writes: KVM_IRQ_LINE), and the
// 64 KiB memory at 0xff000000 — each access a KVM_EXIT_IO or KVM_EXIT_MMIO to the VMM.

import { describe, expect, test } from "vitest";
import { PC_TESTDEV, PcTestdev } from "../../../runtime/devices/pc-testdev.js";
import { createX86Machine } from "../../../runtime/x86/machine.js";
import { createMachine } from "../../../runtime/index.js";
import { ExitlabError } from "../../../runtime/core/errors.js";

describe("pc-testdev, the device", () => {
  const make = () => {
    const calls: string[] = [];
    const d = new PcTestdev({ setIrq: (l, v) => void calls.push(`irq ${l} ${v}`), flushPage: (g) => void calls.push(`flush 0x${g.toString(16)}`) });
    const ports = new Map(d.ports().map(([base, , dev]) => [base, dev]));
    return { d, calls, port: (p: number) => ports.get(p)! };
  };

  test("0xe0 and 0xe8 are one 32-bit register; an access of N bytes at offset o is its bytes o..o+N-1", () => {
    const { d, port } = make();
    port(0xe0).write(0, 4, 0x11223344);
    expect(port(0xe8).read(0, 4)).toBe(0x11223344);
    port(0xe8).write(1, 1, 0xaa);
    expect(d.data).toBe(0x1122aa44);
    port(0xe0).write(2, 2, 0xbeef);
    expect(port(0xe0).read(0, 4)).toBe(0xbeefaa44);
    expect(port(0xe0).read(3, 1)).toBe(0xbe);
    expect(port(0xe8).read(1, 2)).toBe(0xefaa);
  });

  test("flush-page takes 4-byte writes only (the page of the address); IRQ lines take 1-byte writes; both read 0", () => {
    const { calls, port } = make();
    port(0xe4).write(0, 4, 0x12345);
    port(0xe4).write(0, 2, 0x5000);
    port(0x2000).write(14, 1, 1);
    port(0x2000).write(14, 1, 0);
    port(0x2000).write(13, 4, 1);
    expect(calls).toEqual(["flush 0x12000", "irq 14 true", "irq 14 false"]);
    expect([port(0xe4).read(0, 4), port(0x2000).read(5, 1)]).toEqual([0, 0]);
  });

  test("iomem: 64 KiB of little-endian memory, zero at reset, accesses of any size", () => {
    const { d } = make();
    expect(d.iomem.read(0, 8)).toBe(0n);
    d.iomem.write(0x10, 8, 0x0102030405060708n);
    expect(d.iomem.read(0x10, 4)).toBe(0x05060708n);
    expect(d.iomem.read(0x14, 4)).toBe(0x01020304n);
    expect(d.iomem.read(0x11, 2)).toBe(0x0607n);
    expect(PC_TESTDEV.iomem).toEqual({ base: 0xff000000, size: 0x10000 });
  });
});

// 32-bit protected mode, paging off: the device's ports and window are reached directly.
const SRC = `
  .code32
start:
  mov $0x12345678, %eax
  out %eax, $0xe0
  xor %eax, %eax
  mov $0xe8, %dx
  inb %dx, %al               /* byte 0 through the byte window: 0x78 */
  mov %eax, %esi
  movl $0xcafef00d, 0xff000004
  mov 0xff000004, %edi       /* the window's memory: KVM_EXIT_MMIO both ways */
  movl $1, 0x300000          /* map the page in EPT */
  mov $0x300000, %eax
  out %eax, $0xe4            /* flush it: the EPT entry is zapped */
  movl $2, 0x300000          /* a second EPT violation on the page */
  mov $1, %al
  mov $0x200e, %dx
  out %al, %dx               /* ISA IRQ 14 high: KVM_IRQ_LINE */
  mov $0xf4, %dx
  out %al, %dx
`;

describe("pc-testdev on the x86 pc machine", () => {
  test("its ports and memory answer through KVM_EXIT_IO / KVM_EXIT_MMIO; the flushed page faults in EPT again; IRQ 14 is KVM_IRQ_LINE", () => {
    const m = createX86Machine({ guest: { source: SRC }, devices: ["pc-testdev"], settings: { era: "today" } });
    m.run({ maxSteps: 10_000 });
    expect(m.halted?.message).toMatch(/isa-debug-exit/);
    const s = m.cpu.state;
    expect(Number(s.gpr[6]! & 0xffffffffn)).toBe(0x78);
    expect(Number(s.gpr[7]! & 0xffffffffn)).toBe(0xcafef00d);
    expect(m.qemuDevices["pc-testdev"]!.data).toBe(0x12345678);
    const lines = m.trace.lines("today");
    expect(lines.filter((l) => /kvm_userspace_exit: reason KVM_EXIT_MMIO/.test(l)).length).toBe(2);
    expect(lines.some((l) => /^kvm_pio: pio_write at 0xe0 size 4 count 1 val 0x12345678/.test(l))).toBe(true);
    expect(lines.some((l) => /^kvm_set_irq: gsi 14 level 1 source 0/.test(l))).toBe(true);
    const faults300 = lines.filter((l) => /^kvm_page_fault: .*address 0x0+300000 /.test(l));
    expect(faults300.length).toBe(2);
    expect(new DataView(m.readPhysical(0x300000, 4).buffer).getUint32(0, true)).toBe(2);
  });

  test("without the device its port floats high and its window is unbacked (all ones)", () => {
    const m = createX86Machine({ guest: { source: SRC }, settings: { era: "today" } });
    m.run({ maxSteps: 10_000 });
    expect(Number(m.cpu.state.gpr[6]! & 0xffn)).toBe(0xff);
    expect(Number(m.cpu.state.gpr[7]! & 0xffffffffn)).toBe(0xffffffff);
  });

  test("a device exitlab does not model, a repeated one, or any on arm64 is an ExitlabError", () => {
    expect(() => createX86Machine({ devices: ["pci-testdev"] })).toThrow(ExitlabError);
    expect(() => createX86Machine({ devices: ["pc-testdev", "pc-testdev"] })).toThrow(ExitlabError);
    expect(() => createMachine("arm64", { devices: ["pc-testdev"] })).toThrow(ExitlabError);
  });
});
