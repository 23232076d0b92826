// The built-in boot guest's exits, each checked against the instruction that caused it: the
// test decodes ESR_EL2 itself (EC/IL/ISS bit positions from Arm ARM D17.2.37, written out here
// rather than taken from runtime/arm64/esr.ts), re-executes the faulting instruction against a
// recording environment with the registers as they were at the exit, and compares the access it
// makes (address, size, register, direction) with FAR_EL2, HPFAR_EL2 and the syndrome.

import { describe, it, expect } from "vitest";
import { createArm64Machine, type Arm64Machine } from "../../../runtime/arm64/machine.js";
import { runArm64Boot } from "../../../runtime/arm64/demo.js";
import { decodeA64, executeA64 } from "../../../runtime/arm64/isa/index.js";
import type { A64Env, A64MemAccess } from "../../../runtime/arm64/env.js";
import { A64State } from "../../../runtime/arm64/state.js";
import type { Exit } from "../../../runtime/core/machine.js";

const bits = (v: bigint, hi: number, lo: number) => Number((v >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n));

function decode(esr: bigint) {
  return {
    ec: bits(esr, 31, 26), il: bits(esr, 25, 25),
    isv: bits(esr, 24, 24), sas: bits(esr, 23, 22), sse: bits(esr, 21, 21), srt: bits(esr, 20, 16), sf: bits(esr, 15, 15),
    ar: bits(esr, 14, 14), s1ptw: bits(esr, 7, 7), wnr: bits(esr, 6, 6), fsc: bits(esr, 5, 0),
    // MSR/MRS trap ISS
    op0: bits(esr, 21, 20), op2: bits(esr, 19, 17), op1: bits(esr, 16, 14), crn: bits(esr, 13, 10), rt: bits(esr, 9, 5), crm: bits(esr, 4, 1), dir: bits(esr, 0, 0),
  };
}

class Recorded extends Error {
  constructor(readonly va: bigint, readonly a: A64MemAccess) {
    super("recorded");
  }
}

/** The first memory access the instruction makes, with the registers of the machine at the exit. */
function firstAccess(m: Arm64Machine, word: number): { va: bigint; a: A64MemAccess } {
  const state = new A64State();
  const s = m.cpu.state;
  s.x.forEach((v, i) => (state.x[i] = v));
  state.sp.splice(0, 4, ...s.sp);
  state.el = s.el;
  state.spsel = s.spsel;
  state.pc = s.pc;
  state.nextPc = s.pc + 4n;
  const fail = (): never => {
    throw new Error("not a memory access");
  };
  const env: A64Env = {
    state,
    load: (va, a) => { throw new Recorded(va, a); },
    store: (va, _v, a) => { throw new Recorded(va, a); },
    readSysreg: fail, writeSysreg: fail, writePstate: fail, sys: fail, call: fail, eret: fail, wait: fail, barrier: () => undefined, undefinedInstruction: fail,
  };
  try {
    executeA64(env, decodeA64(word));
  } catch (e) {
    if (e instanceof Recorded) return { va: e.va, a: e.a };
    throw e;
  }
  throw new Error("the instruction made no access");
}

/** Run the built-in guest exit by exit, checking every stage-2 abort when it happens. */
function bootChecked(settings: { granule?: "64k" | "4k" } = {}): { m: Arm64Machine; checked: Exit[] } {
  const m = createArm64Machine({ settings });
  const checked: Exit[] = [];
  for (let i = 0; i < 500 && !m.halted; i++) {
    const r = m.runUntilExit({ maxSteps: 1_000_000 });
    if (r.stop !== "exit") break;
    const e = m.pendingExit!;
    const esr = m.readRegister("esr_el2");
    const d = decode(esr);
    expect(esr).toBe(e.info.esr);
    expect(d.il).toBe(1);
    if (d.ec === 0x24 || d.ec === 0x20) {
      const far = m.readRegister("far_el2");
      const hpfar = m.readRegister("hpfar_el2");
      expect(e.info.far).toBe(far);
      // Before the MMU is on, VA = IPA; afterwards the identity map keeps it so. HPFAR = IPA[47:12] << 4.
      expect(hpfar).toBe((far >> 12n) << 4n);
      expect(e.info.ipa).toBe((far >> 12n) << 12n);
      expect(d.fsc & 0x3c).toBe(0x04); // translation fault
      if (d.ec === 0x20) {
        expect(far).toBe(e.pc);
      } else {
        const word = Number(m.memory.read32(Number(e.pc)));
        const { va, a } = firstAccess(m, word);
        expect(far).toBe(va);
        expect(d.wnr).toBe(a.write ? 1 : 0);
        expect(d.isv).toBe(a.syndromeValid ? 1 : 0);
        if (d.isv) {
          expect(1 << d.sas).toBe(a.size);
          expect(d.srt).toBe(a.rt);
          expect(d.sf).toBe(a.sf ? 1 : 0);
          expect(d.sse).toBe(a.signed ? 1 : 0);
        } else {
          expect(bits(esr, 23, 14)).toBe(0); // no syndrome fields at all
          expect(String(e.info.instruction)).toMatch(/^(stp|ldp)\b|\]!|\], #/);
        }
      }
      checked.push(e);
    }
    if (d.ec === 0x18) {
      const value = m.cpu.state.readX(d.rt);
      expect(e.info["sysreg.value"]).toBe(value);
      expect(d.dir).toBe(0);
    }
    m.handle();
  }
  return { m, checked };
}

describe("the built-in arm64 boot guest (talk shape)", () => {
  const { m, checked } = bootChecked();
  const exits = m.exits;
  const esrs = exits.map((e) => e.info.esr as bigint);

  it("powers off through PSCI after printing on the UART", () => {
    expect(m.halted?.message).toMatch(/SYSTEM_OFF/);
    expect(m.console).toBe("exitlab: hello from the arm64 guest, MMU and caches on\n");
    expect(exits.at(-1)!.reason).toBe("HVC64");
    expect(exits.at(-1)!.info.x0).toBe(0x84000008n);
  });

  it("first exits with an instruction abort at the load address", () => {
    const e = exits.at(0)!;
    const d = decode(e.info.esr as bigint);
    expect(e.reason).toBe("IABT_LOW");
    expect(d.ec).toBe(0x20);
    expect(e.pc).toBe(0x40080000n);
    expect(e.info.far).toBe(0x40080000n);
    expect(checked.length).toBeGreaterThan(6);
  });

  it("has the slide's data aborts: stp with ISV=0 below the stack top, word read of the DTB into w3, byte store from w4, doubleword store from x20", () => {
    const stp = exits.find((e) => e.reason === "DABT_LOW")!;
    expect(stp.info.instruction).toBe("stp x29, x30, [sp, #-32]!");
    expect(stp.info.far).toBe(0x400affe0n);
    expect(stp.info.ipa).toBe(0x400af000n);
    expect(decode(stp.info.esr as bigint).isv).toBe(0);
    const dtb = exits.find((e) => e.info.far === 0x44000004n)!;
    expect(decode(dtb.info.esr as bigint)).toMatchObject({ isv: 1, sas: 2, srt: 3, wnr: 0 });
    expect(dtb.info.ipa).toBe(0x44000000n);
    const byte = exits.find((e) => decode(e.info.esr as bigint).isv === 1 && decode(e.info.esr as bigint).sas === 0 && e.info.far === 0x400b0000n)!;
    expect(decode(byte.info.esr as bigint)).toMatchObject({ srt: 4, wnr: 1 });
    const dword = exits.find((e) => decode(e.info.esr as bigint).sas === 3 && decode(e.info.esr as bigint).isv === 1)!;
    expect(decode(dword.info.esr as bigint)).toMatchObject({ srt: 20, sf: 1, wnr: 1 });
    // The slide's ESR values come out of the model.
    for (const v of [0x92000047n, 0x93830007n, 0x93040047n, 0x93d48047n]) expect(esrs).toContain(v);
  });

  it("has ISV=0 pair-store faults from one pc on consecutive 64 KiB pages", () => {
    const zero = exits.filter((e) => e.info.esr === 0x92000047n && e.info.instruction === "stp xzr, xzr, [x0], #16");
    expect(zero.map((e) => e.info.far)).toEqual([0x400c0000n, 0x400d0000n]);
    expect(zero[0]!.pc).toBe(zero[1]!.pc);
  });

  it("traps TCR, MAIR, TTBR0 then SCTLR writes, toggling the cache off→off ×3 then off→on, and no VM-register trap after", () => {
    const sys = exits.filter((e) => e.reason === "SYS64");
    expect(sys.map((e) => e.info.sysreg)).toEqual(["TCR_EL1", "MAIR_EL1", "TTBR0_EL1", "SCTLR_EL1"]);
    const enc = sys.map((e) => decode(e.info.esr as bigint));
    expect(enc.map((d) => [d.op0, d.op1, d.crn, d.crm, d.op2])).toEqual([[3, 0, 2, 0, 2], [3, 0, 10, 2, 0], [3, 0, 2, 0, 0], [3, 0, 1, 0, 0]]);
    expect(sys[3]!.pc - sys[0]!.pc).toBe(0x24n);
    const toggles = m.trace.lines("2015", ["kvm_toggle_cache"]);
    expect(toggles.map((l) => l.replace(/.*\(/, "("))).toEqual(["(cache was off, now off)", "(cache was off, now off)", "(cache was off, now off)", "(cache was off, now on)"]);
    expect(toggles[3]).toBe(`kvm_toggle_cache: VM op at 0x${sys[3]!.pc.toString(16).padStart(16, "0")} (cache was off, now on)`);
    const last = sys[3]!.index;
    expect(exits.slice(last + 1).some((e) => e.reason === "SYS64")).toBe(false);
    expect(m.kvm.hcr() & (1n << 26n)).toBe(0n); // TVM cleared
  });

  it("prints UART output through MMIO exits with ISV=1 and kvm_mmio writes", () => {
    const uart = exits.filter((e) => e.info.ipa === 0x09000000n);
    expect(uart.length).toBe(m.console.length);
    for (const e of uart) expect(decode(e.info.esr as bigint)).toMatchObject({ isv: 1, sas: 0, wnr: 1, srt: 1 });
    const mmio = m.trace.lines("2015", ["kvm_mmio"]);
    expect(mmio[0]).toBe(`kvm_mmio: mmio write len 1 gpa 0x9000000 val 0x${m.console.charCodeAt(0).toString(16)}`);
  });

  it("traces kvm_guest_fault in the 2015 text with ipa, hsr, hxfar, pc", () => {
    const lines = m.trace.lines("2015", ["kvm_guest_fault"]);
    expect(lines[1]).toBe("kvm_guest_fault: ipa 0x400af000, hsr 0x92000047, hxfar 0x400affe0, pc 0x4008001c");
    expect(m.trace.lines("today", ["kvm_exit"])[0]).toBe("kvm_exit: TRAP: HSR_EC: 0x0020 (IABT_LOW), PC: 0x0000000040080000");
  });
});

describe("settings change what the guest costs", () => {
  it("a 4 KiB granule takes one fault per 4 KiB page (32 for the two page-table pages)", () => {
    const { m } = bootChecked({ granule: "4k" });
    const tables = m.exits.filter((e) => e.info.instruction === "stp xzr, xzr, [x0], #16");
    expect(tables.length).toBe(32);
    expect(m.console).toMatch(/hello/);
  });

  it("KVM of today does not trap VM registers from reset but traps the ID register read (TID3)", () => {
    const d = runArm64Boot({ era: "today" });
    const sys = d.machine.exits.filter((e) => e.reason === "SYS64");
    expect(sys.map((e) => e.info.sysreg)).toEqual(["ID_AA64MMFR0_EL1"]);
    expect(decode(sys[0]!.info.esr as bigint).dir).toBe(1);
    expect(d.machine.console).toMatch(/hello/);
  });

  it("is deterministic: two boots give identical traces", () => {
    expect(runArm64Boot().traceLines).toEqual(runArm64Boot().traceLines);
  });

  it("a runaway guest stops at the step limit with its state intact", () => {
    const m = createArm64Machine({ guest: { source: "start:\n\tadd x1, x1, #1\n\tb start\n" } });
    const r = m.run({ maxSteps: 5000 });
    expect(r.stop).toBe("limit");
    expect(m.halted).toBeNull();
    expect(m.readRegister("x1")).toBeGreaterThan(2000n);
    const again = m.run({ maxSteps: 10 });
    expect(again.stop).toBe("limit");
  });
});

describe("the TypeScript API with a user's guest", () => {
  it("assembles, steps, handles and reads registers and trace", () => {
    const src = "start:\n\tmov x1, #5\n\tadd x2, x1, #7\n\tldr x0, =0x84000000\n\thvc #0\n\tmov x3, x0\n\tldr x0, =0x84000008\n\thvc #0\n";
    const m = createArm64Machine({ guest: { source: src, fileName: "t.s" } });
    expect(m.pc).toBe(0x40080000n);
    expect(m.step().stop).toBe("exit"); // the first fetch
    m.handle();
    m.step();
    m.step();
    expect(m.readRegister("x2")).toBe(12n);
    const r = m.runUntilExit();
    expect(r.exit?.reason).toBe("HVC64");
    m.handle();
    m.run();
    expect(m.readRegister("x3")).toBe(2n); // PSCI 0.2
    expect(m.halted?.message).toMatch(/SYSTEM_OFF/);
    expect(m.trace.lines("2015", ["kvm_hvc_arm64"])[0]).toBe("kvm_hvc_arm64: HVC at 0x40080010 (r0: 0x84000000, imm: 0x0)");
    expect(m.disassemble(0x40080000n, 2).map((l) => l.text)).toEqual(["mov x1, #0x5", "add x2, x1, #0x7"]);
  });
});
