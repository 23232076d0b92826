// Loading an arm64 guest as QEMU loads a kernel on mach-virt: assemble the built-in source or the
// user's, copy it into guest RAM at its base (0x40080000 by default), place the device tree blob
// at 0x44000000 and pass its address in x0; the entry is `start` (else `_start`, else the base).

import type { GuestMemory } from "../core/memory.js";
import type { GuestImage, MachineOptions } from "../core/machine.js";
import { parseArm64Image } from "./image.js";
import { writeSegments } from "../core/image.js";
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
  if ("image" in guest) return loadImage(memory, guest, layout);
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
  memory.writeBytes(ARM64_DTB_BASE, machVirtDtb(layout.ram, layout.uart, guest.append ?? "", layout.gic, layout.vcpus));
  return { entry: BigInt(parsed.entry), dtb: BigInt(ARM64_DTB_BASE), symbols: new Map() };
}
