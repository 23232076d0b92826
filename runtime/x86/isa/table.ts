// The x86 instruction set of exitlab, described once. Every entry is one instruction form of the
// Intel SDM Vol. 2 opcode map (Appendix A, Tables A-2 one-byte opcodes, A-3 two-byte opcodes,
// A-6 ModRM opcode extensions), with the AT&T mnemonic objdump prints. The decoder, the
// disassembler, the assembler and the interpreter (semantics/*) all read this array; nothing else
// knows an opcode byte.
//
// Entry notation (`opc`): hex opcode bytes ("0f 20"), then "/r" (ModRM with a register operand),
// "/0".."/7" (ModRM.reg is an opcode extension) or nothing; a trailing "+r" on the last byte means
// the low 3 bits name a register. Flags: d64/f64 (64-bit operand size defaults/forced in long
// mode), i64/o64 (invalid/only in 64-bit mode), mem/reg (ModRM.mod restriction), o16/o32/o64
// (only with that operand size), rm=N (ModRM.rm with mod 3).

import type { OperandForm, X86Spec } from "./types.js";
import { CC_ALIASES, CC_NAMES } from "./types.js";
import { sseRows } from "./sse-table.js";

type Extra = Partial<Omit<X86Spec, "mnemonic" | "map" | "opcode" | "modrm" | "operands" | "sem">>;

function parseOpcode(opc: string): Pick<X86Spec, "map" | "opcode" | "modrm" | "ext" | "plusReg"> {
  const parts = opc.trim().split(/\s+/);
  let map: 0 | 1 | 2 | 3 = 0;
  let i = 0;
  if (parts[0] === "0f") {
    map = 1;
    i = 1;
    if (parts[1] === "38") (map = 2), (i = 2);
    else if (parts[1] === "3a") (map = 3), (i = 2);
  }
  let opText = parts[i]!;
  const plusReg = opText.endsWith("+r");
  if (plusReg) opText = opText.slice(0, -2);
  const opcode = parseInt(opText, 16);
  const tail = parts[i + 1];
  let modrm = false;
  let ext: number | undefined;
  if (tail === "/r") modrm = true;
  else if (tail !== undefined && /^\/[0-7]$/.test(tail)) (modrm = true), (ext = Number(tail[1]));
  return { map, opcode, modrm, ext, plusReg: plusReg || undefined };
}

function parseFlags(flags: string): Extra {
  const out: Extra = {};
  for (const f of flags.split(/\s+/).filter(Boolean)) {
    if (f === "d64" || f === "f64") out.size64 = f;
    else if (f === "i64" || f === "o64") out.modes = f;
    else if (f === "mem" || f === "reg") out.mod = f;
    else if (f === "o16") out.osize = 16;
    else if (f === "o32") out.osize = 32;
    else if (f === "w64") out.osize = 64;
    else if (f.startsWith("rm=")) out.rm = Number(f.slice(3));
    else if (f === "priv") out.privileged = true;
    else if (f === "rep") out.rep = "rep";
    else if (f === "repz") out.rep = "repz";
    else if (f === "comm") out.commutative = true;
    else if (f === "sfx") out.suffix = "always";
    else if (f === "nosfx") out.suffix = "never";
    else if (f === "noasm") out.noAsm = true;
    else throw new Error(`x86 table: unknown flag ${f}`);
  }
  return out;
}

/** One table row: mnemonic, opcode, operands (Intel order, comma separated), semantic, flags. */
export type TableRow = (mnemonic: string, opc: string, operands: string, sem: string, flags?: string, extra?: Extra) => X86Spec;

/** One table row: mnemonic, opcode, operands (Intel order, comma separated), semantic, flags. */
function e(mnemonic: string, opc: string, operands: string, sem: string, flags = "", extra: Extra = {}): X86Spec {
  const ops = operands ? (operands.split(",").map((s) => s.trim()) as OperandForm[]) : [];
  return { mnemonic, ...parseOpcode(opc), operands: ops, sem, ...parseFlags(flags), ...extra };
}

const ALU = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"];
const SHIFTS: [number, string][] = [[0, "rol"], [1, "ror"], [2, "rcl"], [3, "rcr"], [4, "shl"], [5, "shr"], [7, "sar"]];

function aluRows(): X86Spec[] {
  const rows: X86Spec[] = [];
  ALU.forEach((m, i) => {
    const b = i * 8;
    const h = (n: number) => n.toString(16).padStart(2, "0");
    rows.push(
      e(m, `${h(b)} /r`, "Eb,Gb", "alu", "", { arg: i }),
      e(m, `${h(b + 1)} /r`, "Ev,Gv", "alu", "", { arg: i }),
      e(m, `${h(b + 2)} /r`, "Gb,Eb", "alu", "", { arg: i }),
      e(m, `${h(b + 3)} /r`, "Gv,Ev", "alu", "", { arg: i }),
      // 83 (imm8) before the accumulator forms: at equal length GNU as prefers the byte immediate.
      e(m, `83 /${i}`, "Ev,Ibs", "alu", "", { arg: i }),
      e(m, `${h(b + 4)}`, "AL,Ib", "alu", "", { arg: i }),
      e(m, `${h(b + 5)}`, "rAX,Iz", "alu", "", { arg: i }),
      e(m, `80 /${i}`, "Eb,Ib", "alu", "", { arg: i }),
      e(m, `81 /${i}`, "Ev,Iz", "alu", "", { arg: i }),
      e(m, `82 /${i}`, "Eb,Ib", "alu", "i64 noasm", { arg: i }),
    );
  });
  return rows;
}

function shiftRows(): X86Spec[] {
  const rows: X86Spec[] = [];
  for (const [n, m] of SHIFTS) {
    const al = m === "shl" ? { aliases: ["sal"] } : {};
    rows.push(
      e(m, `d0 /${n}`, "Eb,One", "shift", "", { arg: n, ...al }),
      e(m, `d1 /${n}`, "Ev,One", "shift", "", { arg: n, ...al }),
      e(m, `d2 /${n}`, "Eb,CL", "shift", "", { arg: n, ...al }),
      e(m, `d3 /${n}`, "Ev,CL", "shift", "", { arg: n, ...al }),
      e(m, `c0 /${n}`, "Eb,Ib", "shift", "", { arg: n, ...al }),
      e(m, `c1 /${n}`, "Ev,Ib", "shift", "", { arg: n, ...al }),
    );
  }
  return rows;
}

function ccRows(): X86Spec[] {
  const rows: X86Spec[] = [];
  CC_NAMES.forEach((cc, n) => {
    const al = (p: string) => ({ aliases: (CC_ALIASES[n] ?? []).map((a) => p + a), arg: n });
    const h = (x: number) => x.toString(16).padStart(2, "0");
    rows.push(
      e("j" + cc, `${h(0x70 + n)}`, "Jb", "jcc", "", al("j")),
      e("j" + cc, `0f ${h(0x80 + n)}`, "Jz", "jcc", "f64", al("j")),
      e("set" + cc, `0f ${h(0x90 + n)} /0`, "Eb", "setcc", "", al("set")),
      e("cmov" + cc, `0f ${h(0x40 + n)} /r`, "Gv,Ev", "cmovcc", "", al("cmov")),
    );
  });
  return rows;
}

const SEGS = ["ES", "CS", "SS", "DS"] as const;

export const X86_TABLE: readonly X86Spec[] = [
  ...aluRows(),
  e("test", "84 /r", "Eb,Gb", "test", "comm"),
  e("test", "85 /r", "Ev,Gv", "test", "comm"),
  e("test", "a8", "AL,Ib", "test"),
  e("test", "a9", "rAX,Iz", "test"),
  e("test", "f6 /0", "Eb,Ib", "test"),
  e("test", "f7 /0", "Ev,Iz", "test"),
  e("not", "f6 /2", "Eb", "not"),
  e("not", "f7 /2", "Ev", "not"),
  e("neg", "f6 /3", "Eb", "neg"),
  e("neg", "f7 /3", "Ev", "neg"),
  e("mul", "f6 /4", "Eb", "mul"),
  e("mul", "f7 /4", "Ev", "mul"),
  e("imul", "f6 /5", "Eb", "imul1"),
  e("imul", "f7 /5", "Ev", "imul1"),
  e("div", "f6 /6", "Eb", "div"),
  e("div", "f7 /6", "Ev", "div"),
  e("idiv", "f6 /7", "Eb", "idiv"),
  e("idiv", "f7 /7", "Ev", "idiv"),
  e("imul", "0f af /r", "Gv,Ev", "imul"),
  e("imul", "6b /r", "Gv,Ev,Ibs", "imul"),
  e("imul", "69 /r", "Gv,Ev,Iz", "imul"),
  e("inc", "fe /0", "Eb", "incdec", "", { arg: 0 }),
  e("dec", "fe /1", "Eb", "incdec", "", { arg: 1 }),
  e("inc", "ff /0", "Ev", "incdec", "", { arg: 0 }),
  e("dec", "ff /1", "Ev", "incdec", "", { arg: 1 }),
  e("inc", "40+r", "Zv", "incdec", "i64", { arg: 0 }),
  e("dec", "48+r", "Zv", "incdec", "i64", { arg: 1 }),
  ...shiftRows(),
  // Bit tests and scans, byte swap, exchange-and-add, compare-and-exchange (SDM Vol. 2 BT..BTS, BSF/BSR, BSWAP, XADD, CMPXCHG).
  e("bt", "0f a3 /r", "Ev,Gv", "bt", "", { arg: 0 }),
  e("bts", "0f ab /r", "Ev,Gv", "bt", "", { arg: 1 }),
  e("btr", "0f b3 /r", "Ev,Gv", "bt", "", { arg: 2 }),
  e("btc", "0f bb /r", "Ev,Gv", "bt", "", { arg: 3 }),
  e("bt", "0f ba /4", "Ev,Ib", "bt", "", { arg: 0 }),
  e("bts", "0f ba /5", "Ev,Ib", "bt", "", { arg: 1 }),
  e("btr", "0f ba /6", "Ev,Ib", "bt", "", { arg: 2 }),
  e("btc", "0f ba /7", "Ev,Ib", "bt", "", { arg: 3 }),
  e("bsf", "0f bc /r", "Gv,Ev", "bsf", "", { prefix: "none", arg: 0 }),
  e("bsr", "0f bd /r", "Gv,Ev", "bsf", "", { prefix: "none", arg: 1 }),
  e("bswap", "0f c8+r", "Zv", "bswap"),
  e("xadd", "0f c0 /r", "Eb,Gb", "xadd"),
  e("xadd", "0f c1 /r", "Ev,Gv", "xadd"),
  e("cmpxchg", "0f b0 /r", "Eb,Gb", "cmpxchg"),
  e("cmpxchg", "0f b1 /r", "Ev,Gv", "cmpxchg"),
  // CMPXCHG8B/CMPXCHG16B (SDM Vol. 2A CMPXCHG8B/CMPXCHG16B; Table A-6 group 9): REX.W selects the 16-byte form.
  e("cmpxchg16b", "0f c7 /1", "M", "cmpxchg8b", "mem w64"),
  e("cmpxchg8b", "0f c7 /1", "M", "cmpxchg8b", "mem"),
  // POPCNT (F3 0F B8), LZCNT (F3 0F BD; without F3 it is BSR), MOVBE (0F 38 F0/F1 with a memory operand;
  // F2 0F 38 F0/F1 is CRC32, F3 is undefined: SDM Vol. 2 Table A-4): semantics/bits.ts.
  e("popcnt", "0f b8 /r", "Gv,Ev", "popcnt", "", { prefix: 0xf3 }),
  e("lzcnt", "0f bd /r", "Gv,Ev", "lzcnt", "", { prefix: 0xf3 }),
  e("movbe", "0f 38 f0 /r", "Gv,Ev", "movbe", "mem", { prefix: "norep" }),
  e("movbe", "0f 38 f1 /r", "Ev,Gv", "movbe", "mem", { prefix: "norep" }),
  e("lahf", "9f", "", "lahf"),
  // Double-precision shifts (SDM Vol. 2 SHLD, SHRD).
  e("shld", "0f a4 /r", "Ev,Gv,Ib", "shld", "", { arg: 0 }),
  e("shld", "0f a5 /r", "Ev,Gv,CL", "shld", "", { arg: 0 }),
  e("shrd", "0f ac /r", "Ev,Gv,Ib", "shld", "", { arg: 1 }),
  e("shrd", "0f ad /r", "Ev,Gv,CL", "shld", "", { arg: 1 }),
  // BCD adjustments (SDM Vol. 2 DAA, DAS, AAA, AAS, AAM, AAD), invalid in 64-bit mode.
  e("daa", "27", "", "daa", "i64", { arg: 0 }),
  e("das", "2f", "", "daa", "i64", { arg: 1 }),
  e("aaa", "37", "", "aaa", "i64", { arg: 0 }),
  e("aas", "3f", "", "aaa", "i64", { arg: 1 }),
  e("aam", "d4", "Ib", "aam", "i64", { arg: 0 }),
  e("aad", "d5", "Ib", "aam", "i64", { arg: 1 }),
  e("sahf", "9e", "", "sahf"),

  // Data movement.
  e("mov", "88 /r", "Eb,Gb", "mov"),
  e("mov", "89 /r", "Ev,Gv", "mov"),
  e("mov", "8a /r", "Gb,Eb", "mov"),
  e("mov", "8b /r", "Gv,Ev", "mov"),
  e("mov", "8c /r", "Mw,Sw", "mov", "mem"),
  e("mov", "8c /r", "Rv,Sw", "mov", "reg"),
  e("mov", "8e /r", "Sw,Mw", "movsreg", "mem"),
  e("mov", "8e /r", "Sw,Rv", "movsreg", "reg"),
  e("mov", "a0", "AL,Ob", "mov"),
  e("mov", "a1", "rAX,Ov", "mov"),
  e("mov", "a2", "Ob,AL", "mov"),
  e("mov", "a3", "Ov,rAX", "mov"),
  e("mov", "b0+r", "Zb,Ib", "mov"),
  e("mov", "b8+r", "Zv,Iv", "mov", "", { aliases: ["movabs"] }),
  e("mov", "c6 /0", "Eb,Ib", "mov"),
  e("mov", "c7 /0", "Ev,Iz", "mov"),
  e("mov", "0f 20 /r", "Ry,Cy", "movfromcr", "priv"),
  e("mov", "0f 22 /r", "Cy,Ry", "movtocr", "priv"),
  e("mov", "0f 21 /r", "Ry,Dy", "movfromdr", "priv"),
  e("mov", "0f 23 /r", "Dy,Ry", "movtodr", "priv"),
  e("movzb", "0f b6 /r", "Gv,Eb", "movzx", "sfx", { aliases: ["movzx"] }),
  e("movzw", "0f b7 /r", "Gv,Ew", "movzx", "sfx", { aliases: ["movzx"] }),
  e("movsb", "0f be /r", "Gv,Eb", "movsx", "sfx", { aliases: ["movsx"] }),
  e("movsw", "0f bf /r", "Gv,Ew", "movsx", "sfx", { aliases: ["movsx"] }),
  e("movsl", "63 /r", "Gv,Ed", "movsx", "o64 sfx", { aliases: ["movsxd"] }),
  e("lea", "8d /r", "Gv,M", "lea", "mem"),
  e("xchg", "86 /r", "Eb,Gb", "xchg", "comm"),
  e("xchg", "87 /r", "Ev,Gv", "xchg", "comm"),
  e("nop", "90", "", "nop", "", { prefix: "none", noRexB: true, no66: true }),
  e("pause", "90", "", "nop", "", { prefix: 0xf3 }),
  e("xchg", "90+r", "Zv,rAX", "xchg", "comm"),
  e("nop", "0f 1f /0", "Ev", "nop"),
  // The reserved-NOP space 0f 1e /r (SDM Vol. 2 NOP, Table A-3 "Hint NOP"): ENDBR64/ENDBR32 (f3 0f 1e fa/fb,
  // SDM Vol. 1 18.3 CET) are NOPs unless CET indirect-branch tracking is on (CET is not modelled), as is
  // every other form (RDSSP without shadow stacks).
  // Memory fences (SDM Vol. 2 LFENCE/MFENCE/SFENCE): ordering only, which one in-order vCPU already has.
  e("lfence", "0f ae /5", "", "nop", "reg rm=0", { prefix: "none" }),
  e("mfence", "0f ae /6", "", "nop", "reg rm=0", { prefix: "none" }),
  // NP 0F AE F8 (SDM Vol. 2B SFENCE): 66 0F AE F8 was PCOMMIT, withdrawn and never shipped; without
  // CPUID.7.0:EBX.PCOMMIT (none on the modelled CPUs) it is #UD, as QEMU 7.2 translate.c (case 0xf8:
  // "sfence / pcommit", illegal_op without CPUID_7_0_EBX_PCOMMIT) and the NP rule have it.
  e("sfence", "0f ae /7", "", "nop", "reg rm=0", { prefix: "np" }),
  // CLFLUSH (SDM Vol. 2 CLFLUSH): NP 0F AE /7 with a memory operand.
  e("clflush", "0f ae /7", "M", "clflush", "mem", { prefix: "none" }),
  e("endbr64", "0f 1e /7", "", "nop", "reg rm=2", { prefix: 0xf3 }),
  e("endbr32", "0f 1e /7", "", "nop", "reg rm=3", { prefix: 0xf3 }),
  e("nop", "0f 1e /r", "Ev", "nop", "noasm"),
  e("cbtw", "98", "", "cbw", "o16", { aliases: ["cbw"] }),
  e("cwtl", "98", "", "cbw", "", { osize: 32, aliases: ["cwde"] }),
  e("cltq", "98", "", "cbw", "w64", { aliases: ["cdqe"] }),
  e("cwtd", "99", "", "cwd", "o16", { aliases: ["cwd"] }),
  e("cltd", "99", "", "cwd", "", { osize: 32, aliases: ["cdq"] }),
  e("cqto", "99", "", "cwd", "w64", { aliases: ["cqo"] }),

  // Stack.
  e("push", "50+r", "Zv", "push", "d64"),
  e("pop", "58+r", "Zv", "pop", "d64"),
  e("push", "6a", "Ibs", "push", "d64"),
  e("push", "68", "Iz", "push", "d64"),
  e("push", "ff /6", "Ev", "push", "d64"),
  e("pop", "8f /0", "Ev", "pop", "d64"),
  ...SEGS.flatMap((s, i) => [
    e("push", (i * 8 + 6).toString(16).padStart(2, "0"), s, "pushseg", "i64"),
    ...(s === "CS" ? [] : [e("pop", (i * 8 + 7).toString(16).padStart(2, "0"), s, "popseg", "i64")]),
  ]),
  e("push", "0f a0", "FS", "pushseg", "d64"),
  e("pop", "0f a1", "FS", "popseg", "d64"),
  e("push", "0f a8", "GS", "pushseg", "d64"),
  e("pop", "0f a9", "GS", "popseg", "d64"),
  e("pushf", "9c", "", "pushf", "d64"),
  e("popf", "9d", "", "popf", "d64"),
  e("leave", "c9", "", "leave", "d64"),
  e("pushaw", "60", "", "pusha", "i64 o16 noasm"),
  e("pusha", "60", "", "pusha", "i64 noasm", { osize: 32 }),
  e("popaw", "61", "", "popa", "i64 o16 noasm"),
  e("popa", "61", "", "popa", "i64 noasm", { osize: 32 }),

  // Control transfer.
  ...ccRows(),
  e("jmp", "eb", "Jb", "jmp"),
  e("jmp", "e9", "Jz", "jmp", "f64"),
  e("jmp", "ff /4", "Ev", "jmpind", "f64"),
  e("ljmp", "ea", "Ap", "jmpfar", "i64"),
  e("ljmp", "ff /5", "Mp", "jmpfarind", "mem"),
  e("call", "e8", "Jz", "call", "f64"),
  e("call", "ff /2", "Ev", "callind", "f64"),
  e("lcall", "9a", "Ap", "callfar", "i64"),
  e("lcall", "ff /3", "Mp", "callfarind", "mem"),
  // Load far pointer (SDM Vol. 2A LDS/LES/LFS/LGS/LSS); C4/C5 are VEX in 64-bit mode (and with mod 3).
  e("les", "c4 /r", "Gv,Mp", "loadfar", "i64 mem", { arg: 0 }),
  e("lds", "c5 /r", "Gv,Mp", "loadfar", "i64 mem", { arg: 1 }),
  e("lss", "0f b2 /r", "Gv,Mp", "loadfar", "mem", { arg: 2 }),
  e("lfs", "0f b4 /r", "Gv,Mp", "loadfar", "mem", { arg: 3 }),
  e("lgs", "0f b5 /r", "Gv,Mp", "loadfar", "mem", { arg: 4 }),
  // XLAT, SALC (semantics/xlat.ts) and the x87 control/status words (semantics/x87.ts; FWAIT and FNCLEX are in sse-table.ts).
  e("xlat", "d7", "Bb", "xlat"),
  e("salc", "d6", "", "salc", "i64 noasm"),
  e("fninit", "db /4", "", "fninit", "reg rm=3"),
  e("fldcw", "d9 /5", "Mw", "fldcw", "mem"),
  e("fnstcw", "d9 /7", "Mw", "fnstcw", "mem"),
  e("fnstsw", "dd /7", "Mw", "fnstsw", "mem"),
  e("fnstsw", "df /4", "AX", "fnstsw", "reg rm=0"),
  e("ret", "c3", "", "ret", "f64"),
  e("ret", "c2", "Iw", "ret", "f64"),
  e("lret", "cb", "", "retfar"),
  e("lret", "ca", "Iw", "retfar"),
  e("iretw", "cf", "", "iret", "o16"),
  e("iret", "cf", "", "iret", "", { osize: 32, aliases: ["iretl"] }),
  e("iretq", "cf", "", "iret", "w64"),
  e("loopne", "e0", "Jb", "loop", "", { arg: 0, aliases: ["loopnz"] }),
  e("loope", "e1", "Jb", "loop", "", { arg: 1, aliases: ["loopz"] }),
  e("loop", "e2", "Jb", "loop", "", { arg: 2 }),
  e("jrcxz", "e3", "Jb", "jrcxz", "", { aliases: ["jecxz", "jcxz"] }),
  e("int3", "cc", "", "int3"),
  // INT1/ICEBP (SDM Vol. 2 INTn/INTO/INT3/INT1): a #DB trap that sets no DR6 condition bit.
  e("int1", "f1", "", "icebp"),
  e("int", "cd", "Ib", "int"),
  e("ud2", "0f 0b", "", "ud"),

  // String instructions (SDM Vol. 2 MOVS/STOS/LODS/CMPS/SCAS).
  e("movs", "a4", "Yb,Xb", "movs", "rep sfx"),
  e("movs", "a5", "Yv,Xv", "movs", "rep sfx"),
  e("cmps", "a6", "Xb,Yb", "cmps", "repz sfx"),
  e("cmps", "a7", "Xv,Yv", "cmps", "repz sfx"),
  e("stos", "aa", "Yb,AL", "stos", "rep"),
  e("stos", "ab", "Yv,rAX", "stos", "rep"),
  e("lods", "ac", "AL,Xb", "lods", "rep"),
  e("lods", "ad", "rAX,Xv", "lods", "rep"),
  e("scas", "ae", "AL,Yb", "scas", "repz"),
  e("scas", "af", "rAX,Yv", "scas", "repz"),
  e("ins", "6c", "Yb,DX", "ins", "rep sfx"),
  e("ins", "6d", "Yv,DX", "ins", "rep sfx"),
  e("outs", "6e", "DX,Xb", "outs", "rep sfx"),
  e("outs", "6f", "DX,Xv", "outs", "rep sfx"),

  // Flags.
  e("cmc", "f5", "", "flagop", "", { arg: 0 }),
  e("clc", "f8", "", "flagop", "", { arg: 1 }),
  e("stc", "f9", "", "flagop", "", { arg: 2 }),
  e("cli", "fa", "", "flagop", "", { arg: 3 }),
  e("sti", "fb", "", "flagop", "", { arg: 4 }),
  e("cld", "fc", "", "flagop", "", { arg: 5 }),
  e("std", "fd", "", "flagop", "", { arg: 6 }),
  // SDM Vol. 2B CLAC/STAC: EFLAGS.AC for SMAP; #UD at CPL > 0.
  e("clac", "0f 01 /1", "", "flagop", "reg rm=2", { arg: 7 }),
  e("stac", "0f 01 /1", "", "flagop", "reg rm=3", { arg: 8 }),

  // I/O ports.
  e("in", "e4", "AL,Ib", "in"),
  e("in", "e5", "eAX,Ib", "in"),
  e("in", "ec", "AL,DX", "in"),
  e("in", "ed", "eAX,DX", "in"),
  e("out", "e6", "Ib,AL", "out"),
  e("out", "e7", "Ib,eAX", "out"),
  e("out", "ee", "DX,AL", "out"),
  e("out", "ef", "DX,eAX", "out"),

  // System instructions.
  e("hlt", "f4", "", "hlt", "priv"),
  e("cpuid", "0f a2", "", "cpuid"),
  e("rdtsc", "0f 31", "", "rdtsc"),
  e("rdmsr", "0f 32", "", "rdmsr", "priv"),
  e("wrmsr", "0f 30", "", "wrmsr", "priv"),
  e("wbinvd", "0f 09", "", "wbinvd", "priv"),
  e("invd", "0f 08", "", "wbinvd", "priv"),
  e("clts", "0f 06", "", "clts", "priv"),
  // LDTR and TR (SDM Vol. 2 SLDT, STR, LLDT, LTR; Table A-6 group 6).
  e("sldt", "0f 00 /0", "Mw", "sysseg", "mem", { arg: 0 }),
  // GNU as writes `sldt %rax` / `str %rax` without REX.W (the selector is zero-extended either way).
  e("sldt", "0f 00 /0", "Ry", "sysseg", "reg o64", { arg: 0, asmOnly: true }),
  e("sldt", "0f 00 /0", "Rv", "sysseg", "reg", { arg: 0 }),
  e("str", "0f 00 /1", "Mw", "sysseg", "mem", { arg: 1 }),
  e("str", "0f 00 /1", "Ry", "sysseg", "reg o64", { arg: 1, asmOnly: true }),
  e("str", "0f 00 /1", "Rv", "sysseg", "reg", { arg: 1 }),
  e("lldt", "0f 00 /2", "Ew", "loadsysseg", "priv", { arg: 2 }),
  e("ltr", "0f 00 /3", "Ew", "loadsysseg", "priv", { arg: 3 }),
  e("sgdt", "0f 01 /0", "Ms", "sdt", "mem", { arg: 0 }),
  e("sidt", "0f 01 /1", "Ms", "sdt", "mem", { arg: 1 }),
  e("lgdt", "0f 01 /2", "Ms", "ldt", "mem priv", { arg: 0 }),
  e("lidt", "0f 01 /3", "Ms", "ldt", "mem priv", { arg: 1 }),
  e("smsw", "0f 01 /4", "Ev", "smsw", "nosfx"),
  e("lmsw", "0f 01 /6", "Ew", "lmsw", "priv nosfx"),
  e("invlpg", "0f 01 /7", "M", "invlpg", "mem priv"),
  e("vmcall", "0f 01 /0", "", "vmx", "reg rm=1", { arg: 0 }),
  e("vmlaunch", "0f 01 /0", "", "vmx", "reg rm=2", { arg: 1 }),
  e("vmresume", "0f 01 /0", "", "vmx", "reg rm=3", { arg: 2 }),
  e("vmxoff", "0f 01 /0", "", "vmx", "reg rm=4", { arg: 3 }),
  // AMD's hypercall (AMD APM Vol. 3 VMMCALL): #UD on Intel CPUs; KVM's emulator patches it (kvm/emulate.ts).
  e("vmmcall", "0f 01 /3", "", "ud", "reg rm=1"),
  e("xgetbv", "0f 01 /2", "", "xgetbv", "reg rm=0"),
  e("xsetbv", "0f 01 /2", "", "xsetbv", "reg rm=1"),
  e("swapgs", "0f 01 /7", "", "swapgs", "reg rm=0 o64 priv"),
  e("rdtscp", "0f 01 /7", "", "rdtscp", "reg rm=1"),
  // SDM Vol. 2B RDPKRU (0f 01 ee), WRPKRU (0f 01 ef): PKRU (semantics/pkeys.ts).
  e("rdpkru", "0f 01 /5", "", "rdpkru", "reg rm=6"),
  e("wrpkru", "0f 01 /5", "", "wrpkru", "reg rm=7"),
  // SDM Vol. 2B SYSCALL/SYSRET (semantics/syscall.ts); SYSRET without REX.W returns to compatibility mode.
  e("syscall", "0f 05", "", "syscall"),
  // One form: a size suffix picks the operand size (sysretl, sysretq = REX.W: back to 64-bit code), as GNU as does.
  e("sysret", "0f 07", "", "sysret"),
  // SDM Vol. 2B SYSENTER/SYSEXIT (semantics/sysenter.ts): IA32_SYSENTER_CS/ESP/EIP; REX.W SYSEXIT returns to 64-bit code.
  e("sysenter", "0f 34", "", "sysenter"),
  e("sysexit", "0f 35", "", "sysexit"),

  // x87 control, SSE/SSE2 moves and logic, FXSAVE/XSAVE (sse-table.ts).
  ...sseRows(e),
];

/** The #UD entry every undefined or unsupported encoding decodes to. */
export const UD_SPEC: X86Spec = {
  mnemonic: "(bad)",
  map: 0,
  opcode: -1,
  modrm: false,
  operands: [],
  sem: "ud",
};
