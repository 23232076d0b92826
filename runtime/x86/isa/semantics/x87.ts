// The x87 FPU's control and status words, as far as real guests touch them without computing:
// FNINIT, FLDCW, FNSTCW and FNSTSW (SDM Vol. 1 8.1.3 status word, 8.1.5 control word; Vol. 2A
// FINIT/FNINIT: FCW = 037FH, FSW = 0, FTW empty; Vol. 3 Table 9-1: after reset FCW = 0040H and
// FSW = 0). An x87 instruction with CR0.EM or CR0.TS set raises #NM (SDM Vol. 3 Table 2-2 and
// 12.1: "Device Not Available"). The register stack and arithmetic are not modelled.
// Also here: XLAT (SDM Vol. 2B XLAT/XLATB) and SALC (AL from CF; #UD in 64-bit mode, Intel
// documents it as reserved opcode D6, AMD as SALC: QEMU and KVM's emulator execute it).

import { VECTOR } from "../../vectors.js";
import { CF, effectiveAddress, flag, readGpr, readMem, writeGpr, writeMem, type MemOperand, type Sem } from "./core.js";

/** FCW after reset (SDM Vol. 3 Table 9-1) and after FNINIT (Vol. 2A FINIT/FNINIT). */
export const FCW_RESET = 0x40;
export const FCW_FINIT = 0x37f;
/** CR0.EM (bit 2) and CR0.TS (bit 3). */
const CR0_EM_TS = 0xcn;

/** #NM when CR0.EM or CR0.TS is set. */
function checkFpu(env: Parameters<Sem>[0]): void {
  if (env.state.cr0 & CR0_EM_TS) env.raise(VECTOR.NM);
}

/** FNINIT (arg 0), FLDCW m16 (1), FNSTCW m16 (2), FNSTSW m16 or AX (3). */
const x87ctl: Sem = (env, insn) => {
  checkFpu(env);
  const s = env.state;
  const op = insn.operands[0];
  switch (insn.spec.arg) {
    case 0:
      s.fpuCw = FCW_FINIT;
      s.fpuSw = 0;
      return;
    case 1: {
      const m = op as MemOperand;
      s.fpuCw = Number(readMem(env, m.seg, effectiveAddress(s, insn, m), 2));
      return;
    }
    default: {
      const v = BigInt(insn.spec.arg === 2 ? (s.fpuCw ?? FCW_RESET) : (s.fpuSw ?? 0));
      if (op?.kind !== "mem") return writeGpr(s, 0, 2, v);
      writeMem(env, op.seg, effectiveAddress(s, insn, op), 2, v);
    }
  }
};

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

export const X87_SEMANTICS: Record<string, Sem> = { x87ctl, xlat, salc };
