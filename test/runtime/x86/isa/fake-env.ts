// A small X86Env for ISA tests: flat byte memory (segment bases ignored), a call log for every
// intercepting operation, guest exceptions thrown as GuestFault, and a CPU loop.

import type { X86Env, X86MemAccess, X86Mode, X86Seg, X86State } from "../../../../runtime/x86/env.js";
import { assembleX86, decodeX86, executeX86, type X86Insn } from "../../../../runtime/x86/isa/index.js";

export class GuestFault extends Error {
  constructor(readonly vector: number, readonly errorCode?: number) {
    super(`guest exception #${vector}${errorCode !== undefined ? ` (${errorCode})` : ""}`);
  }
}

export function makeState(mode: X86Mode = "long64"): X86State {
  const seg = () => ({ selector: 0, base: 0n, limit: 0xffff_ffff, attributes: 0 });
  return {
    gpr: Array.from({ length: 16 }, () => 0n),
    rip: 0n,
    nextRip: 0n,
    rflags: 2n,
    mode,
    seg: { es: seg(), cs: seg(), ss: seg(), ds: seg(), fs: seg(), gs: seg() },
    cr0: 0x11n,
    cr2: 0n,
    cr3: 0n,
    cr4: 0n,
    cr8: 0n,
    efer: 0n,
    gdtr: { base: 0n, limit: 0 },
    idtr: { base: 0n, limit: 0 },
  };
}

export class FakeEnv implements X86Env {
  readonly state: X86State;
  readonly mem = new Map<bigint, number>();
  readonly calls: unknown[][] = [];
  readonly msrs = new Map<number, bigint>();
  readonly ports: { port: number; size: number; value: number }[] = [];
  /** Addresses that fault (#PF) when touched. */
  readonly faulting = new Set<bigint>();
  halted = false;
  /** cs selector → mode after a far jump/iret (a flat GDT). */
  codeSegments = new Map<number, X86Mode>([[0x08, "long64"], [0x10, "protected32"]]);

  constructor(mode: X86Mode = "long64") {
    this.state = makeState(mode);
  }

  load(address: bigint, bytes: Uint8Array): void {
    bytes.forEach((b, i) => this.mem.set(address + BigInt(i), b));
  }

  read(seg: X86Seg, offset: bigint, a: X86MemAccess): bigint {
    let v = 0n;
    for (let i = 0; i < a.size; i++) {
      const addr = offset + BigInt(i);
      if (this.faulting.has(addr)) throw new GuestFault(14, 0);
      v |= BigInt(this.mem.get(addr) ?? 0) << BigInt(8 * i);
    }
    this.calls.push(["read", seg, offset, a.size]);
    return v;
  }

  write(seg: X86Seg, offset: bigint, value: bigint, a: X86MemAccess): void {
    for (let i = 0; i < a.size; i++) if (this.faulting.has(offset + BigInt(i))) throw new GuestFault(14, 2);
    for (let i = 0; i < a.size; i++) this.mem.set(offset + BigInt(i), Number((value >> BigInt(8 * i)) & 0xffn));
    this.calls.push(["write", seg, offset, a.size, value]);
  }

  readBytes(address: bigint, n: number): number[] {
    return Array.from({ length: n }, (_, i) => this.mem.get(address + BigInt(i)) ?? 0);
  }

  writeCr(cr: number, value: bigint, gpr: number): void {
    this.calls.push(["writeCr", cr, value, gpr]);
    if (cr === 0) this.state.cr0 = value;
    else if (cr === 3) this.state.cr3 = value;
    else if (cr === 4) this.state.cr4 = value;
    else if (cr === 8) this.state.cr8 = value;
    else this.raise(6);
  }

  readCr(cr: number, gpr: number): bigint {
    this.calls.push(["readCr", cr, gpr]);
    return [this.state.cr0, 0n, this.state.cr2, this.state.cr3, this.state.cr4, 0n, 0n, 0n, this.state.cr8][cr] ?? 0n;
  }

  lmsw(value: number): void {
    this.calls.push(["lmsw", value]);
  }
  clts(): void {
    this.calls.push(["clts"]);
  }
  readDr(dr: number, gpr: number): bigint {
    this.calls.push(["readDr", dr, gpr]);
    return 0x400n;
  }
  writeDr(dr: number, value: bigint, gpr: number): void {
    this.calls.push(["writeDr", dr, value, gpr]);
  }
  rdmsr(msr: number): bigint {
    this.calls.push(["rdmsr", msr]);
    if (msr === 0xc0000080) return this.state.efer;
    return this.msrs.get(msr) ?? 0n;
  }
  wrmsr(msr: number, value: bigint): void {
    this.calls.push(["wrmsr", msr, value]);
    if (msr === 0xc0000080) this.state.efer = value;
    else this.msrs.set(msr, value);
  }
  in(port: number, size: 1 | 2 | 4): number {
    this.calls.push(["in", port, size]);
    return 0x5a5a5a5a & (size === 4 ? 0xffffffff : (1 << (size * 8)) - 1);
  }
  out(port: number, size: 1 | 2 | 4, value: number): void {
    this.calls.push(["out", port, size, value]);
    this.ports.push({ port, size, value });
  }
  cpuid(leaf: number, subleaf: number) {
    this.calls.push(["cpuid", leaf, subleaf]);
    return { eax: 0xd, ebx: 0x756e6547, ecx: 0x6c65746e, edx: 0x49656e69 };
  }
  rdtsc(): bigint {
    return 0x1_2345_6789n;
  }
  hlt(): void {
    this.halted = true;
    this.calls.push(["hlt"]);
  }
  invlpg(linear: bigint): void {
    this.calls.push(["invlpg", linear]);
  }
  wbinvd(): void {
    this.calls.push(["wbinvd"]);
  }
  loadDescriptorTable(which: "gdt" | "idt", base: bigint, limit: number): void {
    this.calls.push(["loadDescriptorTable", which, base, limit]);
    this.state[which === "gdt" ? "gdtr" : "idtr"] = { base, limit };
  }
  loadSegment(seg: X86Seg, selector: number): void {
    this.calls.push(["loadSegment", seg, selector]);
    this.state.seg[seg].selector = selector;
    if (seg === "cs") {
      const mode = this.codeSegments.get(selector & ~3);
      if (!mode) this.raise(13, selector & ~3);
      this.state.mode = mode;
    }
  }
  raise(vector: number, errorCode?: number): never {
    throw new GuestFault(vector, errorCode);
  }

  /** Decode and execute one instruction at rip (the CPU loop the machine implements). */
  step(): X86Insn {
    const s = this.state;
    const rip = s.rip;
    const insn = decodeX86((i) => {
      const b = this.mem.get(rip + BigInt(i));
      if (b === undefined) throw new GuestFault(14, 0x10);
      return b;
    }, s.mode);
    s.nextRip = rip + BigInt(insn.length);
    executeX86(this, insn);
    s.rip = s.nextRip;
    return insn;
  }

  run(maxSteps = 10_000): number {
    let n = 0;
    while (!this.halted && n < maxSteps) (this.step(), n++);
    return n;
  }
}

/** Assemble `src` at 0x1000, run every instruction once on a FakeEnv of `bits` (after `setup`), return the env. */
export function runProgram(src: string, setup: (env: FakeEnv) => void = () => {}, bits: 32 | 64 = 64): FakeEnv {
  const env = new FakeEnv(bits === 64 ? "long64" : "protected32");
  const p = assembleX86(src, { bits, base: 0x1000n });
  env.load(0x1000n, p.bytes);
  env.state.rip = 0x1000n;
  setup(env);
  for (let i = 0; i < p.lines.length; i++) env.step();
  return env;
}
