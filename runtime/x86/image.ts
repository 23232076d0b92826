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

/**
 * The Multiboot information structure at MULTIBOOT_INFO_ADDRESS and the command line after it
 * (Multiboot Specification §3.3: flags bit 0 mem_lower/mem_upper in KiB, bit 2 cmdline, bit 3
 * mods with mods_count 0). Returns the bytes to write there.
 */
export function multibootInfo(ramBytes: number, cmdline: string): Uint8Array {
  const info = new Uint8Array(88 + cmdline.length + 1);
  const v = new DataView(info.buffer);
  v.setUint32(0, (1 << 0) | (1 << 2) | (1 << 3), true);
  v.setUint32(4, 640, true); // mem_lower: KiB below 1 MiB
  v.setUint32(8, Math.floor((ramBytes - 0x10_0000) / 1024), true); // mem_upper: KiB above 1 MiB
  v.setUint32(16, MULTIBOOT_INFO_ADDRESS + 88, true); // cmdline
  v.setUint32(20, 0, true); // mods_count
  v.setUint32(24, MULTIBOOT_INFO_ADDRESS + 88, true); // mods_addr (none)
  for (let i = 0; i < cmdline.length; i++) info[88 + i] = cmdline.charCodeAt(i) & 0xff;
  return info;
}
