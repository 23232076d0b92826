// Binary arm64 guests as QEMU's -kernel loads them on mach-virt (hw/arm/boot.c, arm_load_kernel /
// load_aarch64_image): an ELF64 file by its PT_LOAD segments and e_entry; a Linux arm64 Image by
// its header (Documentation/arm64/booting.rst: text_offset at 0x08, image_size at 0x10, the magic
// "ARM\x64" at 0x38; an image_size of 0 means a kernel older than 3.17, loaded at text_offset
// 0x80000); anything else as a raw image at RAM base + 0x80000 (QEMU's KERNEL64_LOAD_ADDR), which
// is how kvm-unit-tests' arm64 .flat files boot. The pieces go to guest RAM; x0 = the device
// tree's address is the loader's (loader.ts).

import { ExitlabError } from "../core/errors.js";
import type { ImageSegment } from "../core/image.js";

/** Where a raw arm64 image goes, from RAM base (QEMU hw/arm/boot.c KERNEL64_LOAD_ADDR). */
export const RAW_IMAGE_OFFSET = 0x8_0000;
/** The arm64 Image header's magic, "ARM\x64" little-endian at offset 0x38 (booting.rst). */
const IMAGE_MAGIC = 0x644d_5241;
/** ELF e_machine for AArch64 (ELF for the Arm 64-bit Architecture, "EM_AARCH64"). */
const EM_AARCH64 = 183;
const EM_NAMES: Record<number, string> = { 3: "x86 (EM_386)", 40: "32-bit Arm (EM_ARM)", 62: "x86-64 (EM_X86_64)", 183: "AArch64", 243: "RISC-V" };

export interface ParsedImage {
  format: "elf" | "image" | "raw";
  segments: ImageSegment[];
  /** Guest-physical address of the first instruction. */
  entry: number;
}

/**
 * The segments and entry of an arm64 guest file for a machine whose RAM starts at `ramBase`.
 * Throws ExitlabError naming `name` and what is wrong: an empty or truncated file, an ELF file for
 * another architecture or class, an ELF without loadable segments.
 */
export function parseArm64Image(bytes: Uint8Array, ramBase: number, name: string): ParsedImage {
  if (bytes.length === 0) throw new ExitlabError(`${name} is empty`, "an arm64 guest file is an ELF file, a Linux arm64 Image or a raw image");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length >= 4 && view.getUint32(0, false) === 0x7f45_4c46) return parseElf(view, bytes, name);
  if (bytes.length >= 64 && view.getUint32(0x38, true) === IMAGE_MAGIC) {
    const textOffset = Number(view.getBigUint64(0x08, true));
    const imageSize = Number(view.getBigUint64(0x10, true));
    const offset = imageSize === 0 ? RAW_IMAGE_OFFSET : textOffset;
    const address = ramBase + offset;
    return { format: "image", segments: [{ address, bytes, zero: Math.max(0, imageSize - bytes.length) }], entry: address };
  }
  const address = ramBase + RAW_IMAGE_OFFSET;
  return { format: "raw", segments: [{ address, bytes, zero: 0 }], entry: address };
}

/** ELF64 little-endian, EM_AARCH64: PT_LOAD segments at p_paddr (System V gABI, "Program header"). */
function parseElf(view: DataView, bytes: Uint8Array, name: string): ParsedImage {
  const need = (n: number, what: string) => {
    if (bytes.length < n) throw new ExitlabError(`${name} is truncated: the ELF ${what} ends at byte ${n} but the file has ${bytes.length}`);
  };
  need(20, "identification");
  const cls = bytes[4], data = bytes[5];
  const machine = view.getUint16(18, data === 2 ? false : true);
  if (machine !== EM_AARCH64) {
    throw new ExitlabError(`${name} is an ELF file for ${EM_NAMES[machine] ?? `machine ${machine}`}, not AArch64`, "boot it on the matching architecture (x86 files: `vm boot x86_64 multiboot`)");
  }
  if (cls !== 2) throw new ExitlabError(`${name} is a 32-bit ELF file: an arm64 guest is ELF64`);
  if (data !== 1) throw new ExitlabError(`${name} is a big-endian ELF file: this machine runs little-endian guests`);
  need(64, "header");
  const le = true;
  const entry = Number(view.getBigUint64(24, le));
  const phoff = Number(view.getBigUint64(32, le));
  const phentsize = view.getUint16(54, le);
  const phnum = view.getUint16(56, le);
  need(phoff + phnum * phentsize, "program headers");
  const segments: ImageSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (view.getUint32(p, le) !== 1) continue; // PT_LOAD
    const offset = Number(view.getBigUint64(p + 8, le));
    const paddr = Number(view.getBigUint64(p + 24, le));
    const filesz = Number(view.getBigUint64(p + 32, le));
    const memsz = Number(view.getBigUint64(p + 40, le));
    need(offset + filesz, `segment ${i}`);
    segments.push({ address: paddr, bytes: bytes.subarray(offset, offset + filesz), zero: Math.max(0, memsz - filesz) });
  }
  if (segments.length === 0) throw new ExitlabError(`${name} has no loadable (PT_LOAD) segments`);
  return { format: "elf", segments, entry };
}
