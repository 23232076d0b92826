// `decode`, `help NUMBER` and the x86 asm modes through the real CLI (`exitlab run -`), against the
// built dist/. Expected fields are worked out by hand from the manuals' tables, not from the code.
import { beforeAll, describe, expect, test } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

const root = new URL("../../", import.meta.url).pathname;

function run(program: string, args: string[] = []) {
  const r = spawnSync("node", ["bin/exitlab.js", "run", ...args, "-"], { cwd: root, input: program, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The rows of a text table as field → [bits, value, meaning]. */
function rows(out: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of out.split("\n")) {
    const c = line.split(/ {2,}/);
    if (c.length >= 4 && !/^-+$/.test(c[0]!)) m.set(c[1] === undefined ? c[0]! : `${c[0]}@${c[1]}`, c.slice(1));
  }
  return m;
}
const field = (out: string, name: string, bits: string) => rows(out).get(`${name}@${bits}`);

beforeAll(() => {
  spawnSync("npm", ["run", "build"], { cwd: root, encoding: "utf8", timeout: 300_000 });
  expect(existsSync(join(root, "dist/bin/cli.js"))).toBe(true);
});

describe("decode any value", () => {
  test("decode esr 0x92000045: DABT_LOW, IL 1, write, translation fault level 1, ISV 0", () => {
    const r = run("decode esr 0x92000045");
    expect(r.err).toBe("");
    expect(r.out).toMatch(/^ESR_EL2 = 0x92000045: DABT_LOW/);
    expect(field(r.out, "ec", "31:26")!.slice(1, 3)).toEqual(["0x24", expect.stringMatching(/^DABT_LOW/)]);
    expect(field(r.out, "il", "25")![1]).toBe("0x1");
    expect(field(r.out, "iss", "24:0")![1]).toBe("0x45");
    expect(field(r.out, "iss.dfsc", "5:0")!.slice(1, 3)).toEqual(["0x5", expect.stringMatching(/^translation fault, level 1/)]);
    expect(field(r.out, "iss.wnr", "6")!.slice(1, 3)).toEqual(["0x1", expect.stringMatching(/^write/)]);
    expect(field(r.out, "iss.isv", "24")![1]).toBe("0x0");
  });

  test("decode qual cr 0x104: MOV to CR4 from RCX", () => {
    const r = run("decode qual cr 0x104");
    expect(field(r.out, "cr", "3:0")!.slice(1, 3)).toEqual(["0x4", expect.stringMatching(/^cr4/)]);
    expect(field(r.out, "access_type", "5:4")![2]).toMatch(/^mov-to-cr/);
    expect(field(r.out, "gpr", "11:8")!.slice(1, 3)).toEqual(["0x1", expect.stringMatching(/^rcx/)]);
  });

  test("decode qual ept 0x582: a write, linear address valid, final translation, read/write page (bits 9-12 named)", () => {
    const r = run("decode qual ept 0x582");
    const on = [...rows(r.out).entries()].filter(([, v]) => v[1] === "0x1").map(([k]) => k);
    expect(on).toEqual(["write@1", "gla_valid@7", "final_translation@8", "rw_page@10"]);
    for (const [bit, name] of [[9, "user_linear"], [10, "rw_page"], [11, "nx_page"], [12, "nmi_unblocking"]] as const) expect(field(r.out, name, `${bit}`), name).toBeDefined();
  });

  test("decode qual io: port, direction, size", () => {
    const r = run("decode qual io 0x3f80008");
    expect(field(r.out, "port", "31:16")![1]).toBe("0x3f8");
    expect(field(r.out, "direction", "3")![2]).toMatch(/^in/);
    expect(field(r.out, "size", "2:0")!.slice(1, 3)).toEqual(["0x0", expect.stringMatching(/^1 byte/)]);
  });

  test("decode hcr 0x8478663b: the bits that are on, every bit listed", () => {
    const r = run("decode hcr 0x8478663b");
    expect(r.out.split("\n")[0]).toBe("HCR_EL2 = 0x8478663b: VM SWIO FMO IMO AMO FB BSU_IS TWI TWE TSC TIDCP TACR TSW TVM RW");
    expect(field(r.out, "TVM", "26")![1]).toBe("0x1");
    expect(field(r.out, "E2H", "34")![1]).toBe("0x0");
    expect(field(r.out, "TWEDEL", "63:60")).toBeDefined();
  });

  test("decode vmcs PIN_BASED_VM_EXEC_CONTROL 0x3f: named bits and the default-1 reserved bits 1, 2, 4", () => {
    const r = run("decode vmcs PIN_BASED_VM_EXEC_CONTROL 0x3f");
    expect(field(r.out, "PIN_BASED_EXT_INTR_MASK", "0")![1]).toBe("0x1");
    expect(field(r.out, "PIN_BASED_NMI_EXITING", "3")![1]).toBe("0x1");
    expect(field(r.out, "PIN_BASED_VIRTUAL_NMIS", "5")![1]).toBe("0x1");
    expect(field(r.out, "PIN_BASED_VMX_PREEMPTION_TIMER", "6")![1]).toBe("0x0");
    for (const b of ["1", "2", "4"]) expect(field(r.out, "reserved", b)![2]).toMatch(/default 1/);
  });

  test("decode reads an exit's own value too", () => {
    const r = run("vm boot x86_64\nrun until exit.reason == CR_ACCESS\ndecode qual cr exit.exit_qualification");
    expect(r.err).toBe("");
    expect(field(r.out, "access_type", "5:4")![2]).toMatch(/^mov-to-cr/);
  });

  test("--html gives the decode as an HTML table", () => {
    const dir = spawnSync("mktemp", ["-d"], { encoding: "utf8" }).stdout.trim();
    const r = run("decode esr 0x92000045", ["--html", join(dir, "r.html")]);
    expect(r.code).toBe(0);
    const html = spawnSync("cat", [join(dir, "r.html")], { encoding: "utf8" }).stdout;
    expect(html).toMatch(/<table[^>]*>[\s\S]*iss\.dfsc[\s\S]*0x5/);
  });

  test("errors: an unknown register lists the valid ones; a layout is needed; a value too wide", () => {
    let r = run("decode esx 0x1");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/NameError: line 1, column 8: no decoder for `esx`/);
    expect(r.err).toMatch(/hint: did you mean `esr`\? registers: esr \(arm64\), hcr \(arm64\), gich_lr \(arm64\), ich_lr \(arm64\), cnt_ctl \(arm64\), cnthctl \(arm64\), qual KIND \(x86_64\), intr \(x86_64\), vmcs KIND \(x86_64\)/);
    r = run("decode qual 0x104");
    expect(r.err).toMatch(/UsageError: .*`decode qual` needs the layout[\s\S]*hint: kinds: cr, io, ept/);
    r = run("decode qual crr 0x104");
    expect(r.err).toMatch(/NameError: .*`crr` is not a layout of `qual`[\s\S]*did you mean `cr`\? kinds: cr, io, ept/);
    r = run("decode vmcs VM_ENTRY_CONTROLS 0x100000000");
    expect(r.err).toMatch(/ValueError: .*VM_ENTRY_CONTROLS is 32 bits wide: 0x100000000 does not fit/);
    r = run('decode esr "x"');
    expect(r.err).toMatch(/TypeError: .*must be a number/);
  });
});

describe("help NUMBER", () => {
  test("help 0x31 and help 49 show the x86 exit reason and the arm64 exception class of that number", () => {
    for (const n of ["0x31", "49"]) {
      const r = run(`help ${n}`);
      expect(r.err).toBe("");
      expect(r.out).toMatch(/^exits numbered 49 \(0x31\):/);
      expect(r.out).toMatch(/x86_64 VMX basic exit reason 49 \(0x31\): EPT_MISCONFIG/);
      expect(r.out).toMatch(/arm64 ESR_ELx\.EC exception class 49 \(0x31\): BREAKPT_CUR/);
    }
    expect(run("help 0x24").out).toMatch(/arm64 ESR_ELx\.EC exception class 36 \(0x24\): DABT_LOW/);
    const none = run("help 200");
    expect(none.err).toMatch(/NameError: .*no exit reason or exception class is numbered 200 \(0xc8\)/);
  });
});

describe("x86 asm blocks by mode", () => {
  test("the default is 64-bit long mode with the loader's identity map: CR3, EFER, a 64-bit pointer", () => {
    const r = run(`vm boot x86_64 asm {
  mov %cr3, %rax
  mov %rax, %r12
  mov $0xc0000080, %ecx
  rdmsr
  mov %rax, %r13
  movabs $0x123456789abcdef0, %rdx
  movabs $0x7000000, %rdi
  mov %rdx, (%rdi)
  push %rdx
  hlt
}
run until halt
expect r12 == 0x7ff9000, "CR3: the loader's PML4, 7 pages below the top of 128 MiB"
expect r13 == 0x500, "EFER: LME | LMA"
expect cr0 & 0x80000001 == 0x80000001 && cr4 & 0x20 == 0x20
expect rsp == 0x7ff7ff8, "the stack starts below the loader's tables"
show mem 0x7000000 8
show regs`);
    expect(r.err).toBe("");
    expect(r.out).toMatch(/07000000 {2}f0 de bc 9a 78 56 34 12/);
    expect(r.out).toMatch(/\nmode +long64\n/);
    expect(r.out).toMatch(/\ncs +0x8\n/);
  });

  test("mode 16 starts in real mode at 0000:7c00 and mode 32 keeps the Multiboot hand-off", () => {
    const r = run(`vm boot x86_64 asm mode 16 {
  mov $0x1234, %ax
  mov $0x5000, %di
  mov %ax, (%di)
  hlt
} as real
expect rip == 0x7c00
run until halt
expect rax == 0x1234 && cr0 & 1 == 0
show mem 0x5000 2
vm boot x86_64 asm x86_64 mode 32 { hlt } as prot
expect rip == 0x400000 && rax == 0x2badb002 && cr0 & 0x80000001 == 1
show regs`);
    expect(r.err).toBe("");
    expect(r.out).toMatch(/00005000 {2}34 12/);
    expect(r.out).toMatch(/\nmode +protected32\n/);
  });

  test("an unknown mode is a ValueError at the number; arm64 blocks take none", () => {
    let r = run("vm boot x86_64 asm mode 8 { hlt }");
    expect(r.code).toBe(1);
    expect(r.err).toBe("<stdin>: ValueError: line 1, column 25: unknown mode 8: an x86_64 asm block starts in mode 16 (real), 32 (protected) or 64 (long)\n  vm boot x86_64 asm mode 8 { hlt }\n                          ^\nhint: e.g. `vm boot x86_64 asm mode 32 { ... }`\n");
    r = run("vm boot arm64 asm mode 64 { hvc #0 }");
    expect(r.err).toMatch(/ValueError: .*`mode` is for x86_64 asm blocks/);
  });
});
