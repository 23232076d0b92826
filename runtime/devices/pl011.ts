// The PL011 UART of QEMU's mach-virt (at 0x09000000), emulated in the VMM: writes to UARTDR print,
// the flag register says the transmit FIFO is empty and nothing was received, the PrimeCell ID
// registers identify the part. Register offsets and ID values: Arm PrimeCell UART (PL011)
// Technical Reference Manual (DDI 0183), 3.2 "Summary of registers" and 3.3.14-3.3.15.

import type { MmioDevice } from "../core/bus.js";

export const PL011_BASE = 0x0900_0000;
export const PL011_SIZE = 0x1000;

const UARTDR = 0x000;
const UARTFR = 0x018;
const FR_RXFE = 1 << 4;
const FR_TXFE = 1 << 7;
/** UARTPeriphID0-3 and UARTPCellID0-3 at 0xfe0..0xffc. */
const ID_BYTES = [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

export class Pl011 implements MmioDevice {
  readonly name = "pl011";
  output = "";
  /** Other registers (control, baud rate, masks) keep what was written. */
  private readonly regs = new Map<number, bigint>();

  read(offset: number, _size: number): bigint {
    if (offset === UARTFR) return BigInt(FR_TXFE | FR_RXFE);
    if (offset === UARTDR) return 0n;
    if (offset >= 0xfe0 && offset <= 0xffc) return BigInt(ID_BYTES[(offset - 0xfe0) >> 2]!);
    return this.regs.get(offset) ?? 0n;
  }

  write(offset: number, _size: number, value: bigint): void {
    if (offset === UARTDR) this.output += String.fromCharCode(Number(value & 0xffn));
    else this.regs.set(offset, value);
  }
}
