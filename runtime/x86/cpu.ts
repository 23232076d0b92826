// The guest CPU in VMX non-root operation: implements X86Env for the instruction semantics.
// Every access goes segmentation → guest paging → EPT (when enabled) → RAM; every sensitive
// instruction first asks the VMX controls (ExitRules) whether it exits (Intel SDM Vol. 3 25.1);
// a trapped instruction throws a VmExitSignal before changing architectural state. Guest exceptions
// are delivered through the guest IDT unless the exception bitmap turns them into exits; a fault
// while delivering becomes #DF, and a fault while delivering #DF is a triple fault (an exit).
//
// X86Cpu is one object built in layers, each its own module (the compiled code reads its fields
// and calls its methods by name, so they all live on the one object):
//   cpu-memory.ts   guest memory access: the TLB, paging and EPT, the fast data TLB (rd/wr)
//   fetch-cache.ts  instruction fetch: decoded instructions and compiled blocks by code page
//   control-regs.ts control and debug registers, MSRs, XCR0
//   cpu.ts          (this file) I/O, segments, the exiting instructions, event delivery

import type { X86Env, X86Seg, X86State, X86SystemSegment } from "./env.js";
import type { X86Insn, X86Operand } from "./isa/types.js";
import { AR, VmExitSignal, modeOf, type ExitInfo } from "./state.js";
import { descriptorTableExit, loadSystemSegment, readSystemSegment } from "./system-tables.js";
import { INTR_TYPE, IO_QUAL } from "./vmx/qualification.js";
import { EXIT, type ExitReasonName } from "./vmx/reasons.js";
import { VECTOR } from "./vectors.js";
import { MASK64 } from "../core/bits.js";
import { encodeBits32 } from "../core/bitfields.js";
import { deliverEvent } from "./delivery.js";
import type { FastMem } from "./isa/semantics/fast.js";
import { CpuControl } from "./control-regs.js";

export type { CpuDeps } from "./cpu-memory.js";
/** CPUID causes a VM exit unconditionally (SDM Vol. 3 25.1.2): its exit information (no qualification). */
export const CPUID_EXIT: ExitInfo = { reason: EXIT.CPUID, qualification: 0 };

/** The guest CPU (the layers above: cpu-memory.ts, fetch-cache.ts, control-regs.ts). */
export class X86Cpu extends CpuControl implements X86Env, FastMem {
  /**
   * REP string instructions (semantics/string.ts RepBudget): iterations the next one may run (the
   * machine's remaining step budget; 1 = one iteration per step), and how many the last one ran.
   */
  repBudget = 1;
  repDone = 0;
  /** HLT executed without HLT exiting: the vCPU sleeps until an interrupt (there is none to come). */
  sleeping = false;

  /** The vCPU's interrupt events (its KvmIrqChip, set by createX86Vcpu): traces stop when nextEvent changes. */
  events: { readonly nextEvent: number } = { nextEvent: Infinity };

  private ioExit(port: number, size: number, direction: "in" | "out"): never {
    throw new VmExitSignal(this.ioExitInfo(port, size, direction));
  }

  /** The I/O-instruction exit of the current instruction (SDM Vol. 3 Table 28-5: the qualification). */
  private ioExitInfo(port: number, size: number, direction: "in" | "out"): ExitInfo {
    const insn = this.insn;
    const imm = insn?.operands.some((o) => o.kind === "imm") ? 1 : 0;
    const mnem = insn?.spec.mnemonic ?? "";
    const str = mnem.startsWith("ins") || mnem.startsWith("outs") ? 1 : 0;
    const q = encodeBits32(IO_QUAL, {
      size: size - 1,
      direction: direction === "in" ? 1 : 0,
      string: str,
      rep: str && insn?.prefixes.rep ? 1 : 0,
      operand_encoding: imm,
      port,
    });
    return { reason: EXIT.IO_INSTRUCTION, qualification: q };
  }

  /**
   * The exit a plain IN/OUT (`insn`, the current instruction: not INS/OUTS) takes, or null when
   * it runs in the guest. The machine's interpreter takes it without an exception: I/O exits are
   * the most frequent exits of real guests (a serial console polls its line status per character),
   * and an exception costs microseconds in V8.
   */
  plainIoExit(insn: X86Insn): ExitInfo | null {
    if (this.emulating?.pio) return null;
    const [a, b] = insn.operands as [X86Operand, X86Operand];
    const isIn = insn.spec.sem === "in";
    const portOp = isIn ? b : a;
    const size = ((isIn ? a : b) as { size: number }).size;
    const port = portOp.kind === "imm" ? Number(portOp.value & 0xffn) : this.state.r[2]! & 0xffff; // DX
    return this.deps.rules.ioExits(port, size) ? this.ioExitInfo(port, size, isIn ? "in" : "out") : null;
  }

  in(port: number, size: 1 | 2 | 4): number {
    if (this.emulating?.pio) return this.emulating.pio(port, size, false, 0);
    if (this.deps.rules.ioExits(port, size)) this.ioExit(port, size, "in");
    return size === 4 ? 0xffff_ffff : (1 << (8 * size)) - 1; // no device answers a port nobody traps
  }

  out(port: number, size: 1 | 2 | 4, value: number): void {
    if (this.emulating?.pio) {
      this.emulating.pio(port, size, true, value);
      return;
    }
    if (this.deps.rules.ioExits(port, size)) this.ioExit(port, size, "out");
  }

  cpuid(_leaf: number, _subleaf: number): { eax: number; ebx: number; ecx: number; edx: number } {
    throw new VmExitSignal(CPUID_EXIT);
  }

  /** Called at an RDTSC that does not exit, before the read (the machine's TSC-polling skip: tsc-poll.ts). */
  onRdtsc: (() => void) | null = null;

  rdtsc(): bigint {
    if (this.deps.rules.rdtscExits()) throw new VmExitSignal({ reason: EXIT.RDTSC, qualification: 0n });
    this.onRdtsc?.();
    return (this.deps.now() + this.deps.rules.tscOffset()) & MASK64;
  }

  /** The TSC as the host sees it (KVM's guest TSC = host TSC + TSC_OFFSET). */
  rdtscHost(): bigint {
    return (this.deps.now() + this.deps.rules.tscOffset()) & MASK64;
  }

  hlt(): void {
    if (this.cpl() !== 0) this.raise(VECTOR.GP, 0);
    if (this.deps.rules.hltExits()) throw new VmExitSignal({ reason: EXIT.HLT, qualification: 0n });
    this.sleeping = true; // HLT activity state: only an interrupt or NMI would wake it
  }

  invlpg(linear: bigint): void {
    if (this.deps.rules.invlpgExits()) throw new VmExitSignal({ reason: EXIT.INVLPG, qualification: linear });
    this.invalidatePage(linear);
  }

  wbinvd(): void {
    if (this.deps.rules.wbinvdExits()) throw new VmExitSignal({ reason: EXIT.WBINVD, qualification: 0n });
  }

  loadDescriptorTable(which: "gdt" | "idt", base: bigint, limit: number): void {
    const v = { base: this.state.mode === "long64" ? base : base & 0xffff_ffffn, limit: limit & 0xffff };
    if (which === "gdt") this.state.gdtr = v;
    else this.state.idtr = v;
  }

  /** Segment load with the protected-mode descriptor checks (SDM Vol. 3 5.4-5.6, simplified to CPL 0). */
  loadSegment(seg: X86Seg, selector: number): void {
    const s = this.state;
    selector &= 0xffff;
    // (Every change bumps systemVersion: the VM exit's guest-state save then compares the segments.)
    if (s.mode === "real") {
      s.seg[seg] = { selector, base: BigInt(selector << 4), limit: 0xffff, attributes: seg === "cs" ? 0x9b : 0x93 };
      return this.segmentsChanged();
    }
    const index = selector & ~7;
    if (index === 0) {
      if (seg === "cs" || (seg === "ss" && s.mode !== "long64")) this.raise(VECTOR.GP, 0);
      s.seg[seg] = { selector, base: 0n, limit: 0, attributes: 1 << 16 };
      return this.segmentsChanged();
    }
    if (selector & 4 || index + 7 > s.gdtr.limit) this.raise(VECTOR.GP, index);
    const d = this.readLinear(s.gdtr.base + BigInt(index), 8);
    const access = Number((d >> 40n) & 0xffn);
    const flags = Number((d >> 52n) & 0xfn);
    const attributes = access | (flags << 12);
    if (!AR.s(attributes)) this.raise(VECTOR.GP, index);
    const isCode = (access & 8) !== 0;
    if (seg === "cs" && !isCode) this.raise(VECTOR.GP, index);
    if (seg === "ss" && (isCode || !(access & 2))) this.raise(VECTOR.GP, index);
    if (!AR.present(attributes)) this.raise(seg === "ss" ? VECTOR.SS : VECTOR.NP, index);
    let limit = Number(((d >> 32n) & 0xf0000n) | (d & 0xffffn));
    if (AR.g(attributes)) limit = ((limit << 12) | 0xfff) >>> 0;
    const base = ((d >> 16n) & 0xffffffn) | (((d >> 56n) & 0xffn) << 24n);
    // The register already holds this descriptor (an interrupt or IRET within one privilege level
    // reloads the same CS and SS): nothing changes, and the caches that depend on CS stay valid.
    const old = s.seg[seg];
    if (old.selector === selector && old.base === base && old.limit === limit && old.attributes === (attributes | 1)) return;
    s.seg[seg] = { selector, base, limit, attributes: attributes | 1 };
    this.segmentsChanged();
    if (seg === "cs") {
      const mode = s.mode;
      s.mode = modeOf(s);
      // The code caches depend on CS (mode, base); the TLB does not (SDM Vol. 3 4.10.4: loading
      // a segment register invalidates no TLB entry; U/S is checked against CPL on every access).
      this.privilegeChanged(mode);
    }
  }


  /** Intel hardware: SYSCALL is #UD outside 64-bit mode (SDM Vol. 2B SYSCALL); KVM's emulator may say otherwise. */
  syscallOutside64(): boolean {
    return this.emulating?.syscallOutside64 ?? false;
  }

  /**
   * CS replaced (a descriptor load: an interrupt, IRET, a far transfer; or SYSCALL/SYSRET,
   * SYSENTER/SYSEXIT), the mode before it `from`. Within 64-bit mode the CS base plays no part and
   * only the privilege may have changed: the data TLB banks swap when it moved between supervisor
   * and user, and the fetch translations of the new privilege serve (each is tagged with the
   * privilege it was checked for: fUser, vUser); block chains are linked again (the epoch: a link
   * was made at one privilege); the TLB and each privilege's fast entries stay. Into or out of
   * 64-bit mode every cached translation goes.
   */
  privilegeChanged(from: X86State["mode"]): void {
    if (from !== "long64" || this.state.mode !== "long64") return this.invalidateFetch();
    this.epoch++;
    this.systemVersion++;
    this.selectBank();
  }

  /** LDTR or TR: held in the VMCS guest-state fields while the guest runs (system-tables.ts). */
  systemSegment(which: "ldtr" | "tr"): X86SystemSegment {
    return readSystemSegment(this.deps.vmcs, which);
  }

  /** LLDT/LTR: the descriptor checks and the load (system-tables.ts). */
  loadSystemSegment(which: "ldtr" | "tr", selector: number): void {
    loadSystemSegment(this, this.deps.vmcs, which, selector);
  }

  /** Descriptor-table exiting (system-tables.ts); KVM's emulator runs the instructions (handle_desc). */
  descriptorTableAccess(insn: X86Insn): void {
    if (this.emulating || !this.deps.rules.descriptorTableExits()) return;
    throw new VmExitSignal(descriptorTableExit(insn));
  }


  /** VMX instructions in VMX non-root operation exit unconditionally (SDM 25.1.2). */
  vmx(mnemonic: string): void {
    const reason: Record<string, ExitReasonName> = {
      vmcall: "VMCALL", vmlaunch: "VMLAUNCH", vmresume: "VMRESUME", vmxoff: "VMOFF", vmclear: "VMCLEAR",
      vmptrld: "VMPTRLD", vmptrst: "VMPTRST", vmread: "VMREAD", vmwrite: "VMWRITE", vmxon: "VMON",
    };
    const name = Object.hasOwn(reason, mnemonic) ? reason[mnemonic] : undefined;
    if (!name) this.raise(VECTOR.UD);
    throw new VmExitSignal({ reason: EXIT[name], qualification: 0n });
  }


  // ---- exception delivery (SDM Vol. 3 6.12, 6.14): delivery.ts ----

  /**
   * Deliver an exception or interrupt to the guest (delivery.ts deliverEvent): an exit if the
   * exception bitmap says so (unless VM entry injects it), else through the guest IDT or IVT.
   */
  deliver(vector: number, errorCode: number | undefined, injected: boolean, address?: bigint, type: number = INTR_TYPE.HW_EXCEPTION, returnRip?: bigint): void {
    deliverEvent(this, vector, errorCode, injected, address, type, returnRip);
  }

  /** Whether the exception bitmap (and #PF error-code mask/match) makes this exception an exit. */
  exceptionExits(vector: number, code: number | undefined): boolean {
    return this.deps.rules.exceptionExits(vector, code);
  }
}
