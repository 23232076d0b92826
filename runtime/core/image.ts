// The part of loading a binary guest both machines share: the pieces of the file that go to
// guest RAM (an ELF PT_LOAD segment with its .bss, or a whole image), reading them from an ELF
// file, and copying them there.

import { ExitlabError } from "./errors.js";
import type { GuestMemory } from "./memory.js";

/** A piece of a guest file to copy into guest RAM. */
export interface ImageSegment {
  /** Guest-physical address. */
  address: number;
  bytes: Uint8Array;
  /** Bytes to clear after `bytes` (an ELF segment's p_memsz beyond p_filesz: .bss). */
  zero: number;
}

/** Copy the segments into guest memory and clear their zero-filled tails (the caller checked they fit RAM). */
export function writeSegments(memory: GuestMemory, segments: readonly ImageSegment[]): void {
  for (const seg of segments) {
    memory.writeBytes(seg.address, seg.bytes);
    if (seg.zero) memory.zero(seg.address + seg.bytes.length, seg.zero);
  }
}

/** ELF e_machine values (System V gABI, "ELF Header"; the processor supplements name them). */
export const ELF_MACHINES: Readonly<Record<number, string>> = {
  3: "x86 (EM_386)", 40: "32-bit Arm (EM_ARM)", 62: "x86-64 (EM_X86_64)", 183: "AArch64 (EM_AARCH64)", 243: "RISC-V (EM_RISCV)",
};

/** What a machine's loader accepts in an ELF file. */
export interface ElfExpectation {
  /** ELFCLASS: 1 (32-bit) or 2 (64-bit). */
  elfClass: 1 | 2;
  /** e_machine. */
  machine: number;
  /** The error when e_machine or the class differ (e.g. "an arm64 guest is ELF64 for AArch64 (EM_AARCH64)"). */
  wanted: string;
  /** A hint for a file of another machine (where such files boot). */
  hint?: string;
}

/** Whether the bytes start with the ELF magic (0x7f "ELF"). */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/**
 * The PT_LOAD segments (at p_paddr, with their p_memsz − p_filesz of .bss) and e_entry of a
 * little-endian ELF file of the expected class and machine (System V gABI: "ELF Header",
 * "Program Header"; ELF32 and ELF64 layouts). Addresses are numbers (exact below 2^53).
 * Throws ExitlabError naming `name` and what is wrong: truncated, another machine or class,
 * big-endian, no loadable segment.
 */
export function readElf(bytes: Uint8Array, name: string, want: ElfExpectation): { segments: ImageSegment[]; entry: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (n: number, what: string) => {
    if (bytes.length < n) throw new ExitlabError(`${name} is truncated: the ELF ${what} ends at byte ${n} but the file has ${bytes.length}`);
  };
  need(20, "identification");
  const cls = bytes[4], data = bytes[5];
  const machine = view.getUint16(18, data !== 2);
  if (machine !== want.machine || cls !== want.elfClass) {
    const what = ELF_MACHINES[machine] ?? `machine ${machine}`;
    throw new ExitlabError(`${name} is a ${cls === 2 ? "64-bit" : "32-bit"} ELF file for ${what}: ${want.wanted}`, machine !== want.machine ? want.hint : undefined);
  }
  if (data !== 1) throw new ExitlabError(`${name} is a big-endian ELF file: this machine runs little-endian guests`);
  const wide = cls === 2;
  need(wide ? 64 : 52, "header");
  // e_entry, e_phoff, e_phentsize, e_phnum: offsets by class (gABI "ELF Header").
  const word = (o: number) => (wide ? Number(view.getBigUint64(o, true)) : view.getUint32(o, true));
  const entry = word(24);
  const phoff = word(wide ? 32 : 28);
  const phentsize = view.getUint16(wide ? 54 : 42, true);
  const phnum = view.getUint16(wide ? 56 : 44, true);
  need(phoff + phnum * phentsize, "program headers");
  // p_offset, p_paddr, p_filesz, p_memsz: offsets in a program header by class.
  const [oOff, oPaddr, oFilesz, oMemsz] = wide ? [8, 24, 32, 40] : [4, 12, 16, 20];
  const segments: ImageSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (view.getUint32(p, true) !== 1) continue; // PT_LOAD
    const offset = word(p + oOff), paddr = word(p + oPaddr), filesz = word(p + oFilesz), memsz = word(p + oMemsz);
    need(offset + filesz, `segment ${i}`);
    segments.push({ address: paddr, bytes: bytes.subarray(offset, offset + filesz), zero: Math.max(0, memsz - filesz) });
  }
  if (segments.length === 0) throw new ExitlabError(`${name} has no loadable (PT_LOAD) segments`);
  return { segments, entry };
}

/**
 * The defined function, object and untyped symbols of a little-endian ELF file's symbol table
 * (SHT_SYMTAB, strings from its linked SHT_STRTAB; System V gABI "Sections", "Symbol Table"), name →
 * value; a global symbol wins over a local one of the same name. Stripped of symbols, or with a
 * section table that does not fit the file: an empty map (the program headers load the guest; its
 * symbols only name places in it).
 */
export function readElfSymbols(bytes: Uint8Array): Map<string, bigint> {
  const out = new Map<string, bigint>();
  if (!isElf(bytes) || bytes.length < 64 || bytes[5] !== 1) return out;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const wide = bytes[4] === 2;
  const word = (o: number) => (wide ? Number(view.getBigUint64(o, true)) : view.getUint32(o, true));
  // e_shoff, e_shentsize, e_shnum; in a section header sh_type, sh_offset, sh_size, sh_link (by class).
  const shoff = word(wide ? 40 : 32), shentsize = view.getUint16(wide ? 58 : 46, true), shnum = view.getUint16(wide ? 60 : 48, true);
  const [oType, oOffset, oSize, oLink] = wide ? [4, 24, 32, 40] : [4, 16, 20, 24];
  const fits = (o: number, n: number) => o >= 0 && n >= 0 && o + n <= bytes.length;
  if (shnum === 0 || shentsize < (wide ? 64 : 40) || !fits(shoff, shnum * shentsize)) return out;
  const global = new Set<string>();
  for (let i = 0; i < shnum; i++) {
    const sh = shoff + i * shentsize;
    if (view.getUint32(sh + oType, true) !== 2) continue; // SHT_SYMTAB
    const off = word(sh + oOffset), size = word(sh + oSize), link = view.getUint32(sh + oLink, true);
    if (!fits(off, size) || link >= shnum) continue;
    const strs = shoff + link * shentsize;
    const strOff = word(strs + oOffset), strSize = word(strs + oSize);
    if (!fits(strOff, strSize)) continue;
    const entsize = wide ? 24 : 16;
    for (let s = off; s + entsize <= off + size; s += entsize) {
      // Elf32_Sym: name, value, size, info, other, shndx; Elf64_Sym: name, info, other, shndx, value, size.
      const info = bytes[s + (wide ? 4 : 12)]!;
      const shndx = view.getUint16(s + (wide ? 6 : 14), true);
      const type = info & 0xf, binding = info >> 4;
      if (shndx === 0 || type > 2) continue; // undefined; STT_SECTION, STT_FILE and the rest
      const at = view.getUint32(s, true);
      if (at === 0 || at >= strSize) continue;
      let name = "";
      for (let c = strOff + at; c < strOff + strSize && bytes[c] !== 0; c++) name += String.fromCharCode(bytes[c]!);
      const value = wide ? view.getBigUint64(s + 8, true) : BigInt(view.getUint32(s + 4, true));
      if (global.has(name) || (out.has(name) && binding !== 1)) continue;
      out.set(name, value);
      if (binding === 1) global.add(name);
    }
  }
  return out;
}
