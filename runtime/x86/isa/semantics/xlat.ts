// XLAT and SALC (Intel SDM Vol. 2B XLAT/XLATB; SALC, D6, is undocumented in the SDM and defined by
// AMD's and QEMU's decoders: AL = CF ? 0xFF : 0, no flags change; #UD in 64-bit mode). kvm-unit-tests'
// realmode.c runs both.

import { CF, flag, readGpr, readMem, writeGpr, type MemOperand, type Sem } from "./core.js";

/** XLAT: AL = [seg:(rBX + AL)], the address size's rBX (the Bb operand), DS unless overridden. */
const xlat: Sem = (env, insn) => {
  const s = env.state;
  const m = insn.operands[0] as MemOperand;
  const size = m.addrSize;
  const mask = size === 8 ? (1n << 64n) - 1n : (1n << BigInt(size * 8)) - 1n;
  const at = (readGpr(s, 3, size) + readGpr(s, 0, 1)) & mask;
  writeGpr(s, 0, 1, readMem(env, m.seg, at, 1));
};

/** SALC: AL = 0xFF if CF, else 0; no flags change. */
const salc: Sem = (env) => {
  writeGpr(env.state, 0, 1, flag(env.state, CF) ? 0xffn : 0n);
};

export const XLAT_SEMANTICS: Record<string, Sem> = { xlat, salc };
