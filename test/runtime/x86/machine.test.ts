// The Machine interface of the x86 machine: views, registers, settings, traps, info, the demo.

import { describe, expect, test } from "vitest";
import { createX86Machine } from "../../../runtime/x86/machine.js";
import { x86Info } from "../../../runtime/x86/info.js";
import { runX86Boot } from "../../../runtime/x86/demo.js";
import { EXIT_REASONS } from "../../../runtime/x86/vmx/reasons.js";
import { VMCS_GROUPS } from "../../../runtime/x86/vmx/fields.js";

describe("x86 machine interface", () => {
  test("step leaves the first exit pending; handle resumes", () => {
    const m = createX86Machine();
    const r = m.step();
    expect(r.stop).toBe("exit");
    expect(m.pendingExit?.reason).toBe("EPT_VIOLATION");
    expect(m.step().stop).toBe("exit"); // nothing runs while an exit is pending
    expect(m.handle().action).toBe("resume");
    expect(m.pendingExit).toBeNull();
    expect(m.step()).toMatchObject({ stop: "limit", steps: 1 });
    expect(m.readRegister("esp")).toBe(m.symbols.get("stacktop"));
  });

  test("views: regs, exit, vmcs by group (the talk's six boxes), ept, stats", () => {
    const m = createX86Machine();
    m.run({ stopOnExit: (e) => e.reason === "CR_ACCESS" });
    expect(m.view("regs").rows.map((r) => r[0])).toContain("cr4");
    const exit = m.view("exit");
    expect(exit.rows).toContainEqual(["qual.cr", 4]);
    const vmcs = m.view("vmcs");
    expect(new Set(vmcs.rows.map((r) => r[0]))).toEqual(new Set(VMCS_GROUPS.map((g) => g.title)));
    const exec = m.view("vmcs", "exec");
    const cpu = exec.rows.find((r) => r[1] === "CPU_BASED_VM_EXEC_CONTROL")!;
    expect(String(cpu[5])).toMatch(/CPU_BASED_HLT_EXITING.*CPU_BASED_CR3_LOAD_EXITING/);
    expect(m.view("ept").rows.length).toBe(1);
    expect(m.view("controls").rows).toContainEqual(["CPU_BASED_VM_EXEC_CONTROL", "CPU_BASED_HLT_EXITING", 7, "on", "HLT exits"]);
    expect(() => m.view("nope")).toThrow(/unknown x86 view/);
    expect(() => m.view("vmcs", "nope")).toThrow(/no VMCS group/);
  });

  test("KVM v4.1 initial controls: masks, exception bitmap, bitmaps", () => {
    const m = createX86Machine();
    expect(m.vmcs.read("CR0_GUEST_HOST_MASK")).toBe(0xffff_ffff_ffff_fff7n); // all but TS
    expect(m.vmcs.read("CR4_GUEST_HOST_MASK") & 0x20n).toBe(0x20n); // PAE is KVM's
    expect(m.vmcs.read("CR4_GUEST_HOST_MASK") & 0x80n).toBe(0n); // PGE is the guest's with EPT
    // v4.1 update_exception_bitmap with EPT and the FPU active: #DB, #UD, #MC (#AC only from Linux 4.4).
    expect(m.vmcs.read32("EXCEPTION_BITMAP")).toBe((1 << 1) | (1 << 6) | (1 << 18));
    expect(m.rules.ioExits(0x3f8, 1)).toBe(true);
    expect(m.rules.ioExits(0x80, 1)).toBe(false);
    expect(m.rules.msrExits(0xc000_0080, false)).toBe(true);
    expect(m.rules.msrExits(0xc000_0100, true)).toBe(false);
    expect(m.rules.msrExits(0x4000_0000, false)).toBe(true); // outside the bitmap
    expect(m.vmcs.read("GUEST_CR3")).toBe(0xfffbc000n); // paging off: KVM's identity map
  });

  test("settings and errors", () => {
    const m = createX86Machine();
    expect(() => m.set("era", "1999")).toThrow();
    expect(() => m.set("stepLimit", -1)).toThrow();
    expect(() => m.set("bogus", 1)).toThrow(/unknown x86 setting/);
    expect(() => m.readRegister("xmm0")).toThrow(/unknown x86 register/);
    expect(() => m.setTrap({ kind: "cr", arg: 2 }, true)).toThrow(/cannot be trapped/);
    expect(() => m.setTrap({ kind: "warp" }, true)).toThrow(/unknown x86 trap/);
    expect(() => createX86Machine({ guest: { builtin: "nope" } })).toThrow(/no built-in/);
    expect(() => createX86Machine({ guest: { source: "start: bogus %eax" } })).toThrow(/line 1/);
    m.writeRegister("eax", 0x1_2345_6789n);
    expect(m.readRegister("rax")).toBe(0x2345_6789n);
    expect(m.disassemble(0x400000n, 2).map((l) => l.text)).toEqual([expect.stringMatching(/^mov\s+\$0x406000,%esp$/), expect.stringMatching(/^mov\s+%ebx,%edi$/)]);
  });

  test("arch info lists every exit reason, VMCS fields, MSRs and tracepoints", () => {
    expect(x86Info.exitReasons.length).toBe(EXIT_REASONS.length);
    expect(x86Info.exitReasons.map((r) => r.name)).toEqual(expect.arrayContaining(["EPT_VIOLATION", "CR_ACCESS", "MSR_READ", "TRIPLE_FAULT"]));
    expect(x86Info.vocabulary.vmcs_field!.find((f) => f.name === "GUEST_CR0")?.code).toBe(0x6800);
    expect(x86Info.vocabulary.msr!.find((f) => f.name === "EFER")?.code).toBe(0xc000_0080);
    expect(x86Info.vocabulary.tracepoint!.map((t) => t.name)).toContain("kvm_exit");
    expect(x86Info.builtinGuests.map((g) => g.name)).toEqual(["boot"]);
  });

  test("the demo boots and summarises exits with their modelled cycles", () => {
    const d = runX86Boot();
    expect(d.machine.halted).not.toBeNull();
    expect(d.traceLines[0]).toBe("kvm_entry: vcpu 0");
    const ept = d.summary.find((s) => s.reason === "EPT_VIOLATION")!;
    expect(ept.count).toBe(d.machine.exits.filter((e) => e.reason === "EPT_VIOLATION").length);
    expect(d.summary.reduce((a, s) => a + s.cycles, 0)).toBe(d.machine.exits.toArray().reduce((a, e) => a + e.cycles, 0));
    for (const e of d.machine.exits) {
      const parts = ["cost.vm_exit", "cost.vm_entry", "cost.kvm_exit_path", "cost.handler"].map((k) => Number(e.info[k]));
      expect(parts.reduce((a, b) => a + b, 0)).toBe(e.cycles);
    }
  });
});
