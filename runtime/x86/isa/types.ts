// Shapes shared by the x86 opcode table, the decoder, the disassembler, the assembler and the
// interpreter. One table entry (`X86Spec`) describes an instruction form the way the Intel SDM
// Vol. 2 opcode map (Appendix A) does: opcode bytes, ModRM use, operand forms, size attributes.

import type { X86Mode, X86Seg } from "../env.js";
import type { FastFn } from "./semantics/fast.js";

/**
 * Operand forms, in Intel (destination-first) order, after the SDM Vol. 2 Appendix A.2 notation:
 * E = ModRM r/m (register or memory), G = ModRM reg, I = immediate, J = relative branch,
 * Z = register in the low 3 opcode bits, S = segment register in ModRM reg, C/D = control/debug
 * register in ModRM reg, R = general register in ModRM r/m (mod must be 3), M = memory only,
 * O = moffs, A = far pointer immediate, X/Y = string source ds:rSI / destination es:rDI.
 * Size letters: b = 8, w = 16, d = 32, q = 64, v = operand size (16/32/64), z = 16/32
 * (imm32 sign-extended for 64), y = 32/64. `Ibs` = imm8 sign-extended to the operand size.
 */
export type OperandForm =
  | "Eb" | "Ew" | "Ed" | "Ev" | "Gb" | "Gw" | "Gv" | "Gy"
  | "Ib" | "Iw" | "Iz" | "Iv" | "Ibs"
  | "Jb" | "Jz"
  | "Zb" | "Zv"
  | "AL" | "AX" | "rAX" | "eAX" | "DX" | "CL" | "One"
  | "Sw" | "Cy" | "Dy" | "Ry" | "Rv"
  | "ES" | "CS" | "SS" | "DS" | "FS" | "GS"
  | "M" | "Mw" | "Ms" | "Mp" | "Ob" | "Ov" | "Ap"
  | "Xb" | "Xv" | "Yb" | "Yv"
  | "Vx" | "Wx" | "Wq" | "Wd" | "Mx" | "Md" | "AX"

  /** XLAT's table byte, DS:[rBX + AL] (SDM Vol. 2B XLAT; objdump prints it as %ds:(%rbx)). */
  | "Bb";

/** Semantic function names (runtime/x86/isa/semantics/*). */
export type SemName = string;

/**
 * Direct branches an address-size prefix (67h) does not change: a relative target or a far
 * pointer is sized by the operand size (SDM Vol. 2 JMP/CALL/Jcc). GNU as drops an addr16/addr32
 * written on them ("skipping prefixes"), so the disassembler does not print one either; loop and
 * jrcxz do count with the address size.
 */
export const ADDRESS_SIZE_IGNORED: ReadonlySet<SemName> = new Set(["jcc", "jmp", "call", "jmpfar", "callfar"]);

export interface X86Spec {
  /** AT&T base mnemonic as objdump prints it (without size suffix). */
  mnemonic: string;
  /** Opcode map: 0 = one-byte, 1 = 0F, 2 = 0F 38, 3 = 0F 3A. */
  map: 0 | 1 | 2 | 3;
  /** Opcode byte within the map (for `plusReg` forms, the base: low 3 bits are the register). */
  opcode: number;
  /** Low 3 opcode bits name a register (`+r` forms: push/pop/mov imm/xchg/bswap). */
  plusReg?: boolean;
  /** Uses a ModRM byte. */
  modrm: boolean;
  /** `/digit`: ModRM.reg is an opcode extension. */
  ext?: number;
  /** ModRM.mod restriction: "mem" = mod != 3, "reg" = mod == 3. */
  mod?: "mem" | "reg";
  /** ModRM.rm value required (with mod == 3) for 0F 01 C1-style encodings. */
  rm?: number;
  /** Operand forms, Intel order. */
  operands: OperandForm[];
  /** Semantic function. */
  sem: SemName;
  /** Condition code (jcc/setcc/cmovcc) or ALU operation index. */
  arg?: number;
  /** Operand size: "d64" defaults to 64 in long mode (push/pop), "f64" is forced 64 there (near branches). */
  size64?: "d64" | "f64";
  /** Only with this effective operand size (cbw/cwde/cdqe, iret/iretq ...). */
  osize?: 16 | 32 | 64;
  /** Invalid in 64-bit mode ("i64") or only valid there ("o64"). */
  modes?: "i64" | "o64";
  /**
   * Mandatory prefix (F3 90 = pause; 66/F2/F3 select SSE forms, SDM Vol. 2 §2.1.2). "none" = must
   * not have F3 (F3 90 is pause, F3 0F BC tzcnt); "np" = none of 66, F2, F3 (the SDM's "NP");
   * "norep" = neither F2 nor F3, 66 an operand-size override (MOVBE: F2 0F 38 F0 is CRC32).
   * A mandatory 66 does not change the operand size.
   */
  prefix?: 0xf3 | 0xf2 | 0x66 | "none" | "np" | "norep";
  /** 90: nop only without 66 (66 90 is `xchg %ax,%ax` to objdump). */
  no66?: boolean;
  /** 90: nop only without REX.B (41 90 is xchg %eax,%r8d). */
  noRexB?: boolean;
  /** Accepts a rep/repne prefix shown in disassembly (string instructions). */
  rep?: "rep" | "repz";
  /** AT&T operands commute for the assembler (xchg, test). */
  commutative?: boolean;
  /** Extra assembler spellings (jz for je, movzx for movzb...). */
  aliases?: string[];
  /** Disassembly always prints a size suffix (movsl, iretq...). "mem" = only with no register operand. */
  suffix?: "always" | "never";
  /** Not produced by the decoder (assembler-only alternative spelling). */
  asmOnly?: boolean;
  /** Decoded but never chosen by the assembler (82 /n, which GNU as does not emit). */
  noAsm?: boolean;
  /** Privileged (CPL 0) instruction. */
  privileged?: boolean;
  /** VEX-encoded (SDM Vol. 2 §2.3): the prefix comes from VEX.pp, the map from VEX.mmmmm. */
  vex?: boolean;
  /** Only with this VEX.L (0 = 128-bit, 1 = 256-bit): VZEROUPPER / VZEROALL. */
  vexL?: 0 | 1;
}

export type RegSize = 1 | 2 | 4 | 8;

export type X86Operand =
  | { kind: "reg"; reg: number; size: RegSize; high8?: boolean }
  | { kind: "imm"; value: bigint; size: RegSize }
  | {
      kind: "mem";
      seg: X86Seg;
      /** A segment-override prefix named the segment. */
      segOverride: boolean;
      base: number | null;
      index: number | null;
      scale: 1 | 2 | 4 | 8;
      /** Displacement, sign-extended (as a signed bigint). */
      disp: bigint;
      ripRelative: boolean;
      addrSize: 2 | 4 | 8;
      /** Bytes of displacement in the encoding (objdump prints `0x0(%rbp)` for an encoded zero). */
      dispBytes: number;
      /** Access size in bytes (0 = address only: lea, invlpg; 6/10 for lgdt). */
      size: number;
    }
  | { kind: "cr"; n: number }
  | { kind: "dr"; n: number }
  /** XMM register n (0-15); `ymm`: the whole 256-bit YMM register (a VEX.256 operand). */
  | { kind: "xmm"; n: number; ymm?: boolean }
  | { kind: "sreg"; seg: X86Seg; n: number }
  /** Relative branch: target = address of next instruction + disp. */
  | { kind: "rel"; disp: bigint; size: 1 | 2 | 4 }
  /** Far pointer immediate (ljmp $sel,$off). */
  | { kind: "far"; selector: number; offset: bigint };

export interface X86Prefixes {
  rep: boolean;
  repne: boolean;
  lock: boolean;
  seg: X86Seg | null;
  opsize: boolean;
  addrsize: boolean;
  /** REX byte (0 = none). */
  rex: number;
}

export interface X86Insn {
  spec: X86Spec;
  operands: X86Operand[];
  /** Effective operand size in bytes. */
  operandSize: 2 | 4 | 8;
  addressSize: 2 | 4 | 8;
  prefixes: X86Prefixes;
  length: number;
  bytes: Uint8Array;
  mode: X86Mode;
  /** A VEX prefix's vector length (L: 0 = 128, 1 = 256 bits) and register specifier (vvvv, un-inverted). */
  vex?: { l: 0 | 1; vvvv: number };
  /** The interpreter's compiled template (semantics/fast.ts), once asked for; null = BigInt semantics. */
  fast?: FastFn | null;
}

export const SEG_ORDER: X86Seg[] = ["es", "cs", "ss", "ds", "fs", "gs"];

/** General-purpose registers by register number, per operand size (SDM Vol. 2 Tables 2-2 and 3-1, REX.R/B extended). */
export const GPR64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
export const GPR32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"];
export const GPR16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di", "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"];
/** 8-bit registers with a REX prefix (spl..dil); without REX, 4..7 are ah, ch, dh, bh. */
export const GPR8 = ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"];
export const GPR8_HIGH = ["ah", "ch", "dh", "bh"];

export function regName(reg: number, size: RegSize, high8?: boolean): string {
  if (size === 1) return high8 ? GPR8_HIGH[reg]! : GPR8[reg]!;
  if (size === 2) return GPR16[reg]!;
  if (size === 4) return GPR32[reg]!;
  return GPR64[reg]!;
}

/** Condition-code suffixes in encoding order (SDM Vol. 1 Table B-1), as objdump prints them. */
export const CC_NAMES = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];
/** Other spellings GNU as accepts for the same conditions. */
export const CC_ALIASES: Record<number, string[]> = {
  2: ["c", "nae"],
  3: ["nc", "nb"],
  4: ["z"],
  5: ["nz"],
  6: ["na"],
  7: ["nbe"],
  10: ["pe"],
  11: ["po"],
  12: ["nge"],
  13: ["nl"],
  14: ["ng"],
  15: ["nle"],
};
