// Loading a Linux bzImage as QEMU's -kernel does for a modern kernel (hw/i386/x86.c,
// x86_load_linux, protocol >= 2.02 with LOADED_HIGH): the protected-mode kernel at 0x100000, the
// command line at 0x20000, the initrd page-aligned at the top of memory below initrd_addr_max, and
// type_of_loader 0xb0. QEMU then enters the real-mode setup code through its option ROM
// (linuxboot_dma.bin), and the setup code asks the BIOS for the e820 map and switches to protected
// mode. exitlab has no BIOS, so it boots the kernel as a bootloader without one does, through the
// protocol boot.rst gives such loaders: it builds struct boot_params itself (the setup header
// copied in, the e820 table from the machine's memory map), skips the setup code, and enters
// through the "64-bit Boot Protocol" (startup_64 at load address + 0x200, RSI = boot_params, paging
// on with an identity map, __BOOT_CS 0x10 / __BOOT_DS 0x18) when the kernel has XLF_KERNEL_64, else
// through the "32-bit Boot Protocol" (the load address, ESI = boot_params, paging off, flat 4 GiB
// segments). The zero page goes where QEMU puts the setup code (real_addr, 0x10000).
// Like QEMU, the loader ignores pref_address and kernel_alignment: a relocatable kernel loaded at
// 1 MiB moves itself to an aligned address (the decompressor's startup_32/startup_64 compute it).

import type { GuestImage } from "../core/machine.js";
import type { GuestMemory } from "../core/memory.js";
import { ExitlabError } from "../core/errors.js";
import { bootParams, E820, type E820Entry, parseBzImage, STARTUP_64_OFFSET, TYPE_OF_LOADER_QEMU } from "./bzimage.js";
import { LOADER_RESERVED } from "./entry.js";

/** QEMU's addresses for a protocol >= 2.02 bzImage (hw/i386/x86.c: real_addr, cmdline_addr, prot_addr). */
export const BZ_LAYOUT = { bootParams: 0x1_0000, cmdline: 0x2_0000, kernel: 0x10_0000 } as const;
/** The legacy PC hole (VGA memory and the BIOS ROMs, 0xa0000–0x100000), absent from the e820 RAM. */
const LOW_RAM_END = 0xa_0000;

/** What the x86 loader needs to enter a loaded bzImage. */
export interface LoadedBzImage {
  entry: bigint;
  mode: 32 | 64;
  /** Guest-physical address of struct boot_params (RSI/ESI at entry). */
  bootParams: number;
}

/**
 * The e820 table the loader gives the kernel, from exitlab's pc memory map (RAM from 0 to
 * `ramTop`): usable RAM below the legacy hole and from 1 MiB to the loader's tables, which are
 * reserved (the GDT and page tables the kernel is entered on, entry.ts LOADER_RESERVED). Types:
 * ACPI 6.5 Table 15.1.
 */
export function e820Map(ramTop: number): E820Entry[] {
  const loader = ramTop - LOADER_RESERVED;
  return [
    { addr: 0, size: LOW_RAM_END, type: E820.RAM },
    { addr: BZ_LAYOUT.kernel, size: loader - BZ_LAYOUT.kernel, type: E820.RAM },
    { addr: loader, size: LOADER_RESERVED, type: E820.RESERVED },
  ];
}

/**
 * Load `guest` (a bzImage) into `memory` whose RAM ends at `ramTop`, as the header above says.
 * Throws ExitlabError naming the file: not a bzImage, too old, truncated (bzimage.ts); a kernel
 * whose init_size does not fit RAM; a command line longer than cmdline_size; an empty initrd or
 * one that does not fit between the kernel and initrd_addr_max.
 */
export function loadBzImage(memory: GuestMemory, guest: GuestImage, ramTop: number): LoadedBzImage {
  const name = guest.fileName ?? "the bzImage";
  const image = parseBzImage(guest.image, name);
  const h = image.header;
  const usable = ramTop - LOADER_RESERVED;
  // init_size (2.10+): the memory the kernel needs from its load address to decompress itself.
  const need = Math.max(image.kernel.length, Number(h.init_size));
  const kernelEnd = BZ_LAYOUT.kernel + need;
  if (kernelEnd > usable) {
    throw new ExitlabError(`${name} needs ${need} bytes from 0x${BZ_LAYOUT.kernel.toString(16)} (its ${h.init_size ? "init_size" : "size"}), more than the guest's ${ramTop >> 20} MiB of RAM leave`, `give the guest at least \`mem ${Math.ceil((kernelEnd + LOADER_RESERVED) / (1 << 20))}\` (MiB)`);
  }
  memory.writeBytes(BZ_LAYOUT.kernel, image.kernel);

  // boot.rst "The Kernel Command Line": at most cmdline_size bytes (2.06+), NUL-terminated.
  const cmdline = guest.append ?? "";
  const cmdlineMax = Number(h.cmdline_size);
  if (cmdline.length > cmdlineMax) throw new ExitlabError(`the command line is ${cmdline.length} bytes; ${name} takes at most ${cmdlineMax} (its setup header's cmdline_size)`, "shorten `append \"ARGS\"`");
  memory.writeBytes(BZ_LAYOUT.cmdline, Uint8Array.from([...cmdline].map((c) => c.charCodeAt(0) & 0xff).concat(0)));

  const set: Record<string, number> = {
    type_of_loader: TYPE_OF_LOADER_QEMU,
    cmd_line_ptr: BZ_LAYOUT.cmdline,
    // The protected-mode code's address (boot.rst code32_start: "defaults to the load address").
    code32_start: BZ_LAYOUT.kernel,
  };
  if (guest.initrd) {
    const rd = guest.initrdName ?? "the initrd";
    if (guest.initrd.length === 0) throw new ExitlabError(`${rd} is empty`, "an initrd is a file of at least one byte (QEMU's -initrd)");
    // hw/i386/x86.c: initrd_max = initrd_addr_max (2.03+), capped below the top of RAM (QEMU keeps
    // its ACPI tables there; exitlab its loader's tables); initrd_addr = (initrd_max - size) & ~4095.
    const initrdMax = Math.min(Number(h.initrd_addr_max), usable - 1);
    const at = Math.floor((initrdMax - guest.initrd.length) / 4096) * 4096;
    if (at < kernelEnd) {
      throw new ExitlabError(`${rd} (${guest.initrd.length} bytes) does not fit between ${name} (to 0x${kernelEnd.toString(16)}) and the initrd's highest address 0x${initrdMax.toString(16)} (initrd_addr_max, the top of RAM)`, "give the guest more memory (`mem N`) or use a smaller initrd");
    }
    memory.writeBytes(at, guest.initrd);
    set.ramdisk_image = at;
    set.ramdisk_size = guest.initrd.length;
  }
  memory.writeBytes(BZ_LAYOUT.bootParams, bootParams(image, set, e820Map(ramTop)));
  if (image.entry64) return { entry: BigInt(BZ_LAYOUT.kernel + STARTUP_64_OFFSET), mode: 64, bootParams: BZ_LAYOUT.bootParams };
  return { entry: BigInt(BZ_LAYOUT.kernel), mode: 32, bootParams: BZ_LAYOUT.bootParams };
}

