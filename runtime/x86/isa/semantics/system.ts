// System instructions: every effect that a hypervisor may intercept goes through X86Env (MOV CR/DR,
// LMSW/CLTS, RDMSR/WRMSR, IN/OUT, CPUID, RDTSC, HLT, INVLPG, WBINVD, LGDT/LIDT, segment loads).
// SDM Vol. 2 pages of each instruction; the VMX exits they may cause are the machine's business.

import type { X86Operand } from "../types.js";
import {
  CF, DF, IF, cpl, effectiveAddress, linearAddress, mask, readGpr, readMem, readOperand, writeGpr,
  writeMem, writeOperand, type MemOperand, type Sem,
} from "./core.js";
import { VECTOR } from "../../vectors.js";
import { isCanonical } from "../../canonical.js";
import { X86Regs } from "../../regs.js";

type Reg = Extract<X86Operand, { kind: "reg" }>;

const movfromcr: Sem = (env, insn) => {
  const [dst, src] = insn.operands as [Reg, Extract<X86Operand, { kind: "cr" }>];
  const v = env.readCr(src.n, dst.reg);
  writeGpr(env.state, dst.reg, dst.size, v);
};

const movtocr: Sem = (env, insn) => {
  const [dst, src] = insn.operands as [Extract<X86Operand, { kind: "cr" }>, Reg];
  env.writeCr(dst.n, readGpr(env.state, src.reg, src.size), src.reg);
};

const movfromdr: Sem = (env, insn) => {
  const [dst, src] = insn.operands as [Reg, Extract<X86Operand, { kind: "dr" }>];
  writeGpr(env.state, dst.reg, dst.size, env.readDr(src.n, dst.reg));
};

const movtodr: Sem = (env, insn) => {
  const [dst, src] = insn.operands as [Extract<X86Operand, { kind: "dr" }>, Reg];
  env.writeDr(dst.n, readGpr(env.state, src.reg, src.size), src.reg);
};

const lmsw: Sem = (env, insn) => {
  env.lmsw(Number(readOperand(env, insn, insn.operands[0]!) & 0xffffn));
};

/**
 * SMSW: CR0 as the guest reads it — in VMX non-root operation the bits of the CR0 guest/host mask
 * come from the CR0 read shadow, as for MOV from CR0 (SDM Vol. 3 26.3 "Changes to Instruction
 * Behavior in VMX Non-Root Operation", SMSW and MOV from CR0); SMSW itself never exits. A register
 * destination takes the operand size's bits of CR0 (what Intel processors store: the 32-bit form's
 * high half is "undefined" in the SDM but CR0's), memory the low 16 bits.
 */
const smsw: Sem = (env, insn) => {
  const dst = insn.operands[0]!;
  const v = env.readCr(0, 0, true) & (dst.kind === "reg" ? mask(dst.size) : 0xffffn);
  writeOperand(env, insn, dst.kind === "mem" ? { ...dst, size: 2 } : dst, v);
};

const clts: Sem = (env) => env.clts();

/** EDX:EAX pair writes zero-extend in 64-bit mode (32-bit register writes). */
function writeEdxEax(env: Parameters<Sem>[0], v: bigint): void {
  // On the register halves when the state has them (X86Regs: r[i] low, r[16 + i] high), as handle_cpuid does.
  const r = (env.state as { r?: Int32Array }).r;
  if (r) {
    r[0] = Number(v & 0xffff_ffffn) | 0;
    r[16] = 0;
    r[2] = Number((v >> 32n) & 0xffff_ffffn) | 0;
    r[18] = 0;
    return;
  }
  writeGpr(env.state, 0, 4, v & 0xffff_ffffn);
  writeGpr(env.state, 2, 4, (v >> 32n) & 0xffff_ffffn);
}

const rdmsr: Sem = (env) => {
  const v = env.rdmsr(Number(readGpr(env.state, 1, 4)));
  writeEdxEax(env, v);
};

const wrmsr: Sem = (env) => {
  const s = env.state;
  env.wrmsr(Number(readGpr(s, 1, 4)), (readGpr(s, 2, 4) << 32n) | readGpr(s, 0, 4));
};

const rdtsc: Sem = (env) => writeEdxEax(env, env.rdtsc());

/** RDTSCP: TSC and IA32_TSC_AUX (MSR 0xC0000103) in ECX. */
const rdtscp: Sem = (env) => {
  const tsc = env.rdtsc();
  const aux = env.rdmsr(0xc0000103);
  writeEdxEax(env, tsc);
  writeGpr(env.state, 1, 4, aux & 0xffff_ffffn);
};

/** SWAPGS: exchange GS.base with IA32_KERNEL_GS_BASE (MSR 0xC0000102). */
const swapgs: Sem = (env) => {
  const s = env.state;
  const k = env.rdmsr(0xc0000102);
  env.wrmsr(0xc0000102, s.seg.gs.base);
  s.seg.gs.base = k;
};

const cpuid: Sem = (env) => {
  const s = env.state;
  const r = env.cpuid(Number(readGpr(s, 0, 4)), Number(readGpr(s, 1, 4)));
  writeGpr(s, 0, 4, BigInt(r.eax >>> 0));
  writeGpr(s, 3, 4, BigInt(r.ebx >>> 0));
  writeGpr(s, 1, 4, BigInt(r.ecx >>> 0));
  writeGpr(s, 2, 4, BigInt(r.edx >>> 0));
};

/** IN/OUT: the port is imm8 or DX; the data register is AL/AX/EAX. */
function portOf(env: Parameters<Sem>[0], op: X86Operand): number {
  return op.kind === "imm" ? Number(op.value & 0xffn) : Number(readGpr(env.state, 2, 2));
}

const inOp: Sem = (env, insn) => {
  const [dst, port] = insn.operands as [Reg, X86Operand];
  const v = env.in(portOf(env, port), dst.size as 1 | 2 | 4);
  writeGpr(env.state, 0, dst.size, BigInt(v >>> 0));
};

const outOp: Sem = (env, insn) => {
  const [port, src] = insn.operands as [X86Operand, Reg];
  env.out(portOf(env, port), src.size as 1 | 2 | 4, Number(readGpr(env.state, 0, src.size)));
};

const hlt: Sem = (env) => env.hlt();
const wbinvd: Sem = (env) => env.wbinvd();

const invlpg: Sem = (env, insn) => {
  env.invlpg(linearAddress(env.state, insn, insn.operands[0] as MemOperand));
};

/**
 * CLFLUSH m8: no caches are modelled, so only the access remains; it "is subject to all permission
 * checking and faults associated with a byte load" (SDM Vol. 2 CLFLUSH), paging and EPT included.
 */
const clflush: Sem = (env, insn) => {
  const m = insn.operands[0] as MemOperand;
  readMem(env, m.seg, effectiveAddress(env.state, insn, m), 1);
};

/** CR4.OSXSAVE (bit 18): XSETBV/XGETBV are #UD without it (SDM Vol. 2 XSETBV, XGETBV). */
const CR4_OSXSAVE = 1n << 18n;

/**
 * XSETBV: #UD if CR4.OSXSAVE = 0 (or no env support), #GP(0) at CPL > 0 — both take priority over
 * the VM exit (SDM Vol. 3 25.1.1) — then XCR[ECX] = EDX:EAX through the env (which exits in VMX
 * non-root operation, 25.1.2; KVM's handle_xsetbv checks the value).
 */
const xsetbv: Sem = (env) => {
  const s = env.state;
  if (!env.xsetbv || !(s.cr4 & CR4_OSXSAVE)) return env.raise(VECTOR.UD);
  if (cpl(s) !== 0) env.raise(VECTOR.GP, 0);
  env.xsetbv(Number(readGpr(s, 1, 4)), (readGpr(s, 2, 4) << 32n) | readGpr(s, 0, 4));
};

/** XGETBV: #UD if CR4.OSXSAVE = 0; EDX:EAX = XCR[ECX] (the env raises #GP for an index that does not exist). */
const xgetbv: Sem = (env) => {
  if (!env.xgetbv || !(env.state.cr4 & CR4_OSXSAVE)) return env.raise(VECTOR.UD);
  writeEdxEax(env, env.xgetbv(Number(readGpr(env.state, 1, 4))));
};

/** SLDT/STR (arg 0/1): the LDTR/TR selector; a register gets it zero-extended to the operand size, memory 16 bits. */
const sysseg: Sem = (env, insn) => {
  if (!env.systemSegment || insn.mode === "real") return env.raise(VECTOR.UD);
  env.descriptorTableAccess?.(insn);
  const sel = BigInt(env.systemSegment(insn.spec.arg === 0 ? "ldtr" : "tr").selector);
  const dst = insn.operands[0]!;
  writeOperand(env, insn, dst, sel);
};

/** LLDT/LTR (arg 2/3): #UD in real mode; the selector from r/m16; checks and load in the env. */
const loadsysseg: Sem = (env, insn) => {
  if (!env.loadSystemSegment || insn.mode === "real") return env.raise(VECTOR.UD);
  env.descriptorTableAccess?.(insn);
  const sel = Number(readOperand(env, insn, insn.operands[0]!) & 0xffffn);
  env.loadSystemSegment(insn.spec.arg === 2 ? "ldtr" : "tr", sel);
};

/** LGDT/LIDT: 16-bit limit then a 32-bit base (24 bits with a 16-bit operand) or a 64-bit base in 64-bit mode, which must be canonical (else #GP(0)). */
const ldt: Sem = (env, insn) => {
  env.descriptorTableAccess?.(insn);
  const m = insn.operands[0] as MemOperand;
  const ea = effectiveAddress(env.state, insn, m);
  const limit = Number(readMem(env, m.seg, ea, 2));
  const next = (ea + 2n) & mask(m.addrSize);
  let base: bigint;
  if (insn.mode === "long64") {
    base = readMem(env, m.seg, next, 8);
    // A non-canonical base is #GP(0) in 64-bit mode (KVM emulate.c em_lgdt_lidt; runtime/x86/canonical.ts).
    if (!isCanonical(base)) env.raise(VECTOR.GP, 0);
  } else base = readMem(env, m.seg, next, 4) & (insn.operandSize === 2 ? 0xff_ffffn : 0xffff_ffffn);
  env.loadDescriptorTable(insn.spec.arg === 0 ? "gdt" : "idt", base, limit);
};

const sdt: Sem = (env, insn) => {
  env.descriptorTableAccess?.(insn);
  const s = env.state;
  const m = insn.operands[0] as MemOperand;
  const ea = effectiveAddress(s, insn, m);
  const t = insn.spec.arg === 0 ? s.gdtr : s.idtr;
  writeMem(env, m.seg, ea, 2, BigInt(t.limit));
  writeMem(env, m.seg, (ea + 2n) & mask(m.addrSize), insn.mode === "long64" ? 8 : 4, t.base);
};

/** cmc, clc, stc, cli, sti, cld, std (arg 0..6). */
const flagop: Sem = (env, insn) => {
  const s = env.state;
  switch (insn.spec.arg) {
    case 0: s.rflags ^= CF; break;
    case 1: s.rflags &= ~CF; break;
    case 2: s.rflags |= CF; break;
    case 3: case 4: {
      if (s instanceof X86Regs) {
        // The same steps on the Number register file (apic.c's sti/cli loop runs millions): RFLAGS
        // from flags(), written back as the rflags setter does (bit 1 set, the flags eager).
        const fl = s.flags();
        if (s.mode !== "real" && cpl(s) > ((fl >> 12) & 3)) env.raise(VECTOR.GP, 0);
        if (insn.spec.arg === 4 && !(fl & 0x200)) (s.stiShadow = s.nextRip), (s.stiCount = (s.stiCount ?? 0) + 1);
        s.fl = ((insn.spec.arg === 3 ? fl & ~0x200 : fl | 0x200) | 2) >>> 0;
        s.cc = 0;
        break;
      }
      const iopl = Number((s.rflags >> 12n) & 3n);
      if (s.mode !== "real" && cpl(s) > iopl) env.raise(VECTOR.GP, 0);
      // STI that sets IF blocks interrupts until the next instruction retires (SDM Vol. 3 6.8.3, "blocking by STI").
      if (insn.spec.arg === 4 && !(s.rflags & IF)) (s.stiShadow = s.nextRip), (s.stiCount = (s.stiCount ?? 0) + 1);
      s.rflags = insn.spec.arg === 3 ? s.rflags & ~IF : s.rflags | IF;
      break;
    }
    case 5: s.rflags &= ~DF; break;
    case 6: s.rflags |= DF; break;
    default:
      // CLAC/STAC (SDM Vol. 2B): #UD at CPL > 0, else clear/set EFLAGS.AC (bit 18).
      if (cpl(s) > 0) env.raise(VECTOR.UD);
      s.rflags = insn.spec.arg === 7 ? s.rflags & ~(1n << 18n) : s.rflags | (1n << 18n);
      break;
  }
};

const ud: Sem = (env) => env.raise(VECTOR.UD);
const int3: Sem = (env) => env.raise(VECTOR.BP);
/** INT1/ICEBP: #DB with no DR6 condition bit (B0-B3 cleared on delivery). */
const icebp: Sem = (env) => env.raise(VECTOR.DB);
const int: Sem = (env, insn) => env.raise(Number(readOperand(env, insn, insn.operands[0]!) & 0xffn));

/**
 * VMCALL/VMLAUNCH/VMRESUME/VMXOFF: a machine that models VMX non-root operation may provide
 * `vmx(mnemonic)` on its env (VMCALL exits unconditionally, SDM Vol. 3 §25.1.2); without it they are #UD
 * as outside VMX operation.
 */
const vmx: Sem = (env, insn) => {
  const hook = (env as unknown as { vmx?: (mnemonic: string) => void }).vmx;
  if (typeof hook === "function") hook.call(env, insn.spec.mnemonic);
  else env.raise(VECTOR.UD);
};

export const SYSTEM_SEMANTICS: Record<string, Sem> = {
  movfromcr, movtocr, movfromdr, movtodr, lmsw, smsw, clts, rdmsr, wrmsr, rdtsc, rdtscp, swapgs, cpuid,
  in: inOp, out: outOp, hlt, wbinvd, invlpg, clflush, ldt, sdt, flagop, ud, int3, icebp, int, vmx, xsetbv, xgetbv, sysseg, loadsysseg,
};
