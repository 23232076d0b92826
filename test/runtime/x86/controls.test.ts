// Changing VMX controls through the TypeScript API changes which exits the hardware model raises.

import { describe, expect, test } from "vitest";
import { createX86Machine } from "../../../runtime/x86/machine.js";
import { decodeQual, CR_ACCESS_QUAL } from "../../../runtime/x86/vmx/qualification.js";
import { formatEvent } from "../../../runtime/core/trace.js";
import { crAccessExit } from "../../../runtime/x86/plain-exit.js";
import { VmExitSignal } from "../../../runtime/x86/state.js";

const crExits = (m: ReturnType<typeof createX86Machine>, cr: number) =>
  m.exits.filter((e) => e.reason === "CR_ACCESS" && decodeQual(CR_ACCESS_QUAL, e.info.exit_qualification as bigint).cr === cr);

function guest(body: string) {
  return createX86Machine({ guest: { source: `.code32\nstart:\n${body}\n` }, settings: { stepLimit: 10_000 } });
}

describe("controls decide exits", () => {
  test("baseline: KVM's settings trap CR4, CR3 and CR0 writes", () => {
    const m = createX86Machine();
    m.run({ maxSteps: 100_000 });
    expect(crExits(m, 4).length).toBe(1);
    expect(crExits(m, 3).length).toBe(1);
    expect(crExits(m, 0).length).toBe(1);
  });

  test("clearing CR3-load exiting: no CR3 exit (and KVM, never told the root, loses the guest's page tables)", () => {
    const m = createX86Machine();
    expect(m.setTrap({ kind: "cr", arg: 3 }, false)).toMatch(/CR3_LOAD_EXITING/);
    expect(m.vmcs.read32("CPU_BASED_VM_EXEC_CONTROL") & (1 << 15)).toBe(0);
    m.run({ maxSteps: 100_000 });
    expect(crExits(m, 3).length).toBe(0);
    expect(crExits(m, 4).length).toBe(1);
    expect(m.halted).not.toBeNull();
  });

  test("clearing CR4.PAE from the CR4 guest/host mask: the CR4 write no longer exits", () => {
    const m = createX86Machine();
    m.vmcs.write("CR4_GUEST_HOST_MASK", m.vmcs.read("CR4_GUEST_HOST_MASK") & ~0x20n);
    m.kvm.arch.cr4GuestOwned |= 0x20n;
    m.run({ maxSteps: 100_000, stopOnExit: (e) => e.reason === "MSR_READ" });
    expect(crExits(m, 4).length).toBe(0);
    expect(crExits(m, 3).length).toBe(1);
  });

  test("the CR3-target list: a MOV to CR3 of a listed value does not exit (SDM 25.1.3)", () => {
    const m = createX86Machine();
    m.vmcs.vmwrite("CR3_TARGET_VALUE0", m.symbols.get("ptl4")!);
    m.vmcs.vmwrite("CR3_TARGET_COUNT", 1);
    m.run({ maxSteps: 100_000, stopOnExit: (e) => e.reason === "MSR_READ" });
    expect(crExits(m, 3).length).toBe(0);
    expect(m.setTrap({ kind: "cr", arg: "cr3" }, true)).toMatch(/CR3_LOAD_EXITING/);
    expect(m.setTrap({ kind: "msr", arg: "efer" }, false)).toMatch(/0xc0000080 passed through/);
  });

  test("a CR0 write exits iff it changes a masked bit relative to the read shadow (SDM 25.1.3)", () => {
    const m = guest("mov %cr0, %eax\nor $0x8, %eax\nmov %eax, %cr0\nand $0xfffffff7, %eax\nmov %eax, %cr0\nor $0x4, %eax\nmov %eax, %cr0\nhlt");
    // KVM owns every bit but TS: setting TS (guest-owned) does not exit, setting EM does.
    m.run();
    const cr0 = crExits(m, 0);
    expect(cr0.length).toBe(1);
    expect(cr0[0]!.info.instruction).toMatch(/mov\s+%eax,%cr0/);
    expect(m.readRegister("cr0") & 0x4n).toBe(0x4n);
    // Clear EM from the mask too: the same guest now makes no CR0 exit.
    const m2 = guest("mov %cr0, %eax\nor $0x8, %eax\nmov %eax, %cr0\nand $0xfffffff7, %eax\nmov %eax, %cr0\nor $0x4, %eax\nmov %eax, %cr0\nhlt");
    m2.vmcs.write("CR0_GUEST_HOST_MASK", m2.vmcs.read("CR0_GUEST_HOST_MASK") & ~0x4n);
    m2.run();
    expect(crExits(m2, 0).length).toBe(0);
  });

  test("a read of a masked CR bit returns the read shadow", () => {
    const m = guest("mov %cr4, %ebx\nhlt");
    m.vmcs.write("CR4_READ_SHADOW", 0x20n);
    m.run();
    expect(m.readRegister("ebx")).toBe(0x20n);
  });

  test("LMSW and CLTS: qualification access types 3 and 2; KVM emulates them", () => {
    const m = guest("mov $0xb, %eax\nlmsw %ax\nclts\nmov %cr0, %ebx\nhlt");
    m.run();
    const cr = m.exits.filter((e) => e.reason === "CR_ACCESS").map((e) => decodeQual(CR_ACCESS_QUAL, e.info.exit_qualification as bigint));
    expect(cr[0]).toMatchObject({ cr: 0, access_type: 3, lmsw_operand: 0, lmsw_source: 0xb });
    // CLTS exits only if TS is host-owned and set in the shadow: TS is the guest's (vmx_fpu_activate), so no exit.
    expect(cr.length).toBe(1);
    expect(m.readRegister("ebx") & 0xfn).toBe(0x3n); // PE, MP from lmsw; TS cleared by clts
  });

  test("LMSW's exit qualification (SDM Vol. 3 Table 28-3, crAccessExit): CR 0, access type 3, no register (bits 11:8 clear), bit 6 the operand type, bits 31:16 the source data", () => {
    const quals = (body: string) => {
      const m = guest(`${body}\nhlt\n.align 4\nmsw: .word 0x3`);
      m.run();
      return m.exits.filter((e) => e.reason === "CR_ACCESS").map((e) => Number(e.info.exit_qualification));
    };
    // Each sets MP, a bit of the CR0 guest/host mask, so it exits. Register form: lmsw %cx with
    // CX = 0xb (PE, MP, TS) — the register is not recorded.
    expect(quals("mov $0xb, %ecx\nlmsw %cx")).toEqual([(0xb << 16) | (3 << 4)]);
    // Memory form: lmsw from a word holding 0x3 (PE, MP): bit 6 set.
    expect(quals("lmsw msw")).toEqual([(0x3 << 16) | (1 << 6) | (3 << 4)]);
  });

  test("LMSW raises the exit MOV to CR0 raises, built by crAccessExit (one path: same shape, a Number qualification)", () => {
    const m = createX86Machine();
    expect(m.rules.lmswExits(0xb)).toBe(true);
    let raised: unknown;
    try {
      m.cpu.lmsw(0xb);
    } catch (e) {
      raised = e;
    }
    expect(raised).toBeInstanceOf(VmExitSignal);
    expect((raised as VmExitSignal).info).toStrictEqual(crAccessExit(0, 3, 0, { source: 0xb, memoryOperand: false }));
  });

  test("CR8: no exit with the TPR shadow; trap cr8 makes mov to/from CR8 exit (64-bit only, so via the boot guest's mode)", () => {
    const m = createX86Machine();
    expect(m.setTrap({ kind: "cr", arg: 8 }, true)).toMatch(/CR8_LOAD_EXITING/);
    expect(m.rules.movCr8Exits(true)).toBe(true);
    m.setTrap({ kind: "cr", arg: 8 }, false);
    expect(m.rules.movCr8Exits(false)).toBe(false);
  });

  test("MOV DR exits (KVM sets MOV-DR exiting) and KVM emulates it", () => {
    const m = guest("mov $0x1234, %eax\nmov %eax, %dr0\nmov %dr0, %ebx\nhlt");
    m.run();
    const dr = m.exits.filter((e) => e.reason === "DR_ACCESS");
    expect(dr.map((e) => Number(e.info.exit_qualification))).toEqual([0x000, 0x310]); // dr0 from eax; to ebx (gpr 3), direction 1
    expect(m.readRegister("ebx")).toBe(0x1234n);
    const off = guest("mov $0x1234, %eax\nmov %eax, %dr0\nhlt");
    off.setTrap({ kind: "dr" }, false);
    off.run();
    expect(off.exits.map((e) => e.reason)).not.toContain("DR_ACCESS");
  });

  test("HLT exiting off: no HLT exit, the vCPU sleeps forever and the VM stops", () => {
    const on = guest("hlt");
    on.run();
    expect(on.exits.map((e) => e.reason)).toContain("HLT");
    const off = guest("hlt");
    off.setTrap({ kind: "hlt" }, false);
    off.run();
    expect(off.exits.map((e) => e.reason)).not.toContain("HLT");
    expect(off.halted!.message).toMatch(/HLT exiting off/);
  });

  test("I/O bitmap: port 0x80 passes through (KVM v4.1) until trapped; untrapping COM1 silences the console", () => {
    const src = "mov $0x41, %al\nout %al, $0x80\nmov $0x3f8, %dx\nout %al, (%dx)\nhlt";
    const m = guest(src);
    m.run();
    expect(m.exits.filter((e) => e.reason === "IO_INSTRUCTION").map((e) => e.info["qual.port"])).toEqual([0x3f8n]);
    expect(m.console).toBe("A");
    const t = guest(src);
    t.setTrap({ kind: "io", arg: 0x80 }, true);
    t.setTrap({ kind: "io", arg: 0x3f8 }, false);
    t.run();
    expect(t.exits.filter((e) => e.reason === "IO_INSTRUCTION").map((e) => e.info["qual.port"])).toEqual([0x80n]);
    expect(t.console).toBe("");
  });

  test("IN goes through KVM's emulator (handle_io, v4.1): the 16550 LSR reads 'transmitter empty'", () => {
    const m = guest("mov $0x3fd, %dx\nin (%dx), %al\nhlt");
    m.run();
    const io = m.exits.find((e) => e.reason === "IO_INSTRUCTION")!;
    expect(io.info).toMatchObject({ "qual.direction": "in", "qual.port": 0x3fdn, "qual.operand_encoding": "dx", "qual.size": 0 });
    expect(m.readRegister("eax") & 0xffn).toBe(0x60n);
    const lines = m.trace.lines("2015");
    expect(lines).toContain("kvm_emulate_insn: 0:400004:ec (prot32)");
    expect(lines).toContain("kvm_pio: pio_read at 0x3fd size 1 count 1 val 0x60 ");
  });

  test("MSR bitmap: FS_BASE passes through, EFER exits; trapping FS_BASE makes it exit", () => {
    const src = "mov $0xc0000100, %ecx\nrdmsr\nmov $0xc0000080, %ecx\nrdmsr\nhlt";
    const m = guest(src);
    m.run();
    expect(m.exits.filter((e) => e.reason === "MSR_READ").map((e) => e.info.msr)).toEqual([0xc000_0080n]);
    const t = guest(src);
    t.setTrap({ kind: "msr", arg: 0xc000_0100 }, true);
    t.run();
    expect(t.exits.filter((e) => e.reason === "MSR_READ").map((e) => e.info.msr)).toEqual([0xc000_0100n, 0xc000_0080n]);
  });

  test("CPUID always exits and KVM answers from its table", () => {
    const m = guest("xor %eax, %eax\ncpuid\nhlt");
    expect(() => m.setTrap({ kind: "cpuid" }, false)).toThrow(/unconditionally/);
    m.run();
    expect(m.exits.map((e) => e.reason)).toContain("CPUID");
    const vendor = [m.readRegister("ebx"), m.readRegister("edx"), m.readRegister("ecx")]
      .map((v) => String.fromCharCode(...[0, 1, 2, 3].map((i) => Number((v >> BigInt(8 * i)) & 0xffn))))
      .join("");
    expect(vendor).toBe("GenuineIntel");
    // Leaf 0 EAX is the highest basic leaf the table provides (SDM Vol. 2 CPUID leaf 0): 0xd, XSAVE's leaf (runtime/x86/kvm/cpuid.ts).
    expect(m.trace.lines("2015").some((l) => l.startsWith("kvm_cpuid: func 0 rax d"))).toBe(true);
  });

  test("RDTSC exiting: KVM v4.1 has no handler, so the VM stops with KVM's unknown-exit message", () => {
    const m = guest("rdtsc\nhlt");
    m.setTrap({ kind: "rdtsc" }, true);
    m.run();
    expect(m.exits.map((e) => e.reason)).toEqual(["EPT_VIOLATION", "RDTSC"]);
    expect(m.halted!.message).toMatch(/KVM_EXIT_UNKNOWN/);
    const t = guest("rdtsc\nhlt");
    t.set("era", "today");
    t.setTrap({ kind: "rdtsc" }, true);
    t.run();
    expect(t.halted!.message).toMatch(/unexpected exit reason 0x10/);
  });
});

describe("exceptions, faults and limits", () => {
  test("ud2 without an IDT: #UD exits (bitmap), KVM injects it, delivery fails, #DF fails: triple fault", () => {
    const m = guest("ud2");
    m.run();
    expect(m.exits.map((e) => e.reason)).toEqual(["EPT_VIOLATION", "EXCEPTION_NMI", "TRIPLE_FAULT"]);
    const ex = m.exits.at(1)!;
    expect(ex.info["intr.vector"]).toBe(6);
    expect(ex.info["intr.type"]).toBe("hardware-exception");
    expect(ex.info["intr.valid"]).toBe(1);
    expect(m.trace.lines("2015")).toContain("kvm_inj_exception: #UD (0x0)");
    expect(m.trace.lines("today")).toContain("kvm_inj_exception: #UD");
    expect(m.halted!.message).toMatch(/triple fault/);
  });

  test("with an IDT the guest handles its own exception (#DE is not in KVM's bitmap)", () => {
    const src = `
	mov $0x500000, %esp
	lgdtl gdt_desc
	ljmpl $0x10, $1f
1:	lidt idt_desc
	xor %ecx, %ecx
	div %ecx
	hlt
handler:
	mov $0x2a, %al
	out %al, $0xf4
	.align 8
idt:	.word handler - start + 0x0000, 0x10
	.byte 0, 0x8e
	.word 0x40
idt_desc:
	.word 7
	.long idt
	.align 8
gdt:	.quad 0, 0, 0x00cf9b000000ffff
gdt_desc:
	.word 23
	.long gdt`;
    const m = guest(src);
    m.run();
    expect(m.exits.map((e) => e.reason)).not.toContain("EXCEPTION_NMI");
    expect(m.debugExit.written?.value).toBe(0x2a);
    // The frame the CPU pushed: EFLAGS, CS, EIP of the faulting div (SDM Vol. 3 6.12.1).
    expect(m.readRegister("esp")).toBe(0x500000n - 12n);
  });

  test("a fault KVM re-injects forever (stack in MMIO space) stops at the limit instead of hanging", () => {
    const m = guest("xor %esp, %esp\nlidt idt_desc\nud2\nidt_desc: .word 0x3ff\n.long 0x600000");
    m.set("stepLimit", 50);
    const r = m.run();
    expect(["limit", "halted"]).toContain(r.stop);
  });

  test("an exit during event delivery records IDT-vectoring information and KVM re-injects the event", () => {
    const src = `
	mov $0x500000, %esp
	lgdtl gdt_desc
	ljmpl $0x10, $1f
1:	lidt idt_desc
	xor %ecx, %ecx
	div %ecx
	hlt
handler:
	mov $0x2b, %al
	out %al, $0xf4
	.align 8
gdt:	.quad 0, 0, 0x00cf9b000000ffff
gdt_desc:
	.word 23
	.long gdt
idt_desc:
	.word 7
	.long idt
	.align 4096
idt:	.word handler - start, 0x10
	.byte 0, 0x8e
	.word 0x40`;
    const m = guest(src);
    m.run();
    const during = m.exits.filter((e) => e.reason === "EPT_VIOLATION" && Number(e.info.idt_vectoring_info) >>> 31 !== 0);
    expect(during.length).toBe(2); // the gate read, then the first push onto the fresh stack page
    for (const e of during) expect(Number(e.info.idt_vectoring_info) & 0x7ff).toBe(0x300); // vector 0, hardware exception
    expect(Number(during[0]!.info.guest_physical_address)).toBe(Number(m.symbols.get("idt")));
    expect(m.trace.lines("today").filter((l) => l === "kvm_inj_exception: #DE [reinjected]").length).toBe(2);
    expect(m.debugExit.written?.value).toBe(0x2b);
  });

  test("INT n and INT3 return past the instruction; INT3 in the exception bitmap exits as a software exception", () => {
    const src = `
	mov $0x500000, %esp
	lgdtl gdt_desc
	ljmpl $0x10, $1f
1:	lidt idt_desc
	int $0x30
	int3
	mov %ebx, %eax
	out %al, $0xf4
handler:
	inc %ebx
	iret
	.align 8
gdt:	.quad 0, 0, 0x00cf9b000000ffff
gdt_desc:
	.word 23
	.long gdt
idt_desc:
	.word 0x30 * 8 + 7
	.long idt
	.align 8
idt:	.fill 3, 8, 0
	.word handler - start, 0x10
	.byte 0, 0x8e
	.word 0x40
	.fill 0x30 - 4, 8, 0
	.word handler - start, 0x10
	.byte 0, 0x8e
	.word 0x40`;
    const m = guest(src);
    m.run();
    expect(m.debugExit.written?.value).toBe(2); // the handler ran once per interrupt, no re-execution
    expect(m.exits.map((e) => e.reason)).not.toContain("EXCEPTION_NMI");
    const t = guest(src);
    t.setTrap({ kind: "exception", arg: 3 }, true);
    t.run();
    const bp = t.exits.find((e) => e.reason === "EXCEPTION_NMI")!;
    expect(bp.info).toMatchObject({ "intr.vector": 3, "intr.type": "software-exception", instruction_length: 1 });
    expect(t.debugExit.written?.value).toBe(2);
  });

  test("a runaway jmp . stops at the step limit with its state intact", () => {
    const m = guest("mov $0x1234, %ebx\n1: jmp 1b");
    m.set("stepLimit", 5000);
    const r = m.run();
    expect(r.stop).toBe("limit");
    expect(m.halted).toBeNull();
    expect(m.readRegister("ebx")).toBe(0x1234n);
    expect(m.pc).toBe(0x400005n);
    const again = m.runUntilExit({ maxSteps: 10 });
    expect(again).toMatchObject({ stop: "limit", steps: 10 });
  });

  test("MMIO: a load from a device without a memslot is emulated through the bus; the next one is an EPT misconfig", () => {
    const m = guest("mov 0xd0000000, %eax\nmov 0xd0000004, %ebx\nout %al, $0xf4");
    const reads: number[] = [];
    m.bus.add(0xd000_0000, 0x1000, { name: "test-device", read: (off) => (reads.push(off), BigInt(0x1000 + off)), write: () => {} });
    m.run();
    expect(m.exits.map((e) => e.reason)).toEqual(["EPT_VIOLATION", "EPT_VIOLATION", "EPT_MISCONFIG", "IO_INSTRUCTION"]);
    expect(reads).toEqual([0, 4]);
    expect(m.readRegister("ebx")).toBe(0x1004n);
    const lines = m.trace.lines("2015");
    expect(lines).toContain("kvm_mmio: mmio read len 4 gpa 0xd0000000 val 0x1000");
    expect(lines.some((l) => /^kvm_emulate_insn: 0:400000:a1 00 00 00 d0 \(prot32\)$/.test(l))).toBe(true);
  });
});

describe("bad guests stop with a message", () => {
  test("jumping into MMIO space: KVM cannot emulate a fetch from MMIO (emulation failure)", () => {
    const m = guest("mov $0xd0000000, %eax\njmp *%eax");
    m.run();
    expect(m.exits.map((e) => e.reason)).toEqual(["EPT_VIOLATION", "EPT_VIOLATION"]);
    expect(m.halted!.message).toMatch(/emulation failure/);
  });

  test("an exit storm (printing forever) stops at the step limit", () => {
    const m = guest("mov $0x3f8, %dx\n1: out %al, (%dx)\njmp 1b");
    m.set("stepLimit", 300);
    const r = m.run();
    expect(r.stop).toBe("limit");
    expect(m.exits.length).toBeGreaterThan(100);
  });
});

describe("trace text per era", () => {
  test("kvm_exit, kvm_entry and kvm_page_fault in 2015 and today's formats", () => {
    const m = createX86Machine();
    m.runUntilExit();
    const fmt = (e: (typeof m.trace.events)[number], era: "2015" | "today") => formatEvent(e, era, m.trace.tracepoints);
    const exit = m.trace.events.find((e) => e.name === "kvm_exit")!;
    expect(fmt(exit, "2015")).toBe("kvm_exit: reason EPT_VIOLATION rip 0x400000 info 184 0");
    expect(fmt(exit, "today")).toBe(
      "kvm_exit: vcpu 0 reason EPT_VIOLATION rip 0x400000 info1 0x0000000000000184 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000",
    );
    m.handle();
    const pf = m.trace.events.find((e) => e.name === "kvm_page_fault")!;
    expect(fmt(pf, "2015")).toBe("kvm_page_fault: address 400000 error_code 184");
    expect(fmt(pf, "today")).toBe("kvm_page_fault: vcpu 0 rip 0x400000 address 0x0000000000400000 error_code 0x184");
    const entry = m.trace.events.filter((e) => e.name === "kvm_entry")[1]!;
    expect(fmt(entry, "2015")).toBe("kvm_entry: vcpu 0");
    expect(fmt(entry, "today")).toBe("kvm_entry: vcpu 0, rip 0x400000");
  });
});
