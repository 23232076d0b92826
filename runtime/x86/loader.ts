// Loading a guest: assemble the built-in source or the user's, place it in guest RAM (as the VMM
// copies a multiboot image), and find its entry point (`start`, else the base).

import type { GuestMemory } from "../core/memory.js";
import type { GuestMode, MachineOptions } from "../core/machine.js";
import { firstModuleAddress, MULTIBOOT_INFO_ADDRESS, multibootInfo, parseMultibootElf, type MultibootModule } from "./image.js";
import { readElfSymbols, writeSegments } from "../core/image.js";
import { ExitlabError } from "../core/errors.js";
import { assembleX86 } from "./isa/index.js";
import { X86_BOOT_BASE, X86_BOOT_SOURCE } from "../guests/x86_64/boot.js";
import { LOADER_RESERVED, REAL_MODE_BASE } from "./entry.js";
import { loadBzImage } from "./bzimage-load.js";

export const BUILTIN_GUESTS: Record<string, { source: string; doc: string }> = {
  boot: {
    source: X86_BOOT_SOURCE,
    doc: "kvm-unit-tests-like start-up: PAE, CR3, EFER.LME, paging on, long mode, serial output, isa-debug-exit",
  },
};

/**
 * The kernel's Multiboot command line as QEMU writes it: the -kernel file name, a space, then the
 * -append text (hw/i386/multiboot.c, load_multiboot: `snprintf(kcmdline, ..., "%s %s",
 * kernel_filename, kernel_cmdline)`). kvm-unit-tests' x86 start-up splits this whole line into
 * argv (x86/cstart64.S: mb_cmdline → __args → __setup_args), so argv[0] is the file name and
 * the test's arguments start at argv[1] (vmexit.c's test_wanted(..., av + 1, ac - 1)).
 * `fileName` defaults to "kernel" when the image came without one.
 */
export function multibootCmdline(fileName: string | undefined, append: string | undefined): string {
  return `${fileName ?? "kernel"} ${append ?? ""}`;
}

/**
 * Load the guest into RAM: a binary (`format` "multiboot", the default: a multiboot ELF kernel;
 * "bzimage": a Linux bzImage, bzimage-load.ts, with `bootParams` for the entry state), or
 * assemble the guest (in `mode`: 16 at 0x7c00, 32 or 64 at X86_BOOT_BASE; entry.ts) and copy it
 * into RAM; its entry is `start`, `_start` or the base. Throws AsmError, or ExitlabError when the
 * image does not fit RAM (for mode 64: below the loader's tables at the top `ramTop`).
 */
export function loadGuest(memory: GuestMemory, guest: NonNullable<MachineOptions["guest"]>, ramTop = Infinity): { entry: bigint; symbols: Map<string, bigint>; mode: GuestMode; bootParams?: number } {
  if ("image" in guest && guest.format === "bzimage") {
    // A Linux bzImage (bzimage-load.ts): entered by Linux's 64- or 32-bit boot protocol.
    const loaded = loadBzImage(memory, guest, Number.isFinite(ramTop) ? ramTop : 128 * 1024 * 1024);
    return { entry: loaded.entry, symbols: new Map(), mode: loaded.mode, bootParams: loaded.bootParams };
  }
  if ("image" in guest) {
    if (guest.format === "image") throw new ExitlabError("x86_64 boots no `image` format", "x86_64 loads multiboot kernels (`multiboot`) and Linux bzImages (`bzimage`), as QEMU's -kernel does");
    // A multiboot kernel (image.ts): its segments, the information structure, entered in mode 32;
    // its symbol table (if not stripped) names places in it (kvm-unit-tests' main).
    const name = guest.fileName ?? "the image";
    const { segments, entry } = parseMultibootElf(guest.image, name);
    for (const seg of segments) {
      const end = seg.address + seg.bytes.length + seg.zero;
      if (!memory.isRam(seg.address) || !memory.isRam(end - 1)) throw new ExitlabError(`${name}: a segment at 0x${seg.address.toString(16)}..0x${end.toString(16)} is outside guest RAM`);
    }
    const modules: MultibootModule[] = [];
    if (guest.initrd) {
      // QEMU's -initrd for a multiboot kernel: one module, after the kernel, page aligned.
      const mod = guest.initrdName ?? "the initrd";
      if (guest.initrd.length === 0) throw new ExitlabError(`${mod} is empty`, "a multiboot module is a file of at least one byte (QEMU's -initrd)");
      const start = firstModuleAddress(segments);
      const end = start + guest.initrd.length;
      if (!memory.isRam(start) || !memory.isRam(end - 1)) throw new ExitlabError(`${mod} (${guest.initrd.length} bytes at 0x${start.toString(16)}) does not fit guest RAM`, "give the guest more memory (`mem N`)");
      memory.writeBytes(start, guest.initrd);
      modules.push({ start, end, string: mod });
    }
    memory.writeBytes(MULTIBOOT_INFO_ADDRESS, multibootInfo(Number.isFinite(ramTop) ? ramTop : 128 * 1024 * 1024, multibootCmdline(guest.fileName, guest.append), modules));
    // The kernel last: QEMU's multiboot option ROM (pc-bios/optionrom/multiboot.S) reads the
    // information structure to 0x9500 first and the kernel after it, so a kernel whose image covers
    // 0x9500 (kvm-unit-tests' realmode.flat, linked at 0x8000) keeps its own bytes there.
    writeSegments(memory, segments);
    return { entry: BigInt(entry), symbols: readElfSymbols(guest.image), mode: 32 };
  }
  let source: string;
  let fileName: string | undefined;
  let mode: GuestMode = 32;
  if ("builtin" in guest) {
    const b = BUILTIN_GUESTS[guest.builtin];
    if (!b) throw new ExitlabError(`no built-in x86_64 guest named ${guest.builtin}`, `built-in guests: ${Object.keys(BUILTIN_GUESTS).join(", ")}`);
    source = b.source;
  } else {
    source = guest.source;
    fileName = guest.fileName;
    mode = guest.mode ?? 32;
  }
  // Sources start in 32-bit protected mode (the multiboot hand-off) unless they ask for 16 or 64.
  const program = assembleX86(source, { base: mode === 16 ? REAL_MODE_BASE : X86_BOOT_BASE, bits: mode, fileName });
  const end = Number(program.base) + program.bytes.length;
  const limit = mode === 64 ? ramTop - LOADER_RESERVED : ramTop;
  if (!memory.isRam(Number(program.base)) || !memory.isRam(end - 1) || end > limit) {
    throw new ExitlabError(`the guest image (${program.bytes.length} bytes at 0x${program.base.toString(16)}) does not fit guest RAM${mode === 64 ? " below the loader's page tables" : ""}`);
  }
  memory.writeBytes(Number(program.base), program.bytes);
  const entry = program.symbols.get("start") ?? program.symbols.get("_start") ?? program.base;
  return { entry, symbols: program.symbols, mode };
}
