// Examples for every entry of X86_TABLE: for each entry, candidate AT&T texts are generated from
// its operand forms and the first one that assembles to exactly that entry is kept. Hand-written
// extras cover ModRM/SIB special cases, prefixes and REX forms.

import { X86_TABLE, assembleX86, decodeX86, type X86Spec } from "../../../../runtime/x86/isa/index.js";
import type { OperandForm } from "../../../../runtime/x86/isa/types.js";

export interface Example {
  bits: 32 | 64;
  text: string;
  bytes: Uint8Array;
  spec: X86Spec;
}

const R64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
const R32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"];
const R16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di", "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"];
const R8 = ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"];

function reg(n: number, size: number): string {
  return "%" + (size === 8 ? R64 : size === 4 ? R32 : size === 2 ? R16 : R8)[n]!;
}

const SUF: Record<number, string> = { 1: "b", 2: "w", 4: "l", 8: "q" };

/** AT&T operand text alternatives for one form (null = omitted). */
function alternatives(f: OperandForm, v: number, bits: 32 | 64): (string | null)[] {
  const a = bits === 64 ? "r" : "e";
  const mem = [`0x10(%${a}bx)`, `-0x80(%${a}bp,%${a}si,4)`];
  const big = bits === 64 ? 9 : 1;
  switch (f) {
    case "Eb": return [reg(2, 1), ...mem, bits === 64 ? "%r10b" : "%dh"];
    case "Ew": return [reg(2, 2), ...mem];
    case "Ed": return [reg(2, 4), ...mem];
    case "Ev": return [reg(2, v), ...mem, reg(bits === 64 ? 10 : 6, v)];
    case "Gb": return [reg(3, 1), bits === 64 ? "%r11b" : "%ch"];
    case "Gw": return [reg(3, 2)];
    case "Gv": return [reg(3, v), reg(bits === 64 ? 11 : 7, v)];
    case "Gy": return [reg(3, v === 8 ? 8 : 4)];
    case "Ib": return ["$0x12", "$0x7f"];
    case "Iw": return ["$0x1234"];
    case "Iz": return [v === 2 ? "$0x1234" : "$0x12345678", "$0x7fff"];
    case "Iv": return [v === 8 ? "$0x123456789abc" : v === 2 ? "$0x1234" : "$0x12345678"];
    case "Ibs": return ["$0x12", "$-3"];
    case "Jb": return [".+0x10"];
    case "Jz": return [".+0x1000"];
    case "Zb": return [reg(3, 1), reg(big, 1)];
    case "Zv": return [reg(3, v), reg(big, v)];
    case "AL": return ["%al", null];
    case "AX": return ["%ax"];
    case "rAX": return [reg(0, v), null];
    case "eAX": return [v === 2 ? "%ax" : "%eax"];
    case "DX": return ["(%dx)"];
    case "CL": return ["%cl"];
    case "One": return [null, "$1"];
    case "Sw": return ["%ds", "%es"];
    case "Cy": return ["%cr4", "%cr0"];
    case "Dy": return ["%db7"];
    case "Ry": return [bits === 64 ? "%rax" : "%eax", bits === 64 ? "%r9" : "%edi"];
    case "Rv": return [reg(2, v)];
    case "M": case "Mw": case "Ms": case "Mp": return mem;
    case "Ob": case "Ov": return ["0x1000"];
    case "Ap": return ["$0x8,$0x1000"];
    case "Xb": case "Xv": return [null, "%ds:(%rsi)".replace("%r", bits === 64 ? "%r" : "%e")];
    case "Yb": case "Yv": return [null, "%es:(%rdi)".replace("%r", bits === 64 ? "%r" : "%e")];
    case "Bb": return [null, "%ds:(%rbx)".replace("%r", bits === 64 ? "%r" : "%e")];
    default: return [`%${f.toLowerCase()}`];
  }
}

function* product(lists: (string | null)[][]): Generator<(string | null)[]> {
  if (lists.length === 0) {
    yield [];
    return;
  }
  for (const head of lists[0]!) for (const rest of product(lists.slice(1))) yield [head, ...rest];
}

function assembleOne(text: string, bits: 32 | 64): Uint8Array | null {
  try {
    return assembleX86(text, { bits, base: 0x1000n }).bytes;
  } catch {
    return null;
  }
}

function decodesTo(bytes: Uint8Array, bits: 32 | 64): X86Spec | null {
  const insn = decodeX86((i) => bytes[i] ?? 0, bits === 64 ? "long64" : "protected32");
  return insn.length === bytes.length ? insn.spec : null;
}

/** Generated examples: every table entry the assembler may produce, with the texts tried in order. */
export function tableExamples(): { examples: Example[]; missing: X86Spec[] } {
  const examples: Example[] = [];
  const missing: X86Spec[] = [];
  for (const spec of X86_TABLE) {
    if (spec.noAsm || spec.asmOnly) continue;
    const bitsList: (32 | 64)[] = spec.modes === "i64" ? [32] : spec.modes === "o64" ? [64] : [64, 32];
    let found = 0;
    for (const bits of bitsList) {
      const vs = spec.osize ? [spec.osize / 8] : spec.size64 && bits === 64 ? [8] : bits === 64 ? [4, 8, 2] : [4, 2];
      let done = false;
      for (const v of vs) {
        if (done) break;
        const names = [spec.mnemonic, ...(spec.aliases ?? [])];
        const mnemonics = [...names, ...names.map((n) => n + SUF[spec.operands.some((f) => f === "Eb" || f === "Xb" || f === "Yb" || f === "AL") && !spec.operands.some((f) => f.endsWith("v")) ? 1 : v]!)];
        if (spec.mnemonic === "mov" && bits === 64) mnemonics.push("movabs");
        const lists = [...spec.operands].reverse().map((f) => alternatives(f, v, bits));
        for (const m of mnemonics) {
          if (done) break;
          for (const ops of product(lists)) {
            const star = ["jmpind", "callind", "jmpfarind", "callfarind"].includes(spec.sem) ? "*" : "";
            const text = `${m} ${ops.filter((o) => o !== null).map((o) => star + o).join(",")}`.trim();
            const bytes = assembleOne(text, bits);
            if (!bytes) continue;
            const got = decodesTo(bytes, bits);
            if (got !== spec) continue;
            examples.push({ bits, text, bytes, spec });
            done = true;
            found++;
            break;
          }
        }
      }
    }
    if (!found) missing.push(spec);
  }
  return { examples, missing };
}

/** Hand-written extras: ModRM/SIB special cases, prefixes, REX, immediates at the edges. */
export const EXTRA_64 = [
  "mov (%rax),%eax", "mov (%rsp),%eax", "mov (%r12),%eax", "mov (%rbp),%eax", "mov (%r13),%eax", "mov 0x7f(%rax),%eax",
  "mov -0x80(%rax),%eax", "mov 0x80(%rax),%eax", "mov 0x1000,%eax", "mov (,%rax,4),%eax", "mov 0x10(,%r9,8),%r10",
  "mov (%rax,%r12,2),%eax", "mov (%r13,%rbp,1),%eax", "mov 0x10(%rip),%rax", "mov -0x10(%rip),%r8d", "mov %fs:0x28,%rax",
  "mov %gs:(%rax),%eax", "mov (%eax),%eax", "mov 0x10(%esp),%ecx", "lea 0x8(%rax,%rbx,2),%rcx", "lea (%ebx),%eax",
  "movabs $0x123456789abcdef0,%r15", "mov $0xffffffff,%rax", "mov $-1,%rax", "mov $0x7fffffff,%rax", "movabs 0x1000,%al",
  "movabs %rax,0x123456789a", "mov %sil,%dil", "mov %ah,%bh", "mov %r8b,%al", "movzbl %ah,%eax", "movsbq (%rax),%r9",
  "movswl %ax,%eax", "movzwq %r8w,%r9", "movslq (%rdi),%rax", "mov %cr8,%rax", "mov %rax,%cr3", "mov %r9,%cr0",
  "mov %db6,%r10", "rep stosb", "rep stosq", "rep movsl", "repz cmpsb", "repnz scasb", "lock addl $1,(%rax)",
  "lock xchg %eax,(%rbx)", "add $0x7f,%eax", "add $0x80,%eax", "add $-0x80,%eax", "add $-0x81,%eax", "add $0xffff,%ax",
  "sub $1,%r15", "cmpb $0xff,(%rax)", "testb $0x80,0x10(%rbp)", "test %r8,%r9", "xchg %r8,%rax", "xchg %ax,%r10w",
  "shl $0x3f,%rax", "sar %cl,%r11d", "rcr $1,%bl", "imul $-1,%r8,%r9", "imul (%rax),%ecx", "div %r10", "idivb (%rbx)",
  "push %r15", "pop %r8", "pushw $0x1234", "push $-1", "pushq 0x10(%rip)", "call *%r11", "jmp *0x8(%rax,%rbx,8)",
  "ret $0x10", "iretq", "out %eax,$0x80", "in (%dx),%ax", "nopw 0x0(%rax,%rax,1)", "nopl 0x0(%rax)", "cqto", "cltq",
  "sgdt 0x10(%rsp)", "lidt (%rdi)", "invlpg (%r8)", "wbinvd", "rdtsc", "rdmsr", "wrmsr", "hlt", "cli", "sti",
  // addr32: a 4-byte moffs (A0-A3), 67h where nothing shows it, none on a direct branch (GNU as drops it)
  "addr32 mov 0x90909066,%al", "addr32 mov 0x90909066,%eax", "addr32 mov %al,0x90909066", "addr32 mov %rax,0x90909066",
  "addr32 mov %ax,0x90909066", "addr32 mov %fs:0x90909066,%al", "addr32 movabs 0x1000,%eax", "addr32 nop", "addr32 lodsb",
  "addr32 mov (%eax),%al", "addr32 push %rax", "addr32 jmp .+0x10",
];

export const EXTRA_32 = [
  "mov 0x1000,%eax", "mov %eax,0x2000", "mov 0x10(%esp),%eax", "mov (%ebp),%eax", "mov (,%ebx,4),%edx", "lea 0x8(%esi,%edi,2),%ecx",
  "mov (%bx,%si),%ax", "mov 0x10(%bp),%eax", "mov 0x1234,%al", "inc %eax", "dec %di", "push %es", "pop %ds", "pushl $0x1234",
  "push $0x12", "ljmp $0x10,$0x12345678", "ljmpw $0x8,$0x1234", "lcall $0x8,$0x1000", "ljmp *(%eax)", "mov %eax,%cr0",
  "mov %cr4,%ebx", "mov %eax,%ds", "mov %ss,%eax", "lgdt (%eax)", "lidt 0x1000", "rep stosl", "rep movsb", "cwtl", "cltd",
  "iret", "lret", "lret $4", "out %al,$0xf4", "outb %al,(%dx)", "inl $0x60,%eax", "jecxz .+5", "loop .-2", "int $0x21",
  // addr16: a 2-byte moffs (A0-A3)
  "addr16 mov 0x9066,%al", "addr16 mov 0x9066,%ax", "addr16 mov %eax,0x9066", "addr16 mov %es:0x9066,%eax", "addr16 ret",
];

/** Segment overrides naming the default segment are dropped by GNU as; others are kept. */
export const SEGMENT_EXTRAS_64 = ["mov %ds:(%rax),%eax", "mov %ss:(%rbp),%eax", "mov %ss:(%rax),%eax", "mov %ds:(%rsp),%eax", "mov %es:0x10,%eax"];
