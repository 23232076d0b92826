// QEMU's isa-debug-exit device (hw/misc/debugexit.c), as kvm-unit-tests use it to end a test:
// a write of V to its port (0xf4 in kvm-unit-tests' configuration) makes QEMU exit with status
// (V << 1) | 1.

import type { PioDevice } from "./pio.js";

export const DEBUG_EXIT_PORT = 0xf4;

export class DebugExit implements PioDevice {
  readonly name = "isa-debug-exit";
  /** Set when the guest wrote: the value and QEMU's resulting exit status. */
  written: { value: number; status: number } | null = null;

  read(_offset: number, _size: number): number {
    return 0xffff_ffff;
  }

  write(_offset: number, size: number, value: number): void {
    const v = size === 4 ? value >>> 0 : value & ((1 << (8 * size)) - 1);
    this.written = { value: v, status: ((v << 1) | 1) >>> 0 };
  }
}
