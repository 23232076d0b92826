// Binary x86 guests as QEMU's -kernel loads a multiboot kernel (hw/i386/multiboot.c): the file
// must carry a Multiboot header (magic 0x1BADB002 in its first 8 KiB, 32-bit aligned; Multiboot
// Specification 0.6.96 §3.1.1); an ELF32 file (kvm-unit-tests' x86 .flat) is loaded by its PT_LOAD
// segments and entered at e_entry in 32-bit protected mode with EAX = 0x2BADB002 and EBX = the
// Multiboot information structure (§3.2–3.3), which QEMU places at 0x9500 with the command line
// after it. Loading is the loader's (loader.ts); this module reads the file and builds the info block.

import { ExitlabError } from "../core/errors.js";
import { isElf, readElf, type ImageSegment } from "../core/image.js";

/** Where QEMU puts the Multiboot information structure (hw/i386/multiboot.c: mbs.offset_mbinfo, 0x9500). */
export const MULTIBOOT_INFO_ADDRESS = 0x9500;
const MULTIBOOT_HEADER_MAGIC = 0x1bad_b002;
/** ELF e_machine for x86 (System V gABI, EM_386). */
const EM_386 = 3;

/**
 * The segments and entry of a multiboot ELF32 file. Throws ExitlabError naming `name` and what is
 * wrong: no Multiboot header, not ELF, ELF for another machine or class, truncated, no PT_LOAD.
 */
export function parseMultibootElf(bytes: Uint8Array, name: string): { segments: ImageSegment[]; entry: number } {
  if (bytes.length === 0) throw new ExitlabError(`${name} is empty`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header = -1;
  for (let o = 0; o + 12 <= Math.min(bytes.length, 8192); o += 4) {
    // magic, flags, checksum: the three sum to zero (mod 2^32).
    if (view.getUint32(o, true) === MULTIBOOT_HEADER_MAGIC && ((view.getUint32(o, true) + view.getUint32(o + 4, true) + view.getUint32(o + 8, true)) >>> 0) === 0) {
      header = o;
      break;
    }
  }
  if (header < 0) throw new ExitlabError(`${name} is not a multiboot kernel: no Multiboot header (magic 0x1badb002) in its first 8 KiB`, "x86 guests load as QEMU's -kernel loads multiboot kernels (kvm-unit-tests' x86 .flat files are)");
  if (!isElf(bytes)) {
    throw new ExitlabError(`${name} is a multiboot kernel but not an ELF file: the a.out-kludge load addresses are not supported`);
  }
  return readElf(bytes, name, { elfClass: 1, machine: EM_386, wanted: "a multiboot kernel is ELF32 for x86 (EM_386)" });
}

/** A module loaded with the kernel (QEMU's -initrd for a multiboot kernel): where it is, its string. */
export interface MultibootModule {
  /** First byte and the byte after its last, guest-physical (mod_start, mod_end). */
  start: number;
  end: number;
  /** Its string (QEMU: the -initrd text, i.e. the file name). */
  string: string;
}

/**
 * Where QEMU's multiboot loader puts the first module (hw/i386/multiboot.c: after the kernel image,
 * page aligned: mh_load_addr + TARGET_PAGE_ALIGN(kernel size), the kernel spanning its segments).
 */
export function firstModuleAddress(segments: readonly ImageSegment[]): number {
  const low = Math.min(...segments.map((s) => s.address));
  const high = Math.max(...segments.map((s) => s.address + s.bytes.length + s.zero));
  return low + Math.ceil((high - low) / 4096) * 4096;
}

/**
 * The Multiboot information structure at MULTIBOOT_INFO_ADDRESS, then the command line, the module
 * list (16 bytes each: mod_start, mod_end, string, reserved) and the modules' strings (Multiboot
 * Specification §3.3: flags bit 0 mem_lower/mem_upper in KiB, bit 2 cmdline, bit 3 mods).
 * Returns the bytes to write there.
 */
export function multibootInfo(ramBytes: number, cmdline: string, modules: readonly MultibootModule[] = []): Uint8Array {
  const cmdAt = 88;
  // No modules: mods_addr points at the command line, and the block ends after it (as before modules).
  const modsAt = modules.length ? Math.ceil((cmdAt + cmdline.length + 1) / 4) * 4 : cmdAt + cmdline.length + 1;
  let stringAt = modsAt + 16 * modules.length;
  const info = new Uint8Array(stringAt + modules.reduce((n, m) => n + m.string.length + 1, 0));
  const v = new DataView(info.buffer);
  const ascii = (at: number, s: string) => {
    for (let i = 0; i < s.length; i++) info[at + i] = s.charCodeAt(i) & 0xff;
  };
  v.setUint32(0, (1 << 0) | (1 << 2) | (1 << 3), true);
  v.setUint32(4, 640, true); // mem_lower: KiB below 1 MiB
  v.setUint32(8, Math.floor((ramBytes - 0x10_0000) / 1024), true); // mem_upper: KiB above 1 MiB
  v.setUint32(16, MULTIBOOT_INFO_ADDRESS + cmdAt, true); // cmdline
  v.setUint32(20, modules.length, true); // mods_count
  v.setUint32(24, MULTIBOOT_INFO_ADDRESS + (modules.length ? modsAt : cmdAt), true); // mods_addr
  ascii(cmdAt, cmdline);
  modules.forEach((m, i) => {
    const at = modsAt + 16 * i;
    v.setUint32(at, m.start, true);
    v.setUint32(at + 4, m.end, true);
    v.setUint32(at + 8, MULTIBOOT_INFO_ADDRESS + stringAt, true);
    ascii(stringAt, m.string);
    stringAt += m.string.length + 1;
  });
  return info;
}
