// Loading a guest: assemble the built-in source or the user's, place it in guest RAM (as the VMM
// copies a multiboot image), and find its entry point (`start`, else the base).

import type { GuestMemory } from "../core/memory.js";
import type { MachineOptions } from "../core/machine.js";
import { ExitlabError } from "../core/errors.js";
import { assembleX86 } from "./isa/index.js";
import { X86_BOOT_BASE, X86_BOOT_SOURCE } from "../guests/x86_64/boot.js";

export const BUILTIN_GUESTS: Record<string, { source: string; doc: string }> = {
  boot: {
    source: X86_BOOT_SOURCE,
    doc: "kvm-unit-tests-like start-up: PAE, CR3, EFER.LME, paging on, long mode, serial output, isa-debug-exit",
  },
};

export function loadGuest(memory: GuestMemory, guest: NonNullable<MachineOptions["guest"]>): { entry: bigint; symbols: Map<string, bigint> } {
  let source: string;
  let fileName: string | undefined;
  if ("builtin" in guest) {
    const b = BUILTIN_GUESTS[guest.builtin];
    if (!b) throw new ExitlabError(`no built-in x86_64 guest named ${guest.builtin}`, `built-in guests: ${Object.keys(BUILTIN_GUESTS).join(", ")}`);
    source = b.source;
  } else {
    source = guest.source;
    fileName = guest.fileName;
  }
  // Sources start in 32-bit protected mode (the multiboot hand-off) unless they say otherwise.
  const program = assembleX86(source, { base: X86_BOOT_BASE, bits: 32, fileName });
  if (!memory.isRam(Number(program.base)) || !memory.isRam(Number(program.base) + program.bytes.length - 1)) {
    throw new ExitlabError(`the guest image (${program.bytes.length} bytes at 0x${program.base.toString(16)}) does not fit guest RAM`);
  }
  memory.writeBytes(Number(program.base), program.bytes);
  const entry = program.symbols.get("start") ?? program.symbols.get("_start") ?? program.base;
  return { entry, symbols: program.symbols };
}
