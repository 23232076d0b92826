// The control-register paths that guests which write CR0/CR4 in a loop take (kvm-unit-tests'
// vmexit_cr0_wp and vmexit_cr4_pge): VM entry after KVM's MOV-to-CR handler loads only CR0/CR3/CR4
// and RIP (vmx/guest-state.ts enterControlRegisters) and ends where the full load ends; a MOV to CR4
// that changes PGE costs the modelled flush (cost.ts CR4_GLOBAL_FLUSH); a PGE toggle keeps the TLB
// only while nothing it holds can differ from a walk (pt-watch.ts): a page-table write in between
// is seen after the toggle; FS/GS-relative accesses in 64-bit mode (the data fast path) and a
// supervisor write that only CR0.WP = 0 allowed (never cached) behave as the interpreter's.

import { describe, expect, test } from "vitest";
import { createX86Machine, type X86Machine } from "../../../runtime/x86/machine.js";
import { LONG_MODE_ENTRY, LONG_MODE_TABLES } from "../../../runtime/guests/x86_64/long-mode.js";
import { CR4_GLOBAL_FLUSH, movToCr4ExtraCycles } from "../../../runtime/x86/cost.js";
import { PageTableWatch } from "../../../runtime/x86/pt-watch.js";

const program = (body: string) => `.code32\nstart:\n  mov $0x5f0000, %esp\n${LONG_MODE_ENTRY}\n${body}\n  hlt\n${LONG_MODE_TABLES}`;

function machine(body: string, settings: Record<string, unknown> = {}): X86Machine {
  return createX86Machine({ guest: { source: program(body) }, settings: { stepLimit: 2_000_000, ...settings } });
}

const REGS = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rip", "rflags", "cr0", "cr4"];
const snapshot = (m: X86Machine) => ({
  regs: REGS.map((r) => m.readRegister(r).toString(16)),
  steps: m.steps,
  time: m.clock.now(),
  trace: m.trace.lines("today"),
  halted: m.halted?.message,
  // The CPU's own control registers (the guest reads KVM's bits from the read shadows).
  crs: m.vcpus.map((v) => [v.cpu.state.cr0, v.cpu.state.cr3, v.cpu.state.cr4].map((x) => x.toString(16))),
});

describe("VM entry after a MOV-to-CR exit", () => {
  // CR0.MP is KVM's (today: the guest owns TS and WP only), so each write exits; WP toggles too.
  const LOOP = `
  mov $200, %esi
1:
  mov %cr0, %rax
  and $~0x10002, %rax     /* MP and WP off */
  mov %rax, %cr0
  or $0x10002, %rax       /* and on again */
  mov %rax, %cr0
  dec %esi
  jnz 1b`;

  test("loading only CR0/CR3/CR4 and RIP ends where the full load ends: registers, time, every trace line", () => {
    const fast = machine(LOOP, { era: "today" });
    const full = machine(LOOP, { era: "today" });
    // The full load every time: KVM's writes never count as CR-only for this VMCS.
    Object.defineProperty(full.vcpus[0]!.vmcs, "crsOnly", { get: () => false, set: () => {} });
    fast.run();
    full.run();
    expect(fast.halted?.message).toMatch(/HLT|halt/i);
    expect(fast.exits.total).toBeGreaterThan(400);
    expect(snapshot(fast)).toEqual(snapshot(full));
  });

  test("a GUEST_CR0 without PG in long mode is not loaded alone: the full load's entry check fails the entry", () => {
    // The guest cannot clear PG in 64-bit mode (#GP, KVM's kvm_set_cr0); a VMCS write by hand at a
    // CPUID exit can: the entry then fails as loadGuestState reports it, CR-only or not.
    const m = machine(`  cpuid\n  nop`);
    m.run({ stopOnExit: (e) => e.reason === "CPUID" });
    const v = m.vcpus[0]!.vmcs;
    v.write("GUEST_CR0", v.read("GUEST_CR0") & ~(1n << 31n));
    expect(v.crsOnly).toBe(true);
    m.run();
    expect(m.halted?.message).toContain("IA-32e mode guest requires CR0.PG = 1");
  });
});

describe("MOV to CR4 toggling PGE (the guest owns it under EPT)", () => {
  const toggles = (bit: number) => `
  mov $50, %esi
1:
  mov %cr4, %rax
  xor $${bit}, %rax
  mov %rax, %cr4
  xor $${bit}, %rax
  mov %rax, %cr4
  dec %esi
  jnz 1b`;

  test("each PGE change costs CR4_GLOBAL_FLUSH beyond its instruction; writing CR4 unchanged costs one cycle", () => {
    const pge = machine(toggles(0x80));
    const same = machine(toggles(0));
    pge.run();
    same.run();
    expect(pge.steps).toBe(same.steps);
    expect(pge.exits.total).toBe(same.exits.total);
    expect(pge.clock.now() - same.clock.now()).toBe(100 * CR4_GLOBAL_FLUSH.cycles);
    expect(CR4_GLOBAL_FLUSH.source).toMatch(/estimate/);
  });

  test("movToCr4ExtraCycles: PGE either way and PCIDE cleared flush everything; other bits and PCIDE set do not", () => {
    expect(movToCr4ExtraCycles(0x20n, 0xa0n)).toBe(CR4_GLOBAL_FLUSH.cycles);
    expect(movToCr4ExtraCycles(0xa0n, 0x20n)).toBe(CR4_GLOBAL_FLUSH.cycles);
    expect(movToCr4ExtraCycles(0x20n | (1n << 17n), 0x20n)).toBe(CR4_GLOBAL_FLUSH.cycles);
    expect(movToCr4ExtraCycles(0x20n, 0x20n | (1n << 17n))).toBe(0);
    expect(movToCr4ExtraCycles(0x20n, 0x220n)).toBe(0);
  });

  test("a page-table write before the toggle is seen after it (no stale translation is kept), compiled or not", () => {
    // 0x600000 maps 6 MiB; the guest reads it (a TLB entry), points that PDE at 2 MiB, toggles PGE, reads again.
    // (A CR3 reload first: a real flush once every page the test touches is mapped in EPT, so no EPT change ends the shortcut.)
    const body = `
  movq $0x1111, 0x600000
  movq $0x2222, 0x200000
  mov %cr3, %rax
  mov %rax, %cr3
  mov 0x600000, %rax
  movq $0x2001e7, ptl2 + 24
  mov %cr4, %rcx
  xor $0x80, %rcx
  mov %rcx, %cr4
  mov 0x600000, %rbx
  xor $0x80, %rcx
  mov %rcx, %cr4
  mov 0x600000, %rdx`;
    for (const jit of [true, false]) {
      const m = machine(body, { jit });
      m.run();
      expect([m.readRegister("rax"), m.readRegister("rbx"), m.readRegister("rdx")], `jit ${jit}`).toEqual([0x1111n, 0x2222n, 0x2222n]);
    }
  });

  test("without a toggle the stale translation stays (no flush was asked for): the shortcut only ever skips a real flush's walks", () => {
    const m = machine(`
  movq $0x1111, 0x600000
  movq $0x2222, 0x200000
  mov 0x600000, %rax
  movq $0x2001e7, ptl2 + 24
  mov 0x600000, %rbx`);
    m.run();
    expect([m.readRegister("rax"), m.readRegister("rbx")]).toEqual([0x1111n, 0x1111n]);
  });

  test("PageTableWatch: a write to a watched page, an MMIO entry or an EPT change since the flush ends the shortcut", () => {
    const w = new PageTableWatch();
    w.flushed(3);
    expect(w.noteEntryPage(0x10)).toBe(true);
    expect(w.noteEntryPage(0x10)).toBe(false);
    w.written(0x11);
    expect(w.unchangedSinceFlush(3)).toBe(true);
    expect(w.unchangedSinceFlush(4)).toBe(false);
    w.written(0x10);
    expect(w.unchangedSinceFlush(3)).toBe(false);
    w.flushed(3);
    expect(w.unchangedSinceFlush(3)).toBe(true);
    w.noteMmioEntry();
    expect(w.unchangedSinceFlush(3)).toBe(false);
  });
});

describe("data fast path", () => {
  test("GS- and FS-relative loads and stores in 64-bit mode, compiled or interpreted, agree", () => {
    const body = `
  mov $0xc0000101, %ecx   /* IA32_GS_BASE */
  mov $0x300000, %eax
  xor %edx, %edx
  wrmsr
  mov $0xc0000100, %ecx   /* IA32_FS_BASE */
  mov $0x310000, %eax
  wrmsr
  mov $20, %esi
1:
  movl $0x1234, %gs:8
  addl $3, %gs:8
  mov %gs:8, %eax
  movq %rax, %fs:-8
  mov %fs:-8, %rbx
  add %rbx, %rdi
  dec %esi
  jnz 1b
  mov 0x300008, %ecx
  mov 0x30fff8, %rdx`;
    const a = machine(body, { jit: true });
    const b = machine(body, { jit: false });
    a.run();
    b.run();
    expect(a.readRegister("rdi")).toBe(20n * 0x1237n);
    expect([a.readRegister("rcx"), a.readRegister("rdx")]).toEqual([0x1237n, 0x1237n]);
    expect(snapshot(a)).toEqual(snapshot(b));
  });

  test("a supervisor write to a read-only page that CR0.WP = 0 allowed is not reused once WP is set again", () => {
    // PDE 3 (6 MiB) read-only; WP is the guest's (today's KVM): no exit.
    const m = machine(`
  movq $0x6001a5, ptl2 + 24   /* P, US, A, PS, G: not writable */
  mov %cr0, %rax
  and $~0x10000, %rax
  mov %rax, %cr0              /* WP off */
  movq $5, 0x600000           /* allowed */
  movq $6, 0x600000
  or $0x10000, %rax
  mov %rax, %cr0              /* WP on */
  movq $7, 0x600000           /* #PF */
  nop`);
    m.run({ stopOnExit: (e) => e.reason === "EXCEPTION_NMI" || e.reason === "TRIPLE_FAULT" });
    expect(m.readPhysical(0x600000, 1)[0]).toBe(6);
  });
});
