// A small C printf for tracepoint formats, so each tracepoint is declared with the TP_printk
// string Linux used and its text cannot drift from the kernel's. Supports the conversions the
// KVM tracepoints use: %d %u %x %lx %llx %s %c with the flags '#', '0', '-' and a width.
// C semantics kept: '#' with x adds "0x" counted in the width ("%#08lx" of 0x40080000 is
// "0x40080000", of 0x7 is "0x000007"); a zero value under '#' prints as "0".

import { MASK64 } from "./bits.js";

export type PrintfArg = bigint | number | string | boolean;

const SPEC = /%([#0\- +]*)(\d*)(?:\.(\d+))?(hh|h|ll|l|z)?([diuxXsc%])/g;

export function printf(format: string, args: readonly PrintfArg[]): string {
  let i = 0;
  return format.replace(SPEC, (_m, flags: string, width: string, _prec, _len, conv: string) => {
    if (conv === "%") return "%";
    const arg = args[i++];
    if (arg === undefined) throw new Error(`printf: missing argument for %${conv} in "${format}"`);
    const w = width ? Number(width) : 0;
    const left = flags.includes("-");
    const zero = flags.includes("0") && !left;
    const alt = flags.includes("#");
    let body: string;
    let prefix = "";
    switch (conv) {
      case "s":
        body = String(arg);
        break;
      case "c":
        body = typeof arg === "string" ? arg : String.fromCharCode(Number(arg));
        break;
      case "x":
      case "X": {
        let v = BigInt(typeof arg === "boolean" ? Number(arg) : arg);
        if (v < 0n) v &= MASK64;
        body = v.toString(16);
        if (conv === "X") body = body.toUpperCase();
        if (alt && v !== 0n) prefix = conv === "X" ? "0X" : "0x";
        break;
      }
      default: {
        const v = BigInt(typeof arg === "boolean" ? Number(arg) : arg);
        if (v < 0n) {
          prefix = "-";
          body = (-v).toString(10);
        } else body = v.toString(10);
      }
    }
    const len = prefix.length + body.length;
    if (len >= w) return prefix + body;
    if (left) return prefix + body + " ".repeat(w - len);
    if (zero && conv !== "s" && conv !== "c") return prefix + "0".repeat(w - len) + body;
    return " ".repeat(w - len) + prefix + body;
  });
}
