// QEMU's fw_cfg device on the pc machine, the "traditional" I/O-port interface (QEMU
// docs/specs/fw_cfg.rst; hw/nvram/fw_cfg.c): a 16-bit write to the selector port (0x510) picks an
// item and rewinds it, 8-bit reads of the data port (0x511) return its bytes in order, 0 past the
// end or for an absent item. kvm-unit-tests' x86 lib (lib/x86/fwcfg.c) reads the CPU count and the
// RAM size this way.

import type { PioDevice } from "./pio.js";

export const FW_CFG_PORT = 0x510;

/** The items this machine has (fw_cfg.rst "Selector (Control) Register" keys). */
export const FW_CFG_KEYS = { SIGNATURE: 0x00, ID: 0x01, RAM_SIZE: 0x03, NOGRAPHIC: 0x04, NB_CPUS: 0x05, MAX_CPUS: 0x0f } as const;

const le = (v: number, bytes: number) => Uint8Array.from({ length: bytes }, (_, i) => Math.floor(v / 2 ** (8 * i)) & 0xff);

export class FwCfg implements PioDevice {
  readonly name = "fw_cfg";
  private readonly items = new Map<number, Uint8Array>();
  private selected = 0;
  private offset = 0;

  /** The machine's facts: RAM in bytes and vCPUs. */
  constructor(ramBytes: number, cpus: number) {
    this.items.set(FW_CFG_KEYS.SIGNATURE, Uint8Array.from("QEMU", (c) => c.charCodeAt(0)));
    this.items.set(FW_CFG_KEYS.ID, le(1, 4)); // bit 0: the traditional interface (no DMA)
    this.items.set(FW_CFG_KEYS.RAM_SIZE, le(ramBytes, 8));
    this.items.set(FW_CFG_KEYS.NOGRAPHIC, le(1, 2));
    this.items.set(FW_CFG_KEYS.NB_CPUS, le(cpus, 2));
    this.items.set(FW_CFG_KEYS.MAX_CPUS, le(cpus, 2));
  }

  read(offset: number, size: number): number {
    if (offset !== 1) return 0; // the selector is write-only
    let v = 0;
    const item = this.items.get(this.selected);
    for (let i = 0; i < size; i++) v |= (item?.[this.offset++] ?? 0) << (8 * i);
    return v >>> 0;
  }

  write(offset: number, _size: number, value: number): void {
    if (offset !== 0) return; // the data port is read-only here (writes need the DMA interface)
    this.selected = value & 0xffff;
    this.offset = 0;
  }
}
