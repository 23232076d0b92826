// QEMU mach-virt's generic PCIe host ("gpex", hw/pci-host/gpex.c) as far as a guest's bus scan
// sees it: the ECAM window (PCI Express Base Specification 4.0, 7.2.2 "PCI Express Enhanced
// Configuration Access Mechanism": bus << 20 | device << 15 | function << 12 | register) with one
// function on it, the host bridge at 00:00.0 (gpex_root_class_init: vendor PCI_VENDOR_ID_REDHAT
// 0x1b36, device PCI_DEVICE_ID_REDHAT_PCIE_HOST 0x0008, class PCI_CLASS_BRIDGE_HOST 0x0600, no
// BARs), and all-ones for every other function (pci_host_config_read_common with no device: ~0).
// The host is emulated in the VMM (QEMU): each access is a KVM_EXIT_MMIO to user space.

import type { MmioDevice } from "../core/bus.js";

/** Where mach-virt puts the ECAM (hw/arm/virt.c base_memmap VIRT_HIGH_PCIE_ECAM: 0x40_1000_0000, 256 MiB, buses 0..255). */
export const GPEX_ECAM_BASE = 0x40_1000_0000;
export const GPEX_ECAM_SIZE = 0x1000_0000;
/** The PCI windows of mach-virt's /pcie node `ranges` (hw/arm/virt.c base_memmap VIRT_PCIE_PIO, VIRT_PCIE_MMIO, VIRT_HIGH_PCIE_MMIO). */
export const GPEX_PIO = { base: 0x3eff_0000, size: 0x1_0000 };
export const GPEX_MMIO = { base: 0x1000_0000, size: 0x2eff_0000 };
export const GPEX_MMIO_HIGH = { base: 0x80_0000_0000, size: 0x80_0000_0000 };

/**
 * The host bridge's type-0 header (PCI Local Bus Specification 3.0, 6.1 "Configuration Space
 * Organization"), offset → [value, bytes, write mask]. Write masks: QEMU pci_init_wmask (command
 * IO|MEMORY|MASTER|PARITY|SERR|INTX_DISABLE, cache line size, latency timer, interrupt line);
 * the subsystem IDs are QEMU's defaults for every device (pci_set_default_subsystem_id:
 * PCI_SUBVENDOR_ID_REDHAT_QUMRANET 0x1af4, PCI_SUBDEVICE_ID_QEMU 0x1100). Everything else reads 0
 * and ignores writes (the BARs among them: the bridge has none, so sizing one reads back 0).
 */
const HOST_BRIDGE: Record<number, readonly [value: number, bytes: number, wmask: number]> = {
  0x00: [0x1b36, 2, 0], // vendor ID
  0x02: [0x0008, 2, 0], // device ID
  0x04: [0x0000, 2, 0x0547], // command
  0x06: [0x0000, 2, 0], // status
  0x08: [0x00, 1, 0], // revision ID
  0x09: [0x00, 1, 0], // programming interface
  0x0a: [0x00, 1, 0], // subclass: host bridge
  0x0b: [0x06, 1, 0], // class: bridge
  0x0c: [0x00, 1, 0xff], // cache line size
  0x0d: [0x00, 1, 0xff], // latency timer
  0x0e: [0x00, 1, 0], // header type 0, single function
  0x2c: [0x1af4, 2, 0], // subsystem vendor ID
  0x2e: [0x1100, 2, 0], // subsystem ID
  0x3c: [0x00, 1, 0xff], // interrupt line
};

/** The ECAM window of the generic PCIe host: config reads and writes of bus 0..255. */
export class GpexEcam implements MmioDevice {
  readonly name = "pcie-ecam";
  /** The host bridge's config space (256 bytes of the 4 KiB function), little-endian. */
  private readonly cfg = new Uint8Array(256);

  constructor() {
    for (const [off, [v, n]] of Object.entries(HOST_BRIDGE)) for (let i = 0; i < n; i++) this.cfg[Number(off) + i] = (v >> (8 * i)) & 0xff;
  }

  /** Read `size` bytes at ECAM `offset`: the host bridge's register, 0 past its header, all-ones for absent functions. */
  read(offset: number, size: number): bigint {
    const fn = Math.floor(offset / 0x1000), reg = offset % 0x1000;
    if (fn !== 0) return (1n << BigInt(8 * size)) - 1n;
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(reg + i < 256 ? this.cfg[reg + i]! : 0);
    return v;
  }

  /** Write `size` bytes at ECAM `offset`: only the host bridge's writable bits change. */
  write(offset: number, size: number, value: bigint): void {
    const fn = Math.floor(offset / 0x1000), reg = offset % 0x1000;
    if (fn !== 0) return;
    for (let i = 0; i < size; i++) {
      const at = reg + i;
      const mask = wmaskByte(at);
      if (!mask) continue;
      const b = Number((value >> BigInt(8 * i)) & 0xffn);
      this.cfg[at] = (this.cfg[at]! & ~mask) | (b & mask);
    }
  }
}

/** The write mask of config byte `at` of the host bridge (HOST_BRIDGE). */
function wmaskByte(at: number): number {
  for (const [off, [, n, m]] of Object.entries(HOST_BRIDGE)) {
    const o = Number(off);
    if (at >= o && at < o + n) return (m >> (8 * (at - o))) & 0xff;
  }
  return 0;
}
