// A small in-memory A64Env for semantics tests: flat little-endian memory, optional faulting
// addresses, and a log of every call the semantics make.

import type { A64Env, A64MemAccess, A64SysregEncoding, A64Barrier, A64PstateField } from "../../../../runtime/arm64/env.js";
import { A64State } from "../../../../runtime/arm64/state.js";
import { assembleA64, decodeA64, executeA64 } from "../../../../runtime/arm64/isa/index.js";

export class GuestFault extends Error {}
export class Undefined extends Error {}

export class FakeEnv implements A64Env {
  readonly state = new A64State();
  readonly mem = new Map<bigint, number>();
  readonly faults = new Set<bigint>();
  readonly accesses: { va: bigint; a: A64MemAccess; value?: bigint }[] = [];
  readonly calls: unknown[][] = [];
  sysregs = new Map<string, bigint>();

  load(va: bigint, a: A64MemAccess): bigint {
    this.accesses.push({ va, a });
    let v = 0n;
    for (let i = 0; i < a.size; i++) {
      if (this.faults.has(va + BigInt(i))) throw new GuestFault(`fault at 0x${(va + BigInt(i)).toString(16)}`);
      v |= BigInt(this.mem.get(va + BigInt(i)) ?? 0) << BigInt(8 * i);
    }
    return v;
  }
  store(va: bigint, value: bigint, a: A64MemAccess): void {
    this.accesses.push({ va, a, value });
    for (let i = 0; i < a.size; i++) if (this.faults.has(va + BigInt(i))) throw new GuestFault(`fault at 0x${(va + BigInt(i)).toString(16)}`);
    for (let i = 0; i < a.size; i++) this.mem.set(va + BigInt(i), Number((value >> BigInt(8 * i)) & 0xffn));
  }
  readSysreg(enc: A64SysregEncoding, rt: number): bigint {
    this.calls.push(["readSysreg", enc, rt]);
    return this.sysregs.get(JSON.stringify(enc)) ?? 0x1234n;
  }
  writeSysreg(enc: A64SysregEncoding, value: bigint, rt: number): void {
    this.calls.push(["writeSysreg", enc, value, rt]);
    this.sysregs.set(JSON.stringify(enc), value);
  }
  writePstate(field: A64PstateField, imm: number): void { this.calls.push(["writePstate", field, imm]); }
  sys(enc: A64SysregEncoding, value: bigint, rt: number): void { this.calls.push(["sys", enc, value, rt]); }
  call(kind: "svc" | "hvc" | "smc", imm16: number): void { this.calls.push(["call", kind, imm16]); }
  eret(): void { this.calls.push(["eret"]); }
  wait(isWfe: boolean): void { this.calls.push(["wait", isWfe]); }
  barrier(kind: A64Barrier): void { this.calls.push(["barrier", kind]); }
  undefinedInstruction(): never { this.calls.push(["undefined"]); throw new Undefined("undefined instruction"); }

  write(addr: bigint, bytes: Uint8Array | number[]): void {
    bytes.forEach((b, i) => this.mem.set(addr + BigInt(i), b));
  }
  write64(addr: bigint, v: bigint, size = 8): void {
    for (let i = 0; i < size; i++) this.mem.set(addr + BigInt(i), Number((v >> BigInt(8 * i)) & 0xffn));
  }
  read64(addr: bigint, size = 8): bigint {
    let v = 0n;
    for (let i = 0; i < size; i++) v |= BigInt(this.mem.get(addr + BigInt(i)) ?? 0) << BigInt(8 * i);
    return v;
  }
  /** Execute the instruction word at state.pc, as the CPU loop does. */
  step(): void {
    const st = this.state;
    const w = Number(this.read64(st.pc, 4));
    st.nextPc = st.pc + 4n;
    executeA64(this, decodeA64(w));
    st.pc = st.nextPc;
  }
}

export const CODE = 0x40080000n;

/** Assemble `src` at CODE into a fresh env; pc at CODE. */
export function envWith(src: string): FakeEnv {
  const env = new FakeEnv();
  const p = assembleA64(src, { base: CODE });
  env.write(CODE, p.bytes);
  env.state.pc = CODE;
  return env;
}

/** Run `n` instructions (default: one per line of source). */
export function run(src: string, setup?: (env: FakeEnv) => void, n?: number): FakeEnv {
  const env = envWith(src);
  setup?.(env);
  const count = n ?? src.trim().split("\n").length;
  for (let i = 0; i < count; i++) env.step();
  return env;
}
