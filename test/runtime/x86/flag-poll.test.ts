// Flag-polling loops (runtime/x86/flag-poll.ts): the loops that cannot leave without another
// vCPU's store are recognised, the ones that progress alone are not; and on a 2-vCPU VM a vCPU
// polling a flag gives way after one pass, so the vCPU that sets it runs at once, not a quantum
// later (core/vcpus.ts pollWait, POLL_QUANTUM).

import { describe, expect, test } from "vitest";
import { assembleX86 } from "../../../runtime/x86/isa/asm/assembler.js";
import { decodeX86 } from "../../../runtime/x86/isa/decode.js";
import { isFlagPoll } from "../../../runtime/x86/flag-poll.js";
import { compileBlock } from "../../../runtime/x86/jit.js";
import type { X86Insn } from "../../../runtime/x86/isa/types.js";

/** The instructions of a 64-bit loop `1: BODY; jCC 1b`. */
function loop(body: string, cc = "je"): X86Insn[] {
  const bytes = assembleX86(`.code64\n1:\n${body}\n${cc} 1b\n`).bytes;
  const out: X86Insn[] = [];
  for (let at = 0; at < bytes.length; ) {
    const insn = decodeX86((i) => bytes[at + i] ?? 0, "long64");
    out.push(insn);
    at += insn.length;
  }
  return out;
}

describe("flag-polling loops (flag-poll.ts)", () => {
  test("kvm-unit-tests' waits are polls: load, compare, branch back; with PAUSE; two loads compared", () => {
    expect(isFlagPoll(loop("mov 0x1000(%rip), %eax\ncmp %eax, %ebx"))).toBe(true); // while (nmi_counter == old_counter);
    expect(isFlagPoll(loop("pause\nmovzbl 0x2000, %eax\ntest %al, %al"))).toBe(true); // while (!nmi_flushed) pause();
    expect(isFlagPoll(loop("pause\nmov 0x10(%rdi), %eax\nmov 0x20(%rdi), %edx\ncmp %edx, %eax", "jne"))).toBe(true);
    expect(isFlagPoll(loop("cmpl $0x66, 0x9002", "jne"))).toBe(true);
  });
  test("loops that progress alone are not: a counter, a pointer chase, a register move, a store, RDTSC", () => {
    expect(isFlagPoll(loop("inc %ecx\ncmp $10, %ecx", "jne"))).toBe(false);
    expect(isFlagPoll(loop("mov (%rax), %rax\ntest %rax, %rax", "jne"))).toBe(false);
    expect(isFlagPoll(loop("mov %ebx, %eax\ncmp %eax, %ecx"))).toBe(false);
    expect(isFlagPoll(loop("movl $1, 0x3000\ncmpl $0, 0x3004"))).toBe(false);
    expect(isFlagPoll(loop("rdtsc\ncmp %eax, %ebx"))).toBe(false);
  });
  test("the block compiler marks a polling loop block, and only it", () => {
    expect(compileBlock(loop("mov 0x1000(%rip), %eax\ncmp %eax, %ebx"), "long64")?.poll).toBe(true);
    expect(compileBlock(loop("inc %ecx\ncmp $10, %ecx", "jne"), "long64")?.poll).toBe(false);
  });
});
