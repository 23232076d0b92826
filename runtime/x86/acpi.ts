// The ACPI tables QEMU's pc machine gives a guest booted with -kernel (SeaBIOS installs what QEMU's
// hw/i386/acpi-build.c builds), as far as kvm-unit-tests' lib/acpi.c reads them: the RSDP found by
// scanning the BIOS area, the RSDT it points at, the FADT ("FACP") with the PIIX4 power-management
// I/O blocks, the FACS the FADT points at, and the MADT. Facts, ACPI Specification 6.4:
//   5.2.5.1 the RSDP is on a 16-byte boundary in 0xE0000-0xFFFFF (the BIOS read-only area);
//   5.2.5.3 RSDP: "RSD PTR ", checksum of the first 20 bytes, revision 0 (ACPI 1.0: RSDT only);
//   5.2.6   the common header (signature, length, revision, checksum over the whole table, OEM ids);
//   5.2.7   RSDT: 32-bit physical addresses of the other tables;
//   5.2.9   FADT revision 1 (116 bytes): FIRMWARE_CTRL, PM1a_EVT_BLK, PM1a_CNT_BLK, PM_TMR_BLK ...;
//   5.2.10  FACS: 64 bytes, 64-byte aligned, firmware waking vector at offset 12;
//   5.2.12  MADT: local APIC address, PCAT_COMPAT, one Processor Local APIC structure per CPU
//           (type 0), the I/O APIC (type 1), the ISA IRQ 0 → GSI 2 override (type 2).
// QEMU's values (qemu/qemu tests/data/acpi/pc/FACP.cphp.dsl, the pc machine's expected FADT): OEM
// "BOCHS " / "BXPCFACP", SCI 9, SMI_CMD 0xb2 (enable 0xf1, disable 0xf0), PM1a_EVT 0x600 (4 bytes),
// PM1a_CNT 0x604 (2), PM_TMR 0x608 (4), GPE0 0xafe0 (4), century index 0x32, flags 0x80a5 (WBINVD,
// C1, sleep button, RTC S4 wake, platform clock; TMR_VAL_EXT clear: a 24-bit timer).
// Where: QEMU's SeaBIOS puts the RSDP in the F segment and the rest at the top of RAM; here all of
// them sit in the BIOS area (ACPI_BASE...), which kvm-unit-tests' allocator never hands out (its
// memory starts at 1 MiB), so the tables survive whatever the guest allocates.

import type { GuestMemory } from "../core/memory.js";

/** PIIX4 PM I/O base on QEMU's pc machine (hw/i386/acpi-build.c: PM base 0x600 from the PIIX4 PM's PMBA). */
export const PM_IO_BASE = 0x600;
/** The FADT's blocks as offsets from PM_IO_BASE (FACP.cphp.dsl above). */
export const PM1A_EVT_BLK = PM_IO_BASE + 0x0;
export const PM1A_CNT_BLK = PM_IO_BASE + 0x4;
export const PM_TMR_BLK = PM_IO_BASE + 0x8;
const GPE0_BLK = 0xafe0;

/** Where the tables are: the RSDP (16-byte aligned, scanned for), then the FACS (64-byte aligned), RSDT, FADT, MADT. */
export const ACPI_RSDP_ADDRESS = 0xf_5a00;
export const FACS_ADDRESS = 0xf_5a40;
/** The FACS's Firmware Waking Vector (ACPI 6.4 Table 5-14: offset 12, 4 bytes). */
export const FACS_WAKING_VECTOR_OFFSET = 12;
const RSDT_ADDRESS = FACS_ADDRESS + 64;
const FADT_ADDRESS = RSDT_ADDRESS + 48;
const MADT_ADDRESS = FADT_ADDRESS + 116;

/** The local APIC and I/O APIC addresses (SDM Vol. 3 10.4.1; the pc machine's I/O APIC). */
const LAPIC_ADDRESS = 0xfee0_0000;
const IOAPIC_ADDRESS = 0xfec0_0000;

class Table {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.view = new DataView(this.bytes.buffer);
  }
  ascii(at: number, s: string): this {
    for (let i = 0; i < s.length; i++) this.bytes[at + i] = s.charCodeAt(i);
    return this;
  }
  u8(at: number, v: number): this {
    this.view.setUint8(at, v);
    return this;
  }
  u16(at: number, v: number): this {
    this.view.setUint16(at, v, true);
    return this;
  }
  u32(at: number, v: number): this {
    this.view.setUint32(at, v >>> 0, true);
    return this;
  }
  /** Set byte `at` so bytes [0, end) sum to zero mod 256. */
  checksum(at: number, end = this.bytes.length): this {
    this.bytes[at] = 0;
    let sum = 0;
    for (let i = 0; i < end; i++) sum += this.bytes[i]!;
    this.bytes[at] = (256 - (sum & 0xff)) & 0xff;
    return this;
  }
}

/** The 36-byte common header (5.2.6) with QEMU's OEM fields; the checksum is set by the caller last. */
function header(t: Table, signature: string, revision: number): Table {
  return t.ascii(0, signature).u32(4, t.bytes.length).u8(8, revision).ascii(10, "BOCHS ").ascii(16, `BXPC${signature}`).u32(24, 1).ascii(28, "BXPC").u32(32, 1);
}

/** The tables for a pc machine with `cpus` vCPUs: [physical address, bytes] pairs, in address order. */
export function acpiTables(cpus: number): [number, Uint8Array][] {
  const rsdp = new Table(20).ascii(0, "RSD PTR ").ascii(9, "BOCHS ").u8(15, 0).u32(16, RSDT_ADDRESS).checksum(8);
  const facs = new Table(64).ascii(0, "FACS").u32(4, 64);
  const rsdt = header(new Table(36 + 4 * 2), "RSDT", 1).u32(36, FADT_ADDRESS).u32(40, MADT_ADDRESS).checksum(9);
  const fadt = header(new Table(116), "FACP", 1)
    .u32(36, FACS_ADDRESS).u32(40, 0) // FIRMWARE_CTRL, DSDT (none: kvm-unit-tests read no AML)
    .u8(44, 1).u16(46, 9).u32(48, 0xb2).u8(52, 0xf1).u8(53, 0xf0) // INT_MODEL, SCI_INT, SMI_CMD, ACPI_ENABLE/DISABLE
    .u32(56, PM1A_EVT_BLK).u32(64, PM1A_CNT_BLK).u32(76, PM_TMR_BLK).u32(80, GPE0_BLK)
    .u8(88, 4).u8(89, 2).u8(91, 4).u8(92, 4) // PM1_EVT_LEN, PM1_CNT_LEN, PM_TMR_LEN, GPE0_BLK_LEN
    .u16(96, 0xfff).u16(98, 0xfff).u8(108, 0x32).u32(112, 0x80a5) // P_LVL2/3_LAT (none), CENTURY, flags
    .checksum(9);
  const lapics = cpus * 8;
  const madt = header(new Table(44 + lapics + 12 + 10), "APIC", 1).u32(36, LAPIC_ADDRESS).u32(40, 1); // PCAT_COMPAT
  for (let i = 0; i < cpus; i++) madt.u8(44 + 8 * i, 0).u8(45 + 8 * i, 8).u8(46 + 8 * i, i).u8(47 + 8 * i, i).u32(48 + 8 * i, 1); // enabled
  const io = 44 + lapics;
  madt.u8(io, 1).u8(io + 1, 12).u8(io + 2, 0).u32(io + 4, IOAPIC_ADDRESS).u32(io + 8, 0);
  madt.u8(io + 12, 2).u8(io + 13, 10).u8(io + 14, 0).u8(io + 15, 0).u32(io + 16, 2).u16(io + 20, 0); // ISA IRQ 0 → GSI 2, bus-conforming
  madt.checksum(9);
  return [[ACPI_RSDP_ADDRESS, rsdp.bytes], [FACS_ADDRESS, facs.bytes], [RSDT_ADDRESS, rsdt.bytes], [FADT_ADDRESS, fadt.bytes], [MADT_ADDRESS, madt.bytes]];
}

/** Write the tables into guest RAM (the firmware's work before -kernel's image runs). */
export function installAcpiTables(memory: GuestMemory, cpus: number): void {
  for (const [at, bytes] of acpiTables(cpus)) memory.writeBytes(at, bytes);
}
