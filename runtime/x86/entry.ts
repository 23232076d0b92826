// The state a guest's first instruction finds, by the mode its source asks for (`asm mode 16|32|64`):
//
// - 32, the default: the Multiboot hand-off (state.ts, multibootState): protected mode, paging
//   off, flat segments, loaded at X86_BOOT_BASE.
// - 16: real mode as a BIOS leaves a boot sector: loaded at 0x7c00, CS = DS = ES = SS = 0,
//   SP = 0x7c00 (Intel SDM Vol. 3 9.1.1 for the reset state; the 0x7c00 convention is the BIOS's).
// - 64: long mode as a 64-bit kernel entry finds it (Linux Documentation/arch/x86/boot.rst, "64-bit
//   boot protocol"; kvm-unit-tests x86/cstart64.S): CR0.PE|PG, CR4.PAE, EFER.LME|LMA, CS a 64-bit
//   code segment (selector 0x08), data segments 0x10, and page tables that identity-map the first
//   4 GiB with 2 MiB pages (RAM, and the MMIO holes above it, keep their addresses). The loader
//   writes the GDT and the tables into the top LOADER_RESERVED bytes of guest RAM, where guest code
//   is unlikely to write; the stack (RSP) starts just below them. Sources: Intel SDM Vol. 3 9.8.5
//   (initializing IA-32e mode), 4.5 (4-level paging, Table 4-15 2 MiB PDEs), 3.4.5 (descriptors).
// - A Linux bzImage (bzimage-load.ts) is entered in mode 64 or 32 by Linux's boot protocol
//   (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol" and "32-bit Boot Protocol"): the
//   GDT has __BOOT_CS at 0x10 and __BOOT_DS at 0x18, both flat 4 GiB; CS = __BOOT_CS, DS = ES =
//   SS = __BOOT_DS; interrupts off; RSI/ESI = struct boot_params, and (32-bit) EBP = EDI = EBX = 0.

import type { GuestMode } from "../core/machine.js";
import type { GuestMemory } from "../core/memory.js";
import { AR, CR0, CR4, EFER, FLAT_DATA_AR, multibootState } from "./state.js";
import type { X86Seg, X86State } from "./env.js";

/** Bytes at the top of RAM the 64-bit loader keeps for its GDT and page tables (8 pages). */
export const LOADER_RESERVED = 0x8000;
/** Where a mode-16 image is loaded and starts (CS:IP = 0000:7C00). */
export const REAL_MODE_BASE = 0x7c00n;

/** 64-bit code (L = 1, D = 0), present, DPL 0, in the VMX access-rights format (SDM Table 24-2). */
const CODE64_AR = 0xa09b;
const GDT = [0n, 0x00af_9b00_0000_ffffn, 0x00cf_9300_0000_ffffn];
/** Linux's boot GDTs: null, null, __BOOT_CS (0x10: 64-bit or flat 32-bit code), __BOOT_DS (0x18: flat data). */
const LINUX_GDT64 = [0n, 0n, 0x00af_9b00_0000_ffffn, 0x00cf_9300_0000_ffffn];
const LINUX_GDT32 = [0n, 0n, 0x00cf_9b00_0000_ffffn, 0x00cf_9300_0000_ffffn];
const BOOT_CS = 0x10, BOOT_DS = 0x18;
/** Page-table entry bits: present, writable, accessed, dirty, page size (SDM Vol. 3 Tables 4-14/4-15). */
const P = 1n, RW = 2n, A = 0x20n, D = 0x40n, PS = 0x80n;

/** Where the 64-bit loader puts things, for RAM ending at `ramTop`. */
export function loaderLayout(ramTop: number): { gdt: number; pml4: number; pdpt: number; pd: number; stack: number } {
  const base = ramTop - LOADER_RESERVED;
  return { gdt: base, pml4: base + 0x1000, pdpt: base + 0x2000, pd: base + 0x3000, stack: base };
}

function u64(memory: GuestMemory, pa: number, v: bigint): void {
  memory.write(pa, 8, v);
}

/** Write the GDT and the 4 GiB identity map into RAM below `ramTop`; the state that uses them. */
function longModeState(memory: GuestMemory, entry: bigint, ramTop: number, bootParams?: number): X86State {
  const l = loaderLayout(ramTop);
  const gdt = bootParams === undefined ? GDT : LINUX_GDT64;
  const [cs, ds] = bootParams === undefined ? [0x08, 0x10] : [BOOT_CS, BOOT_DS];
  gdt.forEach((d, i) => u64(memory, l.gdt + 8 * i, d));
  u64(memory, l.pml4, BigInt(l.pdpt) | P | RW | A);
  for (let g = 0; g < 4; g++) {
    u64(memory, l.pdpt + 8 * g, BigInt(l.pd + 0x1000 * g) | P | RW | A);
    for (let i = 0; i < 512; i++) u64(memory, l.pd + 0x1000 * g + 8 * i, (BigInt(g) << 30n) + (BigInt(i) << 21n) | P | RW | A | D | PS);
  }
  const s = multibootState(entry);
  const seg = (selector: number, attributes: number) => ({ selector, base: 0n, limit: 0xffff_ffff, attributes });
  for (const r of ["es", "ss", "ds", "fs", "gs"] as X86Seg[]) s.seg[r] = seg(ds, FLAT_DATA_AR);
  s.seg.cs = seg(cs, CODE64_AR);
  s.gpr = new Array<bigint>(16).fill(0n);
  s.gpr[4] = BigInt(l.stack);
  if (bootParams !== undefined) s.gpr[6] = BigInt(bootParams); // RSI
  return {
    ...s,
    mode: AR.l(CODE64_AR) ? "long64" : "compat",
    cr0: CR0.PE | CR0.ET | CR0.PG,
    cr3: BigInt(l.pml4),
    cr4: CR4.PAE,
    efer: EFER.LME | EFER.LMA,
    gdtr: { base: BigInt(l.gdt), limit: gdt.length * 8 - 1 },
  };
}

/** Linux's 32-bit boot protocol: multibootState's flat segments (CS 0x10, data 0x18) with its GDT in RAM, ESI = boot_params, the other GPRs 0. */
function linux32State(memory: GuestMemory, entry: bigint, ramTop: number, bootParams: number): X86State {
  const l = loaderLayout(ramTop);
  LINUX_GDT32.forEach((d, i) => u64(memory, l.gdt + 8 * i, d));
  const s = multibootState(entry);
  s.gpr = new Array<bigint>(16).fill(0n);
  s.gpr[6] = BigInt(bootParams); // ESI
  return { ...s, gdtr: { base: BigInt(l.gdt), limit: LINUX_GDT32.length * 8 - 1 } };
}

/** Real mode at 0000:7C00. */
function realModeState(entry: bigint): X86State {
  const s = multibootState(entry);
  const seg = (attributes: number) => ({ selector: 0, base: 0n, limit: 0xffff, attributes });
  for (const r of ["es", "ss", "ds", "fs", "gs"] as X86Seg[]) s.seg[r] = seg(0x93);
  s.seg.cs = seg(0x9b);
  s.gpr = new Array<bigint>(16).fill(0n);
  s.gpr[4] = REAL_MODE_BASE;
  return { ...s, mode: "real", cr0: CR0.ET };
}

/**
 * The initial register state for a guest of `mode` entered at `entry` (64: also writes the loader's
 * tables). With `bootParams` (a Linux bzImage's struct boot_params), Linux's 64- or 32-bit boot
 * protocol instead (mode 64 or 32; see the header).
 */
export function entryState(mode: GuestMode, entry: bigint, memory: GuestMemory, ramTop: number, bootParams?: number): X86State {
  if (mode === 64) return longModeState(memory, entry, ramTop, bootParams);
  if (mode === 32 && bootParams !== undefined) return linux32State(memory, entry, ramTop, bootParams);
  if (mode === 16) return realModeState(entry);
  return multibootState(entry);
}
