// QEMU's x86 ISA test device, `-device pc-testdev` (QEMU hw/misc/pc-testdev.c), which upstream
// kvm-unit-tests' x86/run always gives QEMU. A device of the VMM: under KVM every access to it is a
// KVM_EXIT_IO (its ports) or a KVM_EXIT_MMIO (its memory window) that QEMU answers.

import type { MmioDevice } from "../core/bus.js";
import type { PioDevice } from "./pio.js";

/**
 * The device's regions (QEMU hw/misc/pc-testdev.c testdev_realizefn): I/O ports and the one
 * memory window, with their QEMU region names and sizes in bytes (ports or addresses).
 */
export const PC_TESTDEV = {
  /** "pc-testdev-ioport": a 32-bit data register, any access size (test_ioport_ops). */
  ioport: { base: 0xe0, size: 4 },
  /** "pc-testdev-flush-page": a 4-byte write of a guest-physical address unmaps its page from the host (test_flush_ops). */
  flush: { base: 0xe4, size: 4 },
  /** "pc-testdev-ioport-byte": the same data register, accessed one byte at a time (test_ioport_byte_ops impl 1..1). */
  ioportByte: { base: 0xe8, size: 4 },
  /** "pc-testdev-irq-line": port 0x2000 + N drives ISA IRQ line N (test_irq_ops, 1-byte accesses only). */
  irq: { base: 0x2000, size: 24 },
  /** "pc-testdev-iomem": 64 KiB of device memory (IOMEM_LEN 0x10000) at 0xff000000 (test_iomem_ops). */
  iomem: { base: 0xff00_0000, size: 0x1_0000 },
} as const;

/** What the device does to the machine: drive an ISA IRQ line (qemu_set_irq), and drop a RAM page's host mapping (mprotect PROT_NONE, then PROT_READ|PROT_WRITE). */
export interface PcTestdevHost {
  /** ISA IRQ line `line` (0-23) at `level` (QEMU: qemu_set_irq(isa_get_irq(isa, line), !!data); under KVM a KVM_IRQ_LINE). */
  setIrq(line: number, level: boolean): void;
  /** The host page backing guest-physical page `gpa` (4 KiB aligned) loses its mapping for a moment: KVM's MMU notifier zaps its EPT entry. */
  flushPage(gpa: number): void;
}

/**
 * pc-testdev: `ports()` are its I/O regions for the PIO bus, `iomem` its MMIO region. The data
 * register at 0xe0 and 0xe8 is one 32-bit value (ioport_data); an access of `size` bytes at
 * offset `o` of either window reads or writes its bytes o .. o+size-1 (test_ioport_read/write:
 * mask `((u32)-1 >> (32 - bits)) << (addr & 3) * 8`; the byte window takes a wider access one byte
 * at a time, to the same effect). Bytes past a window's end are not this region's (QEMU hands
 * them to the next region): they are dropped, and read as 0.
 */
export class PcTestdev {
  /** The data register (ioport_data), 32 bits. */
  data = 0;
  /** The memory window's contents (iomem_buf), zero at reset. */
  readonly iomemBuf = new Uint8Array(PC_TESTDEV.iomem.size);

  constructor(private readonly host: PcTestdevHost) {}

  /** The I/O regions: [base port, ports, device], for PioBus.add. */
  ports(): [number, number, PioDevice][] {
    const reg = (name: string): PioDevice => ({
      name,
      read: (o, size) => this.readData(o, size),
      write: (o, size, v) => this.writeData(o, size, v),
    });
    const flush: PioDevice = {
      name: "pc-testdev-flush-page",
      // test_flush_page_read returns 0; test_flush_ops accept 4-byte accesses only (valid.min/max_access_size 4): others are dropped, reading 0.
      read: () => 0,
      write: (_o, size, v) => {
        if (size === 4) this.host.flushPage((v >>> 0) - ((v >>> 0) % 4096));
      },
    };
    const irq: PioDevice = {
      name: "pc-testdev-irq-line",
      // test_irq_line_read returns 0; test_irq_ops accept 1-byte accesses only.
      read: () => 0,
      write: (o, size, v) => {
        if (size === 1) this.host.setIrq(o, (v & 0xff) !== 0);
      },
    };
    return [
      [PC_TESTDEV.ioport.base, PC_TESTDEV.ioport.size, reg("pc-testdev-ioport")],
      [PC_TESTDEV.flush.base, PC_TESTDEV.flush.size, flush],
      [PC_TESTDEV.ioportByte.base, PC_TESTDEV.ioportByte.size, reg("pc-testdev-ioport-byte")],
      [PC_TESTDEV.irq.base, PC_TESTDEV.irq.size, irq],
    ];
  }

  /** Bytes o .. o+size-1 of the data register (those inside it), little-endian. */
  private readData(o: number, size: number): number {
    let v = 0;
    for (let i = 0; i < size && o + i < 4; i++) v |= ((this.data >>> (8 * (o + i))) & 0xff) << (8 * i);
    return v >>> 0;
  }

  private writeData(o: number, size: number, value: number): void {
    for (let i = 0; i < size && o + i < 4; i++) {
      const shift = 8 * (o + i);
      this.data = ((this.data & ~(0xff << shift)) | (((value >>> (8 * i)) & 0xff) << shift)) >>> 0;
    }
  }

  /** The memory window (test_iomem_read/write: little-endian bytes of iomem_buf; QEMU splits an 8-byte access into two 4-byte ones, to the same effect). */
  readonly iomem: MmioDevice = {
    name: "pc-testdev-iomem",
    read: (o, size) => {
      let v = 0n;
      for (let i = Math.min(size, PC_TESTDEV.iomem.size - o) - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.iomemBuf[o + i]!);
      return v;
    },
    write: (o, size, value) => {
      for (let i = 0; i < size && o + i < PC_TESTDEV.iomem.size; i++) this.iomemBuf[o + i] = Number((value >> BigInt(8 * i)) & 0xffn);
    },
  };
}
