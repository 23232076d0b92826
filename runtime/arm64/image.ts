// Binary arm64 guests as QEMU's -kernel loads them on mach-virt (hw/arm/boot.c, arm_load_kernel /
// load_aarch64_image): an ELF64 file by its PT_LOAD segments and e_entry; a Linux arm64 Image by
// its header (Documentation/arm64/booting.rst: text_offset at 0x08, image_size at 0x10, the magic
// "ARM\x64" at 0x38; an image_size of 0 means a kernel older than 3.17, loaded at text_offset
// 0x80000); anything else as a raw image at RAM base + 0x80000 (QEMU's KERNEL64_LOAD_ADDR), which
// is how kvm-unit-tests' arm64 .flat files boot. The pieces go to guest RAM; x0 = the device
// tree's address is the loader's (loader.ts).

import { ExitlabError } from "../core/errors.js";
import { isElf, readElf, type ImageSegment } from "../core/image.js";

/** Where a raw arm64 image goes, from RAM base (QEMU hw/arm/boot.c KERNEL64_LOAD_ADDR). */
export const RAW_IMAGE_OFFSET = 0x8_0000;
/** The arm64 Image header's magic, "ARM\x64" little-endian at offset 0x38 (booting.rst). */
const IMAGE_MAGIC = 0x644d_5241;
/** ELF e_machine for AArch64 (ELF for the Arm 64-bit Architecture, "EM_AARCH64"). */
const EM_AARCH64 = 183;

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
  if (isElf(bytes)) return parseElf(bytes, name);
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

/** ELF64 little-endian, EM_AARCH64 (ELF for the Arm 64-bit Architecture): its PT_LOAD segments. */
function parseElf(bytes: Uint8Array, name: string): ParsedImage {
  const elf = readElf(bytes, name, { elfClass: 2, machine: EM_AARCH64, wanted: "an arm64 guest is ELF64 for AArch64", hint: "boot it on the matching architecture (x86 files: `vm boot x86_64 multiboot`)" });
  return { format: "elf", ...elf };
}
