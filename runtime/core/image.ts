// The part of loading a binary guest both machines share: the pieces of the file that go to
// guest RAM (an ELF PT_LOAD segment with its .bss, or a whole image) and copying them there.

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
    if (seg.zero) memory.writeBytes(seg.address + seg.bytes.length, new Uint8Array(seg.zero));
  }
}
