// The Linux x86 boot protocol's setup header and zero page, as a bootloader reads and writes them
// (Linux Documentation/arch/x86/boot.rst; the zero page's layout: Documentation/arch/x86/zero-page.rst
// and arch/x86/include/uapi/asm/bootparam.h). A bzImage is the real-mode setup (boot sector +
// setup_sects sectors of 512 bytes) followed by the protected-mode kernel; the setup header sits
// at 0x1f1 of the file and is copied, whole, into struct boot_params at the same offset.
// Placement (where QEMU puts what) is the loader's (bzimage-load.ts); this module parses and builds.

import { ExitlabError } from "../core/errors.js";
import { isElf } from "../core/image.js";

/** A setup header field: its name in boot.rst, file offset, size in bytes, the protocol that introduced it. */
export interface SetupHeaderField {
  name: string;
  offset: number;
  size: 1 | 2 | 4 | 8;
  /** The boot protocol version (0x0206 = 2.06) from which the field is valid; 0 = always. */
  since: number;
}

/**
 * The setup header, from boot.rst "The Real-Mode Kernel Header" (offset/size/protocol table; each
 * field's meaning in "Details of Header Fields"). One table: the parser, the zero page writer and
 * the tests read it.
 */
export const SETUP_HEADER: readonly SetupHeaderField[] = [
  { name: "setup_sects", offset: 0x1f1, size: 1, since: 0 },
  { name: "root_flags", offset: 0x1f2, size: 2, since: 0 },
  { name: "syssize", offset: 0x1f4, size: 4, since: 0x0204 },
  { name: "ram_size", offset: 0x1f8, size: 2, since: 0 },
  { name: "vid_mode", offset: 0x1fa, size: 2, since: 0 },
  { name: "root_dev", offset: 0x1fc, size: 2, since: 0 },
  { name: "boot_flag", offset: 0x1fe, size: 2, since: 0 },
  { name: "jump", offset: 0x200, size: 2, since: 0x0200 },
  { name: "header", offset: 0x202, size: 4, since: 0x0200 },
  { name: "version", offset: 0x206, size: 2, since: 0x0200 },
  { name: "realmode_swtch", offset: 0x208, size: 4, since: 0x0200 },
  { name: "start_sys_seg", offset: 0x20c, size: 2, since: 0x0200 },
  { name: "kernel_version", offset: 0x20e, size: 2, since: 0x0200 },
  { name: "type_of_loader", offset: 0x210, size: 1, since: 0x0200 },
  { name: "loadflags", offset: 0x211, size: 1, since: 0x0200 },
  { name: "setup_move_size", offset: 0x212, size: 2, since: 0x0200 },
  { name: "code32_start", offset: 0x214, size: 4, since: 0x0200 },
  { name: "ramdisk_image", offset: 0x218, size: 4, since: 0x0200 },
  { name: "ramdisk_size", offset: 0x21c, size: 4, since: 0x0200 },
  { name: "bootsect_kludge", offset: 0x220, size: 4, since: 0x0200 },
  { name: "heap_end_ptr", offset: 0x224, size: 2, since: 0x0201 },
  { name: "ext_loader_ver", offset: 0x226, size: 1, since: 0x0202 },
  { name: "ext_loader_type", offset: 0x227, size: 1, since: 0x0202 },
  { name: "cmd_line_ptr", offset: 0x228, size: 4, since: 0x0202 },
  { name: "initrd_addr_max", offset: 0x22c, size: 4, since: 0x0203 },
  { name: "kernel_alignment", offset: 0x230, size: 4, since: 0x0205 },
  { name: "relocatable_kernel", offset: 0x234, size: 1, since: 0x0205 },
  { name: "min_alignment", offset: 0x235, size: 1, since: 0x020a },
  { name: "xloadflags", offset: 0x236, size: 2, since: 0x020c },
  { name: "cmdline_size", offset: 0x238, size: 4, since: 0x0206 },
  { name: "hardware_subarch", offset: 0x23c, size: 4, since: 0x0207 },
  { name: "hardware_subarch_data", offset: 0x240, size: 8, since: 0x0207 },
  { name: "payload_offset", offset: 0x248, size: 4, since: 0x0208 },
  { name: "payload_length", offset: 0x24c, size: 4, since: 0x0208 },
  { name: "setup_data", offset: 0x250, size: 8, since: 0x0209 },
  { name: "pref_address", offset: 0x258, size: 8, since: 0x020a },
  { name: "init_size", offset: 0x260, size: 4, since: 0x020a },
  { name: "handover_offset", offset: 0x264, size: 4, since: 0x020b },
  { name: "kernel_info_offset", offset: 0x268, size: 4, since: 0x020f },
];

/** "HdrS" at 0x202 (boot.rst "Details of Header Fields": header, 0x53726448). */
export const HDRS_MAGIC = 0x5372_6448;
/** loadflags bit 0: the protected-mode code is loaded at 0x100000 (a bzImage; boot.rst loadflags). */
export const LOADED_HIGH = 0x01;
/** xloadflags bit 0: the kernel has the legacy 64-bit entry point at 0x200 (boot.rst xloadflags). */
export const XLF_KERNEL_64 = 0x01;
/** type_of_loader for QEMU (boot.rst "type_of_loader": 0xB = QEMU, version 0; hw/i386/x86.c writes 0xB0). */
export const TYPE_OF_LOADER_QEMU = 0xb0;
/** The oldest protocol exitlab loads: 2.06 gives cmdline_size (boot.rst "The Kernel Command Line"). */
export const MIN_PROTOCOL = 0x0206;
/** The 64-bit entry: load address + 0x200 (boot.rst "64-bit Boot Protocol"). */
export const STARTUP_64_OFFSET = 0x200;

/**
 * struct boot_params (the zero page) offsets outside the setup header, from
 * Documentation/arch/x86/zero-page.rst: ext_ramdisk_image 0x0c0, ext_ramdisk_size 0x0c4,
 * ext_cmd_line_ptr 0x0c8, e820_entries 0x1e8, e820_table 0x2d0 (E820_MAX_ENTRIES_ZEROPAGE = 128
 * entries of struct boot_e820_entry: addr u64, size u64, type u32 = 20 bytes).
 */
export const ZERO_PAGE = { size: 0x1000, e820Entries: 0x1e8, e820Table: 0x2d0, e820Max: 128, e820EntrySize: 20 } as const;

/** E820 address range types (ACPI 6.5 Table 15.1; arch/x86/include/asm/e820/types.h). */
export const E820 = { RAM: 1, RESERVED: 2 } as const;
/** One e820 entry: a guest-physical range and its type. */
export interface E820Entry {
  addr: number;
  size: number;
  type: number;
}

/** A parsed bzImage: its boot protocol, header fields by name, and the protected-mode kernel's bytes. */
export interface BzImage {
  /** Boot protocol version, e.g. 0x020f for 2.15. */
  protocol: number;
  /** Every field of SETUP_HEADER the protocol has (older fields read as 0 when absent). */
  header: Record<string, bigint>;
  /** The setup header's bytes, 0x1f1 up to its end (0x202 + the byte at 0x201; boot.rst "64-bit Boot Protocol"). */
  setupHeader: Uint8Array;
  /** The real-mode setup's size in bytes ((setup_sects || 4) + 1) * 512. */
  setupSize: number;
  /** The protected-mode kernel (the file after the setup). */
  kernel: Uint8Array;
  /** Entered in 64-bit mode (protocol >= 2.12 and xloadflags XLF_KERNEL_64) or in 32-bit mode. */
  entry64: boolean;
}

/** The version as boot.rst writes it: 0x020f → "2.15". */
export const protocolText = (v: number): string => `${v >> 8}.${(v & 0xff).toString().padStart(2, "0")}`;

function readField(view: DataView, f: SetupHeaderField): bigint {
  if (f.size === 8) return view.getBigUint64(f.offset, true);
  if (f.size === 4) return BigInt(view.getUint32(f.offset, true));
  if (f.size === 2) return BigInt(view.getUint16(f.offset, true));
  return BigInt(view.getUint8(f.offset));
}

/** Explains a file without the HdrS magic when it is something else we know (wrong arch, vmlinux, multiboot). */
function notBzImage(bytes: Uint8Array, name: string): ExitlabError {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The arm64 Image header's magic "ARM\x64" at 0x38 (Documentation/arch/arm64/booting.rst).
  if (bytes.length >= 0x40 && view.getUint32(0x38, true) === 0x644d_5241) {
    return new ExitlabError(`${name} is an arm64 Linux Image, not an x86 bzImage`, `boot it with \`vm boot arm64 image "${name}"\``);
  }
  if (isElf(bytes)) {
    const machine = bytes.length >= 20 ? view.getUint16(18, true) : 0;
    const what = machine === 62 ? "an x86-64 ELF file (a vmlinux?)" : machine === 3 ? "an x86 ELF file" : `an ELF file for machine ${machine}`;
    return new ExitlabError(`${name} is ${what}, not a bzImage: no setup header ("HdrS" at 0x202)`, machine === 3 ? "a multiboot ELF kernel boots with `vm boot x86_64 multiboot \"FILE\"`" : "the bzImage is arch/x86/boot/bzImage (Debian: /boot/vmlinuz-*)");
  }
  return new ExitlabError(`${name} is not a bzImage: no setup header ("HdrS" at 0x202)`, "x86 Linux kernels boot from their bzImage (arch/x86/boot/bzImage; Debian: /boot/vmlinuz-*); multiboot kernels with `multiboot`");
}

/**
 * Parse a bzImage (boot.rst "The Real-Mode Kernel Header", "Loading The Rest of The Kernel").
 * Throws ExitlabError naming `name` when the file is not a bzImage (no "HdrS"; an arm64 Image or
 * an ELF file are named as such), is truncated (shorter than its setup or than syssize says),
 * speaks a protocol older than MIN_PROTOCOL, or is a zImage (loadflags LOADED_HIGH clear).
 */
export function parseBzImage(bytes: Uint8Array, name: string): BzImage {
  if (bytes.length === 0) throw new ExitlabError(`${name} is empty`);
  if (bytes.length < 0x206) {
    if (bytes.length >= 0x40 || isElf(bytes)) throw notBzImage(bytes, name);
    throw new ExitlabError(`${name} is not a bzImage (or is truncated): ${bytes.length} bytes, and a bzImage's setup header alone reaches 0x206`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0x202, true) !== HDRS_MAGIC) throw notBzImage(bytes, name);
  const protocol = view.getUint16(0x206, true);
  const hint = "exitlab loads kernels with boot protocol 2.06 or later (Linux 2.6.22, 2007), as a bzImage";
  if (protocol < MIN_PROTOCOL) throw new ExitlabError(`${name} speaks boot protocol ${protocolText(protocol)}, older than ${protocolText(MIN_PROTOCOL)}`, hint);
  const headerEnd = 0x202 + view.getUint8(0x201);
  if (bytes.length < headerEnd) throw new ExitlabError(`${name} is truncated: ${bytes.length} bytes, its setup header ends at 0x${headerEnd.toString(16)}`);
  const header: Record<string, bigint> = {};
  for (const f of SETUP_HEADER) header[f.name] = f.since <= protocol && f.offset + f.size <= headerEnd ? readField(view, f) : 0n;
  if ((Number(header.loadflags) & LOADED_HIGH) === 0) throw new ExitlabError(`${name} is a zImage (loadflags LOADED_HIGH clear: its kernel runs at 0x10000)`, hint);
  // boot.rst setup_sects: "If this field is 0, the real value is 4."
  const setupSize = ((Number(header.setup_sects) || 4) + 1) * 512;
  if (bytes.length <= setupSize) throw new ExitlabError(`${name} is truncated: ${bytes.length} bytes, no protected-mode kernel after its ${setupSize}-byte setup (setup_sects ${header.setup_sects})`);
  const kernel = bytes.subarray(setupSize);
  const sys = Number(header.syssize) * 16;
  if (kernel.length < sys) throw new ExitlabError(`${name} is truncated: its protected-mode kernel is ${kernel.length} bytes, syssize says ${sys}`);
  const entry64 = protocol >= 0x020c && (Number(header.xloadflags) & XLF_KERNEL_64) !== 0;
  return { protocol, header, setupHeader: bytes.slice(0x1f1, headerEnd), setupSize, kernel, entry64 };
}

/** The field of SETUP_HEADER named `name`; throws for a name not in the table (a programming error). */
export function headerField(name: string): SetupHeaderField {
  const f = SETUP_HEADER.find((h) => h.name === name);
  if (!f) throw new Error(`no setup header field ${name}`);
  return f;
}

/**
 * struct boot_params for the 32/64-bit boot protocols (boot.rst "32-bit Boot Protocol": "the
 * bootloader ... allocate[s] ... struct boot_params ... initialize[s] it to all zero. Then the setup
 * header from offset 0x01f1 of kernel image ... [is] loaded into struct boot_params"), with the
 * header fields a loader writes (`set`, by SETUP_HEADER name) and the e820 table. Returns the 4 KiB.
 * Throws ExitlabError for more e820 entries than the zero page holds.
 */
export function bootParams(image: BzImage, set: Record<string, number>, e820: readonly E820Entry[]): Uint8Array {
  const page = new Uint8Array(ZERO_PAGE.size);
  page.set(image.setupHeader, 0x1f1);
  const view = new DataView(page.buffer);
  for (const [name, value] of Object.entries(set)) {
    const f = headerField(name);
    if (f.size === 8) view.setBigUint64(f.offset, BigInt(value), true);
    else if (f.size === 4) view.setUint32(f.offset, value >>> 0, true);
    else if (f.size === 2) view.setUint16(f.offset, value, true);
    else view.setUint8(f.offset, value);
  }
  if (e820.length > ZERO_PAGE.e820Max) throw new ExitlabError(`${e820.length} e820 entries: the zero page holds ${ZERO_PAGE.e820Max}`);
  view.setUint8(ZERO_PAGE.e820Entries, e820.length);
  e820.forEach((e, i) => {
    const at = ZERO_PAGE.e820Table + ZERO_PAGE.e820EntrySize * i;
    view.setBigUint64(at, BigInt(e.addr), true);
    view.setBigUint64(at + 8, BigInt(e.size), true);
    view.setUint32(at + 16, e.type, true);
  });
  return page;
}
