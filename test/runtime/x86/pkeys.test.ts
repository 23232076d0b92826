// Protection keys (runtime/x86/pkeys.ts, paging.ts; Intel SDM Vol. 3 4.6.2): the key in bits 62:59
// of the entry that maps a page; PKRU's AD/WD for user-mode addresses under CR4.PKE, IA32_PKRS's
// for supervisor-mode ones under CR4.PKS; WD binds supervisor writes only with CR0.WP; no key ever
// stops an instruction fetch; a #PF a key caused carries error-code bit 5 (PK) besides the others.
// RDPKRU/WRPKRU's #UD (CR4.PKE = 0) and #GP (ECX/EDX ≠ 0). Under KVM: CR4.PKE needs CPUID PKU
// (today's KVM; v4.1 has no CR4.PKE: #GP), CPUID.7.0:ECX.OSPKE follows CR4.PKE, and CR4.PKS stays
// reserved (KVM does not virtualize PKS).

import { describe, expect, test } from "vitest";
import { translate, type PageAccess } from "../../../runtime/x86/paging.js";
import { CR0, CR4, EFER, GuestFault } from "../../../runtime/x86/state.js";
import { CR4_PKE, CR4_PKS, PFERR_PK } from "../../../runtime/x86/pkeys.js";
import type { X86State } from "../../../runtime/x86/env.js";
import { createX86Machine } from "../../../runtime/x86/machine.js";
import { LONG_MODE_ENTRY, LONG_MODE_TABLES } from "../../../runtime/guests/x86_64/long-mode.js";
import { cpuidHas, kvmCpuid } from "../../../runtime/x86/kvm/cpuid.js";
import { ExitlabError } from "../../../runtime/core/errors.js";

describe("the protection-key checks of a 4-level walk", () => {
  // PML4 at 0x1000 → PDPT 0x2000 → PD 0x3000 → PT 0x4000; linear 0 maps a user page (key 2), linear 0x1000 a supervisor page (key 2), 0x2000 a read-only user page (key 2).
  const KEY = 2n << 59n;
  const tables = new Map<number, bigint>([
    [0x1000, 0x2000n | 7n], [0x2000, 0x3000n | 7n], [0x3000, 0x4000n | 7n],
    [0x4000, 0x10000n | 7n | KEY], [0x4008, 0x11000n | 3n | KEY], [0x4010, 0x12000n | 5n | KEY],
  ]);
  const state = (o: { pkru?: number; pkrs?: number; wp?: boolean; cr4?: bigint } = {}): X86State =>
    ({ cr0: CR0.PE | CR0.PG | (o.wp === false ? 0n : CR0.WP), cr3: 0x1000n, cr4: CR4.PAE | (o.cr4 ?? CR4_PKE | CR4_PKS), efer: EFER.LME | EFER.LMA | EFER.NXE, rflags: 2n, pkru: o.pkru ?? 0, pkrs: o.pkrs ?? 0 }) as X86State;
  const code = (s: X86State, lin: bigint, a: PageAccess): number | "ok" => {
    try {
      translate(s, lin, a, (gpa) => tables.get(gpa) ?? 0n);
      return "ok";
    } catch (e) {
      if (!(e instanceof GuestFault)) throw e;
      return e.errorCode!;
    }
  };
  const R = { write: false, fetch: false, user: false }, W = { ...R, write: true }, X = { ...R, fetch: true };
  const AD2 = 1 << 4, WD2 = 1 << 5;

  test("PKRU.AD of the user page's key: every data access faults with PK, user or supervisor; fetches do not", () => {
    const s = state({ pkru: AD2 });
    expect(code(s, 0n, { ...R, user: true })).toBe(1 | 4 | PFERR_PK);
    expect(code(s, 0n, R)).toBe(1 | PFERR_PK);
    expect(code(s, 0n, { ...W, user: true })).toBe(1 | 2 | 4 | PFERR_PK);
    expect(code(s, 0n, X)).toBe("ok");
    expect(code(s, 0n, { ...X, user: true })).toBe("ok");
    // Another key's rights, or CR4.PKE clear: no check.
    expect(code(state({ pkru: 1 << 6 }), 0n, R)).toBe("ok");
    expect(code(state({ pkru: AD2, cr4: CR4_PKS }), 0n, R)).toBe("ok");
  });

  test("PKRU.WD: user writes fault; supervisor writes only with CR0.WP; reads pass", () => {
    expect(code(state({ pkru: WD2 }), 0n, { ...W, user: true })).toBe(1 | 2 | 4 | PFERR_PK);
    expect(code(state({ pkru: WD2 }), 0n, W)).toBe(1 | 2 | PFERR_PK);
    expect(code(state({ pkru: WD2, wp: false }), 0n, W)).toBe("ok");
    expect(code(state({ pkru: WD2 }), 0n, { ...R, user: true })).toBe("ok");
  });

  test("a write to a read-only user page under WD reports both causes: W/R and PK", () => {
    expect(code(state({ pkru: WD2 }), 0x2000n, { ...W, user: true })).toBe(1 | 2 | 4 | PFERR_PK);
    expect(code(state(), 0x2000n, { ...W, user: true })).toBe(1 | 2 | 4);
  });

  test("IA32_PKRS for the supervisor page under CR4.PKS: AD stops supervisor data accesses, WD supervisor writes while CR0.WP = 1", () => {
    expect(code(state({ pkrs: AD2 }), 0x1000n, R)).toBe(1 | PFERR_PK);
    expect(code(state({ pkrs: AD2 }), 0x1000n, W)).toBe(1 | 2 | PFERR_PK);
    expect(code(state({ pkrs: AD2, wp: false }), 0x1000n, W)).toBe(1 | 2 | PFERR_PK);
    expect(code(state({ pkrs: WD2 }), 0x1000n, W)).toBe(1 | 2 | PFERR_PK);
    expect(code(state({ pkrs: WD2, wp: false }), 0x1000n, W)).toBe("ok");
    expect(code(state({ pkrs: AD2 }), 0x1000n, X)).toBe("ok");
    // A user access to a supervisor page faults on U/S alone; PKRS governs supervisor accesses, and the user page is PKRU's.
    expect(code(state({ pkrs: AD2 }), 0x1000n, { ...R, user: true })).toBe(1 | 4);
    expect(code(state({ pkrs: AD2 }), 0n, R)).toBe("ok");
    expect(code(state({ pkrs: AD2, cr4: CR4_PKE }), 0x1000n, R)).toBe("ok");
  });

  test("a not-present page faults without PK", () => {
    expect(code(state({ pkru: AD2 }), 0x3000n, R)).toBe(0);
  });
});

// A long-mode guest: #PF handler at vector 14 records the error code and CR2, clears PKRU and
// returns (the access runs again); #UD and #GP handlers record their vector and end the test.
const guest = (body: string) => `
  .code32
start:
  mov $0x5f0000, %esp
  ${LONG_MODE_ENTRY}
  mov $0x5f0000, %rsp
  lidt idtr
  movl $7, 0x600000
  ${body}
done:
  mov $0xf4, %dx
  out %al, %dx
pf:
  pop %rax
  mov %eax, errcode
  mov %cr2, %rax
  mov %eax, cr2seen
  xor %ecx, %ecx
  xor %edx, %edx
  xor %eax, %eax
  wrpkru
  iretq
ud:
  movl $6, vector
  jmp done
gp:
  movl $13, vector
  jmp done
  .align 16
idt:
  .fill 12, 8, 0
  .word ud - 0x400000, 0x08, 0x8e00, 0x40
  .long 0, 0
  .fill 12, 8, 0
  .word gp - 0x400000, 0x08, 0x8e00, 0x40
  .long 0, 0
  .word pf - 0x400000, 0x08, 0x8e00, 0x40
  .long 0, 0
idtr:
  .word 15 * 16 - 1
  .quad idt
errcode: .long 0xffffffff
cr2seen: .long 0
vector: .long 0
pkru: .long 0
value: .long 0
ospke: .long 0
  ${LONG_MODE_TABLES}
`;

const PKE_ON = `
  mov %cr4, %rax
  bts $22, %rax
  mov %rax, %cr4             /* CR4.PKE: a CR access KVM allows when the guest's CPUID has PKU */
  mov $7, %eax
  xor %ecx, %ecx
  cpuid
  mov %ecx, ospke
`;

function run(body: string, era: "2015" | "today" = "today") {
  const m = createX86Machine({ guest: { source: guest(body) }, settings: { era } });
  m.run({ maxSteps: 100_000 });
  const word = (sym: string) => new DataView(m.readPhysical(Number(m.symbols.get(sym)!), 4).buffer).getUint32(0, true);
  return { m, word };
}

describe("protection keys in a guest", () => {
  test("today's KVM: CR4.PKE set, OSPKE in CPUID, WRPKRU/RDPKRU, a supervisor read of a user page with key 3 access-disabled is #PF P|PK; after PKRU is cleared it reads", () => {
    const { m, word } = run(`${PKE_ON}
  mov $0x1800000000000000, %rax
  or %rax, ptl2 + 24         /* the 2 MiB page at 0x600000 gets key 3 */
  invlpg 0x600000
  xor %ecx, %ecx
  xor %edx, %edx
  mov $0x40, %eax            /* PKRU: key 3 AD */
  wrpkru
  xor %eax, %eax
  rdpkru
  mov %eax, pkru
  mov 0x600000, %ebx
  mov %ebx, value
`);
    expect(m.halted?.message).toMatch(/isa-debug-exit/);
    expect(word("ospke") & 0x18).toBe(0x18); // PKU and OSPKE
    expect(word("pkru")).toBe(0x40);
    expect(word("errcode")).toBe(1 | PFERR_PK);
    expect(word("cr2seen")).toBe(0x600000);
    expect(word("value")).toBe(7);
    expect(word("vector")).toBe(0);
  });

  test("the TLB keeps the key, not the rights: WRPKRU alone (no INVLPG) denies the page read a moment before", () => {
    for (const jit of [true, false]) {
      const m = createX86Machine({ guest: { source: guest(`${PKE_ON}
  mov $0x1800000000000000, %rax
  or %rax, ptl2 + 24
  invlpg 0x600000
  mov 0x600000, %ebx         /* allowed: the translation is now cached */
  mov 0x600000, %ebx
  xor %ecx, %ecx
  xor %edx, %edx
  mov $0x40, %eax            /* key 3 AD */
  wrpkru
  mov 0x600000, %ebx         /* #PF P|PK from the cached translation */
  mov %ebx, value
`) }, settings: { era: "today", jit } });
      m.run({ maxSteps: 100_000 });
      const word = (sym: string) => new DataView(m.readPhysical(Number(m.symbols.get(sym)!), 4).buffer).getUint32(0, true);
      expect(word("errcode"), `jit ${jit}`).toBe(1 | PFERR_PK);
      expect(word("value")).toBe(7);
    }
  });

  test("setting CR4.PKE (through KVM's kvm_set_cr4) drops translations cached without a key: the page read before faults after", () => {
    const { word } = run(`
  mov $0x1800000000000000, %rax
  or %rax, ptl2 + 24
  invlpg 0x600000
  mov 0x600000, %ebx         /* cached while CR4.PKE = 0: no key applies */
  mov 0x600000, %ebx
  ${PKE_ON}
  xor %ecx, %ecx
  xor %edx, %edx
  mov $0x40, %eax            /* key 3 AD */
  wrpkru
  mov 0x600000, %ebx
  mov %ebx, value
`);
    expect(word("errcode")).toBe(1 | PFERR_PK);
    expect(word("value")).toBe(7);
  });

  test("RDPKRU without CR4.PKE is #UD; WRPKRU with EDX ≠ 0 is #GP", () => {
    expect(run("xor %ecx, %ecx\n  rdpkru").word("vector")).toBe(6);
    expect(run(`${PKE_ON}\n  xor %ecx, %ecx\n  mov $1, %edx\n  wrpkru`).word("vector")).toBe(13);
    expect(run(`${PKE_ON}\n  mov $1, %ecx\n  rdpkru`).word("vector")).toBe(13);
  });

  test("a VMM CPU model without PKU (MachineOptions.cpu, QEMU -cpu qemu64 or max,-pku): no PKU in CPUID, CR4.PKE refused (#GP); an unknown flag is an ExitlabError", () => {
    const m = createX86Machine({ guest: { source: guest(PKE_ON) }, settings: { era: "today" }, cpu: "qemu64" });
    m.run({ maxSteps: 100_000 });
    const word = (sym: string) => new DataView(m.readPhysical(Number(m.symbols.get(sym)!), 4).buffer).getUint32(0, true);
    expect(word("vector")).toBe(13);
    const n = createX86Machine({ guest: { source: guest("mov $7, %eax\n  xor %ecx, %ecx\n  cpuid\n  mov %ecx, ospke") }, settings: { era: "today" }, cpu: "max,-pku" });
    n.run({ maxSteps: 100_000 });
    expect(new DataView(n.readPhysical(Number(n.symbols.get("ospke")!), 4).buffer).getUint32(0, true) & 8).toBe(0);
    expect(() => createX86Machine({ cpu: "max,-nope" })).toThrow(ExitlabError);
  });

  test("v4.1's KVM has no CR4.PKE (#GP), and no KVM sets CR4.PKS (reserved: #GP)", () => {
    expect(run(PKE_ON, "2015").word("vector")).toBe(13);
    expect(run("mov %cr4, %rax\n  bts $24, %rax\n  mov %rax, %cr4").word("vector")).toBe(13);
    expect(cpuidHas("today", "PKU")).toBe(true);
    expect(cpuidHas("2015", "PKU")).toBe(false);
    expect(cpuidHas("today", "PKS")).toBe(false);
    expect((kvmCpuid(7, "today").entry.ecx >>> 4) & 1).toBe(0); // OSPKE only with CR4.PKE
  });
});
