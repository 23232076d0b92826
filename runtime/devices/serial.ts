// A 16550A UART at the PC's COM1 (0x3f8), enough for polled output: writing THR (offset 0 with
// DLAB = 0) prints a character; LSR (offset 5) always reports the transmitter empty (THRE | TEMT).
// Register map: National Semiconductor PC16550D data sheet, Table 2.

import type { PioDevice } from "./pio.js";

export const COM1_PORT = 0x3f8;
/** The 16550A decodes 8 ports (registers 0-7) from its base. */
export const COM1_SIZE = 8;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;

export class Serial16550 implements PioDevice {
  readonly name = "serial (16550A, COM1)";
  output = "";
  private readonly regs = new Uint8Array(8);
  private dll = 0;
  private dlm = 0;
  /** Most characters kept (a runaway guest printing forever must not exhaust memory). */
  constructor(private readonly capChars = 1 << 20) {}

  private get dlab(): boolean {
    return (this.regs[3]! & 0x80) !== 0;
  }

  read(offset: number, _size: number): number {
    switch (offset) {
      case 0:
        return this.dlab ? this.dll : 0; // RBR: no input modelled
      case 1:
        return this.dlab ? this.dlm : this.regs[1]!;
      case 2:
        return 0xc1; // IIR: FIFOs enabled, no interrupt pending
      case 5:
        return LSR_THRE | LSR_TEMT;
      case 6:
        return 0xb0; // MSR: DCD, DSR, CTS
      default:
        return this.regs[offset] ?? 0;
    }
  }

  write(offset: number, _size: number, value: number): void {
    value &= 0xff;
    if (offset === 0 && !this.dlab) {
      if (this.output.length < this.capChars) this.output += String.fromCharCode(value);
      return;
    }
    if (offset === 0) this.dll = value;
    else if (offset === 1 && this.dlab) this.dlm = value;
    else this.regs[offset] = value;
  }
}
