// Exception generation and system instructions: Arm ARM C4.1.85 (SVC/HVC/SMC, hints, barriers,
// PSTATE, SYS, MSR/MRS) and the SYS aliases DC/IC/AT/TLBI with their operation names from
// Arm ARM C5.3 (tables of op1/CRm/op2 for CRn = 7 and 8), as GNU binutils names them
// (opcodes/aarch64-opc.c aarch64_sys_regs_dc/ic/at/tlbi).

import type { A64Env } from "../../env.js";
import type { Gen } from "../gen.js";
import { A64BuildError, type A64Fields, type A64Ops } from "../types.js";
import { packSysreg, unpackSysreg, PSTATE_FIELDS } from "../sysnames.js";
import { fieldsAsOps, num, rX, ufit, wX, type Decl } from "./common.js";

const decls: Decl[] = [];

for (const [mn, ll] of [["svc", "01"], ["hvc", "10"], ["smc", "11"]] as const) {
  decls.push({
    name: mn.toUpperCase(), pattern: `11010100 000 imm16:16 000 ${ll}`, syntax: `${mn} #<imm16>`,
    // HVC is the hypercall exit, the hottest trap: it leaves the block with a result code rather
    // than an exception (A64Cpu.hvcTrap); an env without hvcTrap gets the generic call.
    ...(mn === "hvc"
      ? { branches: true, gen: (f: A64Fields, g: Gen) => g.leave(`E.hvcTrap !== undefined ? E.hvcTrap(${f.imm16!}) : (E.call("hvc", ${f.imm16!}), 0)`) }
      : { exec: (env: A64Env, f: A64Fields) => env.call(mn, f.imm16!) }),
  });
}

// ---- hints (Arm ARM C6.2.{NOP,YIELD,WFE,WFI,SEV,SEVL}); unallocated hints execute as NOP
const HINTS: [string, number][] = [["nop", 0], ["yield", 1], ["wfe", 2], ["wfi", 3], ["sev", 4], ["sevl", 5]];
for (const [mn, op2] of HINTS) {
  decls.push({
    name: mn.toUpperCase(), pattern: `11010101000000110010 0000 ${op2.toString(2).padStart(3, "0")} 11111`, syntax: mn,
    // YIELD hints that the PE spins (Arm ARM C6.2.YIELD); an environment may act on it (onYield:
    // an SMP machine lets another vCPU run, as QEMU's round-robin TCG does in helper_yield).
    ...(mn === "wfi" || mn === "wfe" ? { exec: (env: A64Env) => env.wait(mn === "wfe") } : mn === "yield" ? { gen: (_f: A64Fields, g: Gen) => g.emit("if (E.onYield) E.onYield();") } : { gen: () => {} }),
  });
}
decls.push({
  name: "HINT", pattern: "11010101000000110010 CRm:4 op2:3 11111", syntax: "hint #<imm>",
  view: (f) => ({ imm: BigInt((f.CRm! << 3) | f.op2!) }),
  build: (o) => { const v = ufit(o.imm, 7, "hint number"); return { CRm: v >> 3, op2: v & 7 }; },
  gen: () => {},
});

// ---- barriers (Arm ARM C6.2.{CLREX,DSB,DMB,ISB})
decls.push(
  {
    name: "CLREX", pattern: "11010101000000110011 CRm:4 010 11111", syntax: "clrex{ #<CRm>}",
    view: (f) => ({ CRm: f.CRm === 15 ? undefined : BigInt(f.CRm!) }), build: (o) => ({ CRm: ufit(o.CRm, 4, "option", 15n) }),
    exec: (env) => clearExclusive(env.state),
  },
  { name: "DSB", pattern: "11010101000000110011 CRm:4 100 11111", syntax: "dsb <barrier>", view: (f) => ({ barrier: BigInt(f.CRm!) }), build: (o) => ({ CRm: num(o.barrier) }), gen: (_f, g) => g.emit(`E.barrier("dsb");`) },
  { name: "DMB", pattern: "11010101000000110011 CRm:4 101 11111", syntax: "dmb <barrier>", view: (f) => ({ barrier: BigInt(f.CRm!) }), build: (o) => ({ CRm: num(o.barrier) }), gen: (_f, g) => g.emit(`E.barrier("dmb");`) },
  { name: "ISB", pattern: "11010101000000110011 1111 110 11111", syntax: "isb{ sy}", gen: (_f, g) => g.emit(`E.barrier("isb");`) },
  { name: "ISB_opt", pattern: "11010101000000110011 CRm:4 110 11111", syntax: "isb #<CRm>", gen: (_f, g) => g.emit(`E.barrier("isb");`) },
);

// ---- MSR (immediate) to PSTATE fields (Arm ARM C6.2.{MSR (immediate)}): op1/op2 per field
const PSTATE_ENC: [number, number][] = [[0, 5], [3, 6], [3, 7]]; // spsel, daifset, daifclr
decls.push({
  name: "MSR_imm", pattern: "1101010100000 op1:3 0100 CRm:4 op2:3 11111", syntax: "msr <pstate>, #<CRm>",
  when: (f) => PSTATE_ENC.some(([a, b]) => a === f.op1 && b === f.op2),
  view: (f) => ({ ...fieldsAsOps(f), pstate: BigInt(PSTATE_ENC.findIndex(([a, b]) => a === f.op1 && b === f.op2)) }),
  build: (o) => {
    const [op1, op2] = PSTATE_ENC[num(o.pstate)]!;
    // SPSel holds one bit (Arm ARM C5.2.16); GNU as rejects a larger immediate for it
    return { op1, op2, CRm: ufit(o.CRm, o.pstate === 0n ? 1 : 4, "immediate") };
  },
  exec: (env, f) => {
    const i = PSTATE_ENC.findIndex(([a, b]) => a === f.op1 && b === f.op2);
    env.writePstate(PSTATE_FIELDS[i] as "spsel" | "daifset" | "daifclr", f.CRm!);
  },
});

// ---- SYS aliases: operation tables keyed by name → op1<<7 | CRm<<3 | op2
const op = (op1: number, crm: number, op2: number) => (op1 << 7) | (crm << 3) | op2;
export const DC_OPS: Record<string, number> = {
  ivac: op(0, 6, 1), isw: op(0, 6, 2), csw: op(0, 10, 2), cisw: op(0, 14, 2),
  zva: op(3, 4, 1), cvac: op(3, 10, 1), cvau: op(3, 11, 1), civac: op(3, 14, 1),
};
export const IC_OPS: Record<string, number> = { ialluis: op(0, 1, 0), iallu: op(0, 5, 0), ivau: op(3, 5, 1) };
export const AT_OPS: Record<string, number> = {
  s1e1r: op(0, 8, 0), s1e1w: op(0, 8, 1), s1e0r: op(0, 8, 2), s1e0w: op(0, 8, 3),
  s1e2r: op(4, 8, 0), s1e2w: op(4, 8, 1), s12e1r: op(4, 8, 4), s12e1w: op(4, 8, 5), s12e0r: op(4, 8, 6), s12e0w: op(4, 8, 7),
  s1e3r: op(6, 8, 0), s1e3w: op(6, 8, 1),
};
export const TLBI_OPS: Record<string, number> = {
  vmalle1is: op(0, 3, 0), vae1is: op(0, 3, 1), aside1is: op(0, 3, 2), vaae1is: op(0, 3, 3), vale1is: op(0, 3, 5), vaale1is: op(0, 3, 7),
  vmalle1: op(0, 7, 0), vae1: op(0, 7, 1), aside1: op(0, 7, 2), vaae1: op(0, 7, 3), vale1: op(0, 7, 5), vaale1: op(0, 7, 7),
  ipas2e1is: op(4, 0, 1), ipas2le1is: op(4, 0, 5), alle2is: op(4, 3, 0), vae2is: op(4, 3, 1), alle1is: op(4, 3, 4), vale2is: op(4, 3, 5), vmalls12e1is: op(4, 3, 6),
  ipas2e1: op(4, 4, 1), ipas2le1: op(4, 4, 5), alle2: op(4, 7, 0), vae2: op(4, 7, 1), alle1: op(4, 7, 4), vale2: op(4, 7, 5), vmalls12e1: op(4, 7, 6),
  alle3is: op(6, 3, 0), vae3is: op(6, 3, 1), vale3is: op(6, 3, 5), alle3: op(6, 7, 0), vae3: op(6, 7, 1), vale3: op(6, 7, 5),
};
/** TLBI operations that take no register (Rt = 31): the "all" forms. */
const TLBI_NO_REG = new Set(["vmalle1is", "vmalle1", "alle2is", "alle1is", "vmalls12e1is", "alle2", "alle1", "vmalls12e1", "alle3is", "alle3"]);
const IC_NO_REG = new Set(["ialluis", "iallu"]);

function sysExec(env: Parameters<NonNullable<Decl["exec"]>>[0], f: A64Fields): void {
  env.sys({ op0: 1, op1: f.op1!, crn: f.CRn!, crm: f.CRm!, op2: f.op2! }, rX(env, f.Rt!, 1), f.Rt!);
}
function sysAlias(mn: string, crn: number, ops: Record<string, number>, noReg: Set<string>): Decl {
  const codes = new Set(Object.values(ops));
  const nameOf = (code: number) => Object.keys(ops).find((k) => ops[k] === code)!;
  return {
    name: mn.toUpperCase(), aliasOf: "SYS", pattern: `1101010100001 op1:3 ${crn.toString(2).padStart(4, "0")} CRm:4 op2:3 Rt:5`,
    syntax: noReg.size ? `${mn} <sysop>{, <Xt>}` : `${mn} <sysop>, <Xt>`, sysops: ops,
    when: (f) => codes.has((f.op1! << 7) | (f.CRm! << 3) | f.op2!) && (!noReg.size || noReg.has(nameOf((f.op1! << 7) | (f.CRm! << 3) | f.op2!)) === (f.Rt === 31)),
    view: (f) => ({ ...fieldsAsOps(f), sysop: BigInt((f.op1! << 7) | (f.CRm! << 3) | f.op2!), Rt: noReg.size && f.Rt === 31 ? undefined : BigInt(f.Rt!) }),
    build: (o) => {
      const code = num(o.sysop);
      const name = nameOf(code);
      if (noReg.has(name) && o.Rt !== undefined) throw new A64BuildError(`${mn} ${name} does not take a register`);
      if (noReg.size && !noReg.has(name) && o.Rt === undefined) throw new A64BuildError(`${mn} ${name} needs a register operand`, `write ${mn} ${name}, x0`);
      return { op1: code >> 7, CRm: (code >> 3) & 15, op2: code & 7, Rt: num(o.Rt, 31) };
    },
  };
}
decls.push(
  sysAlias("dc", 7, DC_OPS, new Set()),
  sysAlias("ic", 7, IC_OPS, IC_NO_REG),
  sysAlias("at", 7, AT_OPS, new Set()),
  sysAlias("tlbi", 8, TLBI_OPS, TLBI_NO_REG),
  {
    name: "SYS", pattern: "1101010100001 op1:3 CRn:4 CRm:4 op2:3 Rt:5", syntax: "sys #<op1:d>, C<CRn:d>, C<CRm:d>, #<op2:d>{, <Xt>}",
    view: (f) => ({ ...fieldsAsOps(f), Rt: f.Rt === 31 ? undefined : BigInt(f.Rt!) }),
    build: (o) => ({ op1: ufit(o.op1, 3, "op1"), CRn: ufit(o.CRn, 4, "CRn"), CRm: ufit(o.CRm, 4, "CRm"), op2: ufit(o.op2, 3, "op2"), Rt: num(o.Rt, 31) }),
    exec: sysExec,
  },
);

// ---- MSR/MRS (register): op0 = 2 + o0 (Arm ARM C5.2)
const sysregView = (f: A64Fields): A64Ops => ({ ...fieldsAsOps(f), sysreg: BigInt(packSysreg(2 + f.o0!, f.op1!, f.CRn!, f.CRm!, f.op2!)) });
function sysregBuild(o: A64Ops): A64Fields {
  const e = unpackSysreg(num(o.sysreg));
  if (e.op0 < 2) throw new A64BuildError("op0 must be 2 or 3 for msr/mrs", "system registers are s2_* or s3_*");
  return { o0: e.op0 - 2, op1: e.op1, CRn: e.crn, CRm: e.crm, op2: e.op2, Rt: num(o.Rt) };
}
const enc = (f: A64Fields) => ({ op0: 2 + f.o0!, op1: f.op1!, crn: f.CRn!, crm: f.CRm!, op2: f.op2! });
decls.push(
  {
    name: "MSR_reg", pattern: "1101010100 0 1 o0:1 op1:3 CRn:4 CRm:4 op2:3 Rt:5", syntax: "msr <sysreg>, <Xt>",
    view: sysregView, build: sysregBuild,
    exec: (env, f) => env.writeSysreg(enc(f), rX(env, f.Rt!, 1), f.Rt!),
  },
  {
    name: "MRS", pattern: "1101010100 1 1 o0:1 op1:3 CRn:4 CRm:4 op2:3 Rt:5", syntax: "mrs <Xt>, <sysreg>",
    view: sysregView, build: sysregBuild,
    exec: (env, f) => { const v = env.readSysreg(enc(f), f.Rt!); wX(env, f.Rt!, v, 1); },
  },
);

// ---- the exclusive monitor (Arm ARM B2.9): one local monitor per register file
const monitors = new WeakMap<object, { addr: bigint; size: number }>();
export function setExclusive(state: object, addr: bigint, size: number): void {
  monitors.set(state, { addr, size });
}
export function checkExclusive(state: object, addr: bigint, size: number): boolean {
  const m = monitors.get(state);
  monitors.delete(state);
  return m !== undefined && m.addr === addr && m.size === size;
}
export function clearExclusive(state: object): void {
  monitors.delete(state);
}

export const system = decls;
