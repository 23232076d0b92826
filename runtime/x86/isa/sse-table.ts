// The x87 control instructions, SSE/SSE2 data movement and logic, and the state-save instructions
// (FXSAVE, XSAVE) of exitlab's x86 table, in the notation of table.ts. Encodings: Intel SDM Vol. 2
// Appendix A, Table A-3 (two-byte opcodes, with the mandatory-prefix columns NP/66/F3/F2), Table
// A-6 (group 15: 0F AE) and Tables A-7..A-22 (x87 escape opcodes D8-DF); each instruction's page
// in Vol. 2 for its operand forms. AT&T mnemonics as objdump (binutils 2.40) prints them. The
// assembler does not produce these forms (noasm): guests write them as bytes or get them from
// GNU as. Semantics: semantics/sse.ts, semantics/x87.ts, semantics/xsave.ts.

import type { TableRow } from "./table.js";
import type { X86Spec } from "./types.js";

/** SSE/SSE2 bitwise operations in arg order (semantics/sse.ts sseLogic). */
export const SSE_LOGIC = ["and", "andn", "or", "xor"] as const;

/** The rows, built with table.ts's row function. */
export function sseRows(e: TableRow): X86Spec[] {
  const np = { prefix: "np" as const };
  const p66 = { prefix: 0x66 as const };
  const pf3 = { prefix: 0xf3 as const };
  const pf2 = { prefix: 0xf2 as const };
  const logic = SSE_LOGIC.flatMap((op, i) => {
    const opc = (0x54 + i).toString(16);
    const pOpc = ["db", "df", "eb", "ef"][i]!;
    return [
      e(`${op}ps`, `0f ${opc} /r`, "Vx,Wx", "sseLogic", "noasm nosfx", { ...np, arg: i }),
      e(`${op}pd`, `0f ${opc} /r`, "Vx,Wx", "sseLogic", "noasm nosfx", { ...p66, arg: i }),
      e(`p${op}`, `0f ${pOpc} /r`, "Vx,Wx", "sseLogic", "noasm nosfx", { ...p66, arg: i }),
    ];
  });
  return [
    // x87 control (SDM Vol. 2 FCLEX/FNCLEX, WAIT/FWAIT; FNINIT, FNSTSW, FNSTCW and FLDCW are in table.ts).
    e("fwait", "9b", "", "fwait", "noasm"),
    e("fnclex", "db /4", "", "fnclex", "reg rm=2 noasm"),
    // 128-bit moves (MOVUPS/MOVUPD/MOVDQU unaligned; MOVAPS/MOVAPD/MOVDQA/MOVNTPS/MOVNTDQ need 16-byte alignment: arg 1).
    e("movups", "0f 10 /r", "Vx,Wx", "sseMov", "noasm nosfx", { ...np, arg: 0 }),
    e("movups", "0f 11 /r", "Wx,Vx", "sseMov", "noasm nosfx", { ...np, arg: 0 }),
    e("movupd", "0f 10 /r", "Vx,Wx", "sseMov", "noasm nosfx", { ...p66, arg: 0 }),
    e("movupd", "0f 11 /r", "Wx,Vx", "sseMov", "noasm nosfx", { ...p66, arg: 0 }),
    e("movaps", "0f 28 /r", "Vx,Wx", "sseMov", "noasm nosfx", { ...np, arg: 1 }),
    e("movaps", "0f 29 /r", "Wx,Vx", "sseMov", "noasm nosfx", { ...np, arg: 1 }),
    e("movapd", "0f 28 /r", "Vx,Wx", "sseMov", "noasm nosfx", { ...p66, arg: 1 }),
    e("movapd", "0f 29 /r", "Wx,Vx", "sseMov", "noasm nosfx", { ...p66, arg: 1 }),
    e("movntps", "0f 2b /r", "Mx,Vx", "sseMov", "mem noasm nosfx", { ...np, arg: 1 }),
    e("movdqa", "0f 6f /r", "Vx,Wx", "sseMov", "noasm nosfx", { ...p66, arg: 1 }),
    e("movdqa", "0f 7f /r", "Wx,Vx", "sseMov", "noasm nosfx", { ...p66, arg: 1 }),
    e("movdqu", "0f 6f /r", "Vx,Wx", "sseMov", "noasm nosfx", { ...pf3, arg: 0 }),
    e("movdqu", "0f 7f /r", "Wx,Vx", "sseMov", "noasm nosfx", { ...pf3, arg: 0 }),
    e("movntdq", "0f e7 /r", "Mx,Vx", "sseMov", "mem noasm nosfx", { ...p66, arg: 1 }),
    // Scalar moves (MOVSS, MOVSD): register to register merges the low element, a load zeroes the rest.
    e("movss", "0f 10 /r", "Vx,Wd", "sseMovScalar", "noasm nosfx", { ...pf3, arg: 4 }),
    e("movss", "0f 11 /r", "Wd,Vx", "sseMovScalar", "noasm nosfx", { ...pf3, arg: 4 }),
    e("movsd", "0f 10 /r", "Vx,Wq", "sseMovScalar", "noasm nosfx", { ...pf2, arg: 8 }),
    e("movsd", "0f 11 /r", "Wq,Vx", "sseMovScalar", "noasm nosfx", { ...pf2, arg: 8 }),
    // MOVD/MOVQ (SDM Vol. 2 MOVD/MOVQ, MOVQ): into an XMM register zero-extended; out of one, its low 32/64 bits.
    e("movq", "0f 6e /r", "Vx,Ev", "sseMovZero", "w64 noasm nosfx", p66),
    e("movd", "0f 6e /r", "Vx,Ed", "sseMovZero", "noasm nosfx", p66),
    e("movq", "0f 7e /r", "Ev,Vx", "sseMovZero", "w64 noasm nosfx", p66),
    e("movd", "0f 7e /r", "Ed,Vx", "sseMovZero", "noasm nosfx", p66),
    e("movq", "0f 7e /r", "Vx,Wq", "sseMovZero", "noasm nosfx", pf3),
    e("movq", "0f d6 /r", "Wq,Vx", "sseMovZero", "noasm nosfx", p66),
    // ANDPS/ANDNPS/ORPS/XORPS, the PD forms and PAND/PANDN/POR/PXOR: one 128-bit bitwise operation each.
    ...logic,
    // Group 15 (Table A-6): MXCSR, FXSAVE/FXRSTOR and XSAVE/XRSTOR (REX.W: the 64-bit forms).
    e("ldmxcsr", "0f ae /2", "Md", "ldmxcsr", "mem noasm nosfx", np),
    e("stmxcsr", "0f ae /3", "Md", "stmxcsr", "mem noasm nosfx", np),
    e("fxsave64", "0f ae /0", "M", "fxsave", "mem w64 noasm nosfx", np),
    e("fxsave", "0f ae /0", "M", "fxsave", "mem noasm nosfx", np),
    e("fxrstor64", "0f ae /1", "M", "fxrstor", "mem w64 noasm nosfx", np),
    e("fxrstor", "0f ae /1", "M", "fxrstor", "mem noasm nosfx", np),
    e("xsave64", "0f ae /4", "M", "xsave", "mem w64 noasm nosfx", np),
    e("xsave", "0f ae /4", "M", "xsave", "mem noasm nosfx", np),
    e("xrstor64", "0f ae /5", "M", "xrstor", "mem w64 noasm nosfx", np),
    e("xrstor", "0f ae /5", "M", "xrstor", "mem noasm nosfx", np),
    ...avxRows(e),
  ];
}

/**
 * The VEX-encoded AVX moves and VZEROUPPER/VZEROALL (SDM Vol. 2 §2.3, Table A-3 "v" forms; each
 * instruction's VEX.128/VEX.256 encodings): VEX.L picks XMM or YMM operands (decode.ts). VEX.256
 * VMOVNTDQA is an AVX2 form (semantics/avx.ts). Semantics: semantics/avx.ts.
 */
function avxRows(e: TableRow): X86Spec[] {
  const v = (prefix: "np" | 0x66 | 0xf3, arg = 0) => ({ vex: true, prefix, arg });
  return [
    e("vmovups", "0f 10 /r", "Vx,Wx", "avxMov", "noasm nosfx", v("np")),
    e("vmovups", "0f 11 /r", "Wx,Vx", "avxMov", "noasm nosfx", v("np")),
    e("vmovupd", "0f 10 /r", "Vx,Wx", "avxMov", "noasm nosfx", v(0x66)),
    e("vmovupd", "0f 11 /r", "Wx,Vx", "avxMov", "noasm nosfx", v(0x66)),
    e("vmovaps", "0f 28 /r", "Vx,Wx", "avxMov", "noasm nosfx", v("np", 1)),
    e("vmovaps", "0f 29 /r", "Wx,Vx", "avxMov", "noasm nosfx", v("np", 1)),
    e("vmovapd", "0f 28 /r", "Vx,Wx", "avxMov", "noasm nosfx", v(0x66, 1)),
    e("vmovapd", "0f 29 /r", "Wx,Vx", "avxMov", "noasm nosfx", v(0x66, 1)),
    e("vmovntps", "0f 2b /r", "Mx,Vx", "avxMov", "mem noasm nosfx", v("np", 1)),
    e("vmovdqa", "0f 6f /r", "Vx,Wx", "avxMov", "noasm nosfx", v(0x66, 1)),
    e("vmovdqa", "0f 7f /r", "Wx,Vx", "avxMov", "noasm nosfx", v(0x66, 1)),
    e("vmovdqu", "0f 6f /r", "Vx,Wx", "avxMov", "noasm nosfx", v(0xf3)),
    e("vmovdqu", "0f 7f /r", "Wx,Vx", "avxMov", "noasm nosfx", v(0xf3)),
    e("vmovntdq", "0f e7 /r", "Mx,Vx", "avxMov", "mem noasm nosfx", v(0x66, 1)),
    e("vmovntdqa", "0f 38 2a /r", "Vx,Mx", "avxMov", "mem noasm nosfx", v(0x66, 1)),
    e("vzeroupper", "0f 77", "", "avxZero", "noasm", { ...v("np", 0), vexL: 0 }),
    e("vzeroall", "0f 77", "", "avxZero", "noasm", { ...v("np", 1), vexL: 1 }),
  ];
}
