// The built-in guest boots under the KVM model and its exits have the talk's shape; every field of
// every qualification is decoded and checked against the instruction at the exit's rip, decoded
// independently from guest memory.

import { describe, expect, test } from "vitest";
import { createX86Machine, type X86Machine } from "../../../runtime/x86/machine.js";
import { decodeX86 } from "../../../runtime/x86/isa/index.js";
import type { X86Insn } from "../../../runtime/x86/isa/index.js";
import { CR_ACCESS_QUAL, EPT_VIOLATION_QUAL, IO_QUAL, decodeQual } from "../../../runtime/x86/vmx/qualification.js";
import type { Exit } from "../../../runtime/core/machine.js";

function boot(): X86Machine {
  const m = createX86Machine();
  const r = m.run({ maxSteps: 100_000 });
  expect(r.stop).toBe("halted");
  return m;
}

/** The instruction at a guest rip (identity-mapped guest: linear = physical). */
function insnAt(m: X86Machine, e: Exit): X86Insn {
  const mode = e.pc >= m.symbols.get("start64")! ? "long64" : "protected32";
  const pa = Number(e.pc);
  return decodeX86((o) => m.memory.readByte(pa + o), mode);
}

/** Index of each wanted exit, in order, as a subsequence of all exits. */
function subsequence(exits: { readonly length: number; at(i: number): Exit | undefined }, wanted: ((e: Exit) => boolean)[]): number[] {
  const at: number[] = [];
  let i = 0;
  for (const w of wanted) {
    while (i < exits.length && !w(exits.at(i)!)) i++;
    expect(i, `exit matching #${at.length} of the talk's sequence`).toBeLessThan(exits.length);
    at.push(i++);
  }
  return at;
}

describe("x86 boot guest: the talk's trace shape", () => {
  const m = boot();
  const exits = m.exits;
  const q = (e: Exit) => m.trace.events.find((t) => t.name === "kvm_exit" && t.fields.guest_rip === e.pc && BigInt(t.fields.info1 as bigint) === e.info.exit_qualification);
  const crQual = (e: Exit) => decodeQual(CR_ACCESS_QUAL, e.info.exit_qualification as bigint);
  const eptQual = (e: Exit) => decodeQual(EPT_VIOLATION_QUAL, e.info.exit_qualification as bigint);

  const shape = subsequence(exits, [
    (e) => e.reason === "EPT_VIOLATION" && eptQual(e).fetch === 1,
    (e) => e.reason === "CR_ACCESS" && crQual(e).cr === 4,
    (e) => e.reason === "CR_ACCESS" && crQual(e).cr === 3,
    (e) => e.reason === "MSR_READ",
    (e) => e.reason === "MSR_WRITE",
    (e) => e.reason === "CR_ACCESS" && crQual(e).cr === 0,
    (e) => e.reason === "EPT_VIOLATION" && eptQual(e).read === 1 && eptQual(e).final_translation === 1,
  ]).map((i) => exits.at(i)!);

  test("like cstart64.S, the CR4 → CR3 → rdmsr → wrmsr → CR0 exits are as many bytes apart as on the talk's slide", () => {
    // The talk's rips: 0x400196, 0x40019e, 0x4001a6, 0x4001ac, 0x4001b9.
    const talk = [0x400196, 0x40019e, 0x4001a6, 0x4001ac, 0x4001b9];
    const ours = shape.slice(1, 6).map((e) => Number(e.pc));
    expect(ours.slice(1).map((r, i) => r - ours[i]!)).toEqual(talk.slice(1).map((r, i) => r - talk[i]!));
  });

  test("the first exit is the first instruction fetch, at the entry point", () => {
    expect(exits.at(0)!.reason).toBe("EPT_VIOLATION");
    expect(exits.at(0)!.pc).toBe(m.symbols.get("start"));
    expect(exits.at(0)!.info.exit_qualification).toBe(0x184n);
  });

  test("CR exits: qualification names the CR and the GPR of the mov at rip", () => {
    for (const e of shape.filter((x) => x.reason === "CR_ACCESS")) {
      const insn = insnAt(m, e);
      expect(insn.spec.sem).toBe("movtocr");
      const [dst, src] = insn.operands;
      const d = crQual(e);
      expect(dst).toMatchObject({ kind: "cr", n: d.cr });
      expect(src).toMatchObject({ kind: "reg", reg: d.gpr });
      expect(d.access_type).toBe(0);
      expect(d.lmsw_operand).toBe(0);
      expect(d.lmsw_source).toBe(0);
      expect(e.info.instruction_length).toBe(insn.length);
      expect(q(e)).toBeDefined();
    }
    expect(shape.filter((x) => x.reason === "CR_ACCESS").map((x) => x.info.exit_qualification)).toEqual([4n, 3n, 0n]);
  });

  test("MSR exits are rdmsr/wrmsr of EFER (ecx = 0xc0000080) with qualification 0", () => {
    for (const e of shape.filter((x) => x.reason.startsWith("MSR"))) {
      const insn = insnAt(m, e);
      expect(insn.spec.mnemonic).toBe(e.reason === "MSR_READ" ? "rdmsr" : "wrmsr");
      expect(e.info.msr).toBe(0xc000_0080n);
      expect(e.info.exit_qualification).toBe(0n);
      expect(e.info.instruction_length).toBe(insn.length);
    }
    const w = shape.find((x) => x.reason === "MSR_WRITE")!;
    expect(BigInt(w.info["msr.value"] as bigint) & 0x100n).toBe(0x100n); // LME
  });

  test("EPT violations: access bits match fetch vs read of the instruction at rip; GLA valid; GPA is the page touched", () => {
    for (const e of exits.filter((x) => x.reason === "EPT_VIOLATION")) {
      const d = eptQual(e);
      expect(d.read! + d.write! + d.fetch!).toBe(1);
      expect(d.gla_valid).toBe(1);
      expect(d.readable! | d.writable! | d.executable!).toBe(0); // nothing mapped yet
      const gpa = Number(e.info.guest_physical_address);
      const gla = BigInt(e.info.guest_linear_address as bigint);
      if (d.fetch) {
        expect(d.final_translation).toBe(1);
        expect(gla >> 12n).toBe(e.pc >> 12n);
      } else if (d.final_translation) {
        const insn = insnAt(m, e);
        const mem = insn.operands.find((o) => o.kind === "mem");
        if (d.read) expect(mem, "a data read has a memory operand").toBeDefined();
        expect(BigInt(gpa)).toBe(gla); // identity-mapped
      } else {
        // A guest paging-structure read: the GPA is inside one of the guest's page tables.
        const tables = ["ptl4", "ptl3", "ptl2"].map((s) => Number(m.symbols.get(s)));
        expect(tables.some((t) => gpa >= t && gpa < t + 4096)).toBe(true);
        expect(d.read).toBe(1);
      }
    }
  });

  test("the data-read violation is the mov from the data page", () => {
    const e = shape[6]!;
    const insn = insnAt(m, e);
    expect(insn.spec.mnemonic).toBe("mov");
    expect(insn.operands[1]).toMatchObject({ kind: "mem", ripRelative: true });
    expect(Number(e.info.guest_physical_address)).toBe(Number(m.symbols.get("boot_magic")));
    expect(e.info.exit_qualification).toBe(0x181n);
  });

  test("I/O exits: port, size, direction and operand encoding match the out at rip", () => {
    const io = exits.filter((x) => x.reason === "IO_INSTRUCTION");
    expect(io.length).toBeGreaterThan(10);
    for (const e of io) {
      const insn = insnAt(m, e);
      const d = decodeQual(IO_QUAL, e.info.exit_qualification as bigint);
      expect(insn.spec.mnemonic).toBe("out");
      const imm = insn.operands.find((o) => o.kind === "imm");
      expect(d.operand_encoding).toBe(imm ? 1 : 0);
      expect(d.port).toBe(imm ? Number((imm as { value: bigint }).value) : 0x3f8);
      expect(d.direction).toBe(0);
      expect(d.size).toBe(0);
      expect(e.info.instruction_length).toBe(insn.length);
    }
  });

  test("long mode is active, the serial line is printed and the debug-exit ends the VM", () => {
    expect(m.cpu.state.mode).toBe("long64");
    expect(m.cpu.state.efer & 0x500n).toBe(0x500n);
    expect(m.console).toBe("exitlab x86-64: long mode ok\n");
    expect(m.halted!.message).toMatch(/status 1/);
    expect(m.debugExit.written).toEqual({ value: 0, status: 1 });
  });

  test("KVM dropped CR3 exiting once paging was on, and set the IA-32e entry control", () => {
    expect(m.vmcs.read32("CPU_BASED_VM_EXEC_CONTROL") & (1 << 15)).toBe(0);
    expect(m.vmcs.read32("VM_ENTRY_CONTROLS") & (1 << 9)).toBe(1 << 9);
    expect(m.readRegister("cr3")).toBe(m.symbols.get("ptl4"));
  });

  test("2015 trace text", () => {
    const lines = m.trace.lines("2015");
    expect(lines).toContain(`kvm_exit: reason CR_ACCESS rip 0x${shape[1]!.pc.toString(16)} info 4 0`);
    expect(lines).toContain("kvm_msr: msr_write c0000080 = 0x100");
    expect(lines).toContain("kvm_cr: cr_write 4 = 0x20");
    expect(lines.filter((l) => l.startsWith("kvm_exit:")).length).toBe(exits.length);
  });
});

describe("era: today's KVM does not trap CR3 for an unrestricted guest", () => {
  test("the same guest boots with no CR3 exit, and its trace is in today's format", () => {
    const m = createX86Machine({ settings: { era: "today" } });
    m.run({ maxSteps: 100_000 });
    expect(m.console).toBe("exitlab x86-64: long mode ok\n");
    const crs = m.exits.filter((e) => e.reason === "CR_ACCESS").map((e) => e.info.exit_qualification);
    expect(crs).toEqual([4n, 0n]);
    expect(m.trace.lines("today").find((l) => l.startsWith("kvm_exit:"))).toMatch(/^kvm_exit: vcpu 0 reason EPT_VIOLATION rip 0x400000 info1 0x0000000000000184/);
  });

  test("switching the era on a fresh machine re-applies the policy", () => {
    const m = createX86Machine();
    expect(m.vmcs.read32("CPU_BASED_VM_EXEC_CONTROL") & (1 << 15)).toBe(1 << 15);
    m.set("era", "today");
    expect(m.vmcs.read32("CPU_BASED_VM_EXEC_CONTROL") & (1 << 15)).toBe(0);
  });
});
