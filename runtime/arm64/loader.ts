// Loading an arm64 guest as QEMU loads a kernel on mach-virt: assemble the built-in source or the
// user's, copy it into guest RAM at its base (0x40080000 by default), place the device tree blob
// at 0x44000000 and pass its address in x0; the entry is `start` (else `_start`, else the base).

import type { GuestMemory } from "../core/memory.js";
import type { GuestImage, MachineOptions } from "../core/machine.js";
import { parseArm64Image } from "./image.js";
import { writeSegments, type ImageSegment } from "../core/image.js";
import { ExitlabError } from "../core/errors.js";
import { assembleA64 } from "./isa/index.js";
import { ARM64_BOOT_BASE, ARM64_BOOT_SOURCE, ARM64_DTB_BASE } from "../guests/arm64/boot.js";
import { machVirtDtb } from "../guests/arm64/dtb.js";

export const BUILTIN_GUESTS: Record<string, { source: string; doc: string }> = {
  boot: {
    source: ARM64_BOOT_SOURCE,
    doc: "kvm-unit-tests-like start-up: stack, bss, device tree header, 64 KiB page tables, TCR/MAIR/TTBR0/SCTLR (MMU and caches on), PL011 output, PSCI SYSTEM_OFF",
  },
};

export interface LoadedGuest {
  entry: bigint;
  dtb: bigint;
  symbols: Map<string, bigint>;
}

export function loadGuest(
  memory: GuestMemory,
  guest: NonNullable<MachineOptions["guest"]>,
  layout: { ram: { base: number; size: number }; uart: { base: number; size: number }; gic?: "v2" | "v3"; vcpus?: number },
): LoadedGuest {
  if ("image" in guest) {
    if (guest.format && guest.format !== "image") throw new ExitlabError(`arm64 boots no \`${guest.format}\` format`, "arm64 loads an ELF file, a Linux Image or a raw image (`image`), as QEMU's -kernel does");
    return loadImage(memory, guest, layout);
  }
  let source: string;
  let fileName: string | undefined;
  if ("builtin" in guest) {
    const b = BUILTIN_GUESTS[guest.builtin];
    if (!b) throw new ExitlabError(`no built-in arm64 guest named ${guest.builtin}`, `built-in guests: ${Object.keys(BUILTIN_GUESTS).join(", ")}`);
    source = b.source;
  } else {
    source = guest.source;
    fileName = guest.fileName;
  }
  const program = assembleA64(source, { base: ARM64_BOOT_BASE, fileName });
  const base = Number(program.base);
  if (!memory.isRam(base) || !memory.isRam(base + program.bytes.length - 1)) {
    throw new ExitlabError(`the guest image (${program.bytes.length} bytes at 0x${base.toString(16)}) does not fit guest RAM (0x${layout.ram.base.toString(16)}..)`);
  }
  if (base + program.bytes.length > ARM64_DTB_BASE && base < ARM64_DTB_BASE + 0x1_0000) {
    throw new ExitlabError(`the guest image overlaps the device tree at 0x${ARM64_DTB_BASE.toString(16)}`);
  }
  memory.writeBytes(base, program.bytes);
  memory.writeBytes(ARM64_DTB_BASE, machVirtDtb(layout.ram, layout.uart, undefined, layout.gic, layout.vcpus));
  const entry = program.symbols.get("start") ?? program.symbols.get("_start") ?? program.base;
  return { entry, dtb: BigInt(ARM64_DTB_BASE), symbols: program.symbols };
}

/**
 * A binary guest (image.ts): its segments into RAM, the mach-virt tree with `append` as
 * /chosen/bootargs at 0x44000000 (QEMU: RAM base + min(RAM / 2, 128 MiB) without an initrd), the
 * entry the file gives. Throws ExitlabError when a segment falls outside RAM or on the tree.
 */
function loadImage(memory: GuestMemory, guest: GuestImage, layout: { ram: { base: number; size: number }; uart: { base: number; size: number }; gic?: "v2" | "v3"; vcpus?: number }): LoadedGuest {
  const name = guest.fileName ?? "the image";
  const parsed = parseArm64Image(guest.image, layout.ram.base, name);
  const ramEnd = layout.ram.base + layout.ram.size;
  for (const seg of parsed.segments) {
    const end = seg.address + seg.bytes.length + seg.zero;
    if (seg.address < layout.ram.base || end > ramEnd) {
      throw new ExitlabError(`${name}: ${parsed.format === "elf" ? "a segment" : "the image"} at 0x${seg.address.toString(16)}..0x${end.toString(16)} is outside guest RAM (0x${layout.ram.base.toString(16)}..0x${ramEnd.toString(16)})`);
    }
    if (end > ARM64_DTB_BASE && seg.address < ARM64_DTB_BASE + 0x1_0000) throw new ExitlabError(`${name}: the image overlaps the device tree at 0x${ARM64_DTB_BASE.toString(16)}`);
  }
  writeSegments(memory, parsed.segments);
  const ramdisk = guest.initrd ? placeInitrd(memory, guest, parsed.segments, layout.ram) : undefined;
  // With an initrd the tree follows it, 2 MiB aligned (hw/arm/boot.c: "prealign it to 2MB" for AArch64).
  const dtb = ramdisk ? alignUp(ramdisk.end, DTB_ALIGN) : ARM64_DTB_BASE;
  if (dtb + DTB_ROOM > ramEnd) throw new ExitlabError(`${guest.initrdName ?? "the initrd"} (${guest.initrd!.length} bytes at 0x${ramdisk!.start.toString(16)}) leaves no room for the device tree below the end of guest RAM (0x${ramEnd.toString(16)})`, "give the guest more memory (`mem N`) or use a smaller initrd");
  memory.writeBytes(dtb, machVirtDtb(layout.ram, layout.uart, guest.append ?? "", layout.gic, layout.vcpus, ramdisk));
  return { entry: BigInt(parsed.entry), dtb: BigInt(dtb), symbols: new Map() };
}

/** The device tree's alignment after an initrd (QEMU hw/arm/boot.c, AArch64: 2 MiB) and the room kept for it. */
const DTB_ALIGN = 2 * 1024 * 1024;
const DTB_ROOM = 0x1_0000;
const alignUp = (v: number, a: number) => Math.ceil(v / a) * a;

/**
 * The initrd into RAM where QEMU's arm_setup_direct_kernel_boot puts it: RAM base + min(RAM / 2,
 * 128 MiB). Returns its bounds [start, end). Throws ExitlabError naming the file when it is empty,
 * does not fit RAM, or overlaps the image.
 */
function placeInitrd(memory: GuestMemory, guest: GuestImage, segments: readonly ImageSegment[], ram: { base: number; size: number }): { start: number; end: number } {
  const name = guest.initrdName ?? "the initrd";
  const bytes = guest.initrd!;
  if (bytes.length === 0) throw new ExitlabError(`${name} is empty`, "an initrd is a file of at least one byte (QEMU's -initrd)");
  const start = ram.base + Math.min(Math.floor(ram.size / 2), 128 * 1024 * 1024);
  const end = start + bytes.length;
  if (end > ram.base + ram.size) throw new ExitlabError(`${name} (${bytes.length} bytes at 0x${start.toString(16)}) does not fit guest RAM (0x${ram.base.toString(16)}..0x${(ram.base + ram.size).toString(16)})`, "give the guest more memory (`mem N`)");
  for (const seg of segments) {
    const segEnd = seg.address + seg.bytes.length + seg.zero;
    if (seg.address < end && segEnd > start) throw new ExitlabError(`${name} at 0x${start.toString(16)}..0x${end.toString(16)} overlaps the image (0x${seg.address.toString(16)}..0x${segEnd.toString(16)})`);
  }
  memory.writeBytes(start, bytes);
  return { start, end };
}
