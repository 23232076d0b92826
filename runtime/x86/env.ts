// What an x86 instruction's semantics may ask of the machine. The ISA module (decoder + semantic
// functions) depends only on this interface; the machine (paging, VMX controls, EPT) implements
// it. Methods may throw a guest exception (#PF, #GP, #UD) or a VM exit; semantics do their memory
// accesses before committing register results so a faulting instruction changes nothing.

import type { X86Insn } from "./isa/types.js";
import type { X86FpuState } from "./fpu-state.js";

/** The execution mode: real-address, protected with a 16-bit (CS.D = 0) or 32-bit code segment, IA-32e compatibility or 64-bit. */
export type X86Mode = "real" | "protected16" | "protected32" | "compat" | "long64";
export type X86Seg = "es" | "cs" | "ss" | "ds" | "fs" | "gs";

export interface X86MemAccess {
  size: 1 | 2 | 4 | 8;
  write: boolean;
  /** Instruction fetch (for EPT exit qualification bit 2). */
  fetch?: boolean;
  /**
   * An implicit supervisor-mode access whatever the CPL (SDM Vol. 3 4.6): the frame a delivery
   * that raises the privilege pushes on the inner stack (6.12.1.1, 6.14.4). SMAP applies without
   * EFLAGS.AC's override, as for the other implicit accesses.
   */
  supervisor?: boolean;
}

export interface X86Env {
  readonly state: X86State;
  /** Read `a.size` bytes at segment:offset (a linear address after segmentation). */
  read(seg: X86Seg, offset: bigint, a: X86MemAccess): bigint;
  write(seg: X86Seg, offset: bigint, value: bigint, a: X86MemAccess): void;
  /** MOV to CRn from general register `gpr` (VMX may exit: CR_ACCESS). */
  writeCr(cr: number, value: bigint, gpr: number): void;
  /** MOV from CRn to general register `gpr` (`anyCpl`: SMSW's read of CR0, allowed at any CPL, without MOV's #GP above CPL 0). */
  readCr(cr: number, gpr: number, anyCpl?: boolean): bigint;
  /** LMSW / CLTS. */
  lmsw(value: number): void;
  clts(): void;
  readDr(dr: number, gpr: number): bigint;
  writeDr(dr: number, value: bigint, gpr: number): void;
  rdmsr(msr: number): bigint;
  wrmsr(msr: number, value: bigint): void;
  /** IN: returns the value read; OUT. `rep`/`string` for INS/OUTS if modelled. */
  in(port: number, size: 1 | 2 | 4): number;
  out(port: number, size: 1 | 2 | 4, value: number): void;
  cpuid(leaf: number, subleaf: number): { eax: number; ebx: number; ecx: number; edx: number };
  rdtsc(): bigint;
  hlt(): void;
  invlpg(linear: bigint): void;
  wbinvd(): void;
  /** LGDT/LIDT with base and limit already read from memory. */
  loadDescriptorTable(which: "gdt" | "idt", base: bigint, limit: number): void;
  /** Load a segment register (mov sreg, far jmp, iret, pop sreg): descriptor checks live here. */
  loadSegment(seg: X86Seg, selector: number): void;
  /** Raise an exception (#UD=6, #GP=13, #PF=14, #DE=0 ...) with an optional error code. */
  raise(vector: number, errorCode?: number): never;
  // Optional system state; an env without it makes the instructions #UD.
  /** XSETBV after its #UD/#GP checks (VMX non-root: an unconditional exit, SDM Vol. 3 25.1.2). */
  xsetbv?(index: number, value: bigint): void;
  /** XGETBV after the CR4.OSXSAVE check: XCR[index], #GP(0) for an index that does not exist. */
  xgetbv?(index: number): bigint;
  /** LDTR or TR as loaded (selector, base, limit, VMX access rights). */
  systemSegment?(which: "ldtr" | "tr"): X86SystemSegment;
  /** LLDT/LTR: the descriptor checks and the load (SDM Vol. 2 LLDT, LTR). */
  loadSystemSegment?(which: "ldtr" | "tr", selector: number): void;
  /**
   * Before LGDT/LIDT/SGDT/SIDT/LLDT/LTR/SLDT/STR change anything: with descriptor-table exiting a VMX
   * machine exits (SDM Vol. 3 25.1.3).
   */
  descriptorTableAccess?(insn: X86Insn): void;
  /** SYSCALL/SYSRET's MSRs (STAR, LSTAR, CSTAR, FMASK) and SYSENTER/SYSEXIT's (IA32_SYSENTER_CS/ESP/EIP) as the CPU holds them; absent: all zero. */
  syscallMsr?(msr: number): bigint;
  /** Whether SYSCALL runs outside 64-bit mode (AMD; KVM's emulator for an AMD guest): else #UD (Intel). */
  syscallOutside64?(): boolean;
  /** CS/SS were replaced without a descriptor load (SYSCALL/SYSRET): the CPL or mode may have changed (`from`: the mode before). */
  privilegeChanged?(from: X86State["mode"]): void;
}

/** LDTR/TR: selector, base, limit and access rights in the VMCS format (bit 16 = unusable). */
export interface X86SystemSegment {
  selector: number;
  base: bigint;
  limit: number;
  attributes: number;
}

/** Register file: 16 GPRs, rip, rflags, segment selectors (+ cached base/attributes), CRs, EFER. */
export interface X86State {
  /** rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15 (the encoding order). */
  gpr: bigint[];
  rip: bigint;
  /** rip after this instruction; semantics of jumps assign it. */
  nextRip: bigint;
  /** The rip STI's interrupt shadow covers (interrupts are blocked while rip equals it), or undefined. */
  stiShadow?: bigint;
  /** STIs that set a shadow so far (tells a new shadow from an old one at the same rip). */
  stiCount?: number;
  /** x87 control word (FNINIT/FLDCW; semantics/x87.ts); absent: its reset value 0x40. */
  fpuCw?: number;
  /** x87 status word; absent: 0. */
  fpuSw?: number;
  /** Blocking by NMI (SDM Vol. 3 6.7.1): set when an NMI is delivered, cleared by the next IRET. */
  nmiBlocked?: boolean;
  /** The IRET being executed ended blocking by NMI (set by IRET; read when a VM exit interrupts it). */
  iretUnblockedNmi?: boolean;
  rflags: bigint;
  mode: X86Mode;
  seg: Record<X86Seg, { selector: number; base: bigint; limit: number; attributes: number }>;
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  cr8: bigint;
  efer: bigint;
  gdtr: { base: bigint; limit: number };
  idtr: { base: bigint; limit: number };
  /** PKRU (SDM Vol. 3 4.6.2): the user-mode protection keys' rights, 32 bits; 0 when absent. */
  pkru?: number;
  /** IA32_PKRS bits 31:0 (MSR 0x6E1): the supervisor-mode keys' rights; 0 when absent. */
  pkrs?: number;
  /** x87/SSE state (fpu-state.ts); a state without it makes x87, SSE and XSAVE instructions #UD. */
  readonly fpu?: X86FpuState;
}
