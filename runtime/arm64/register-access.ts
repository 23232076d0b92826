// Registers of an arm64 vCPU by the names the lab uses (`x0`, `w3`, `pc`, `sp`, `pstate`, `el`,
// system registers by name): what `show regs`, expressions and assignments read and write.

import { ExitlabError } from "../core/errors.js";
import { MASK64 } from "../core/bits.js";
import type { A64Cpu } from "./cpu.js";
import { sysregByName } from "./sysregs.js";

/** Register `name` of `cpu`: x0..x30, w0..w30, pc, sp, xzr, sp_el1, pstate, el, or a system register. */
export function readCpuRegister(cpu: A64Cpu, name: string): bigint {
  const s = cpu.state;
  const n = name.toLowerCase();
  let m = /^x(\d+)$/.exec(n);
  if (m && Number(m[1]) <= 30) return s.x[Number(m[1])]!;
  m = /^w(\d+)$/.exec(n);
  if (m && Number(m[1]) <= 30) return s.x[Number(m[1])]! & 0xffff_ffffn;
  switch (n) {
    case "pc": return s.pc;
    case "sp": return s.currentSp;
    case "xzr": case "wzr": return 0n;
    case "sp_el1": return s.sp[1]!;
    case "pstate": case "cpsr": return cpu.pstate;
    case "el": return BigInt(s.el);
  }
  const reg = sysregByName(n);
  if (reg) return cpu.readSysregValue(reg.name);
  throw new ExitlabError(`unknown arm64 register ${name}`, "registers: x0..x30, w0..w30, sp, pc, pstate, el and system registers such as sctlr_el1, esr_el2");
}

/** Write register `name` of `cpu` (read-only system registers refused). */
export function writeCpuRegister(cpu: A64Cpu, name: string, value: bigint): void {
  const s = cpu.state;
  const n = name.toLowerCase();
  const v = value & MASK64;
  let m = /^x(\d+)$/.exec(n);
  if (m && Number(m[1]) <= 30) s.x[Number(m[1])] = v;
  else if ((m = /^w(\d+)$/.exec(n)) && Number(m[1]) <= 30) s.x[Number(m[1])] = v & 0xffff_ffffn;
  else if (n === "pc") s.pc = v;
  else if (n === "sp") s.currentSp = v;
  else if (n === "pstate" || n === "cpsr") cpu.pstate = v;
  else {
    const reg = sysregByName(n);
    if (!reg) throw new ExitlabError(`unknown arm64 register ${name}`);
    if (reg.readOnly) throw new ExitlabError(`${reg.name} is read-only`);
    cpu.writeSysregValue(reg.name, v);
  }
  cpu.mmu.flush();
}
