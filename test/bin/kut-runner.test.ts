// The kvm-unit-tests runner's QEMU side, as upstream's x86/run builds it: a triple fault ends QEMU
// (--no-reboot) instead of rebooting the test into a loop of repeated result lines, and an entry
// whose options only KVM can run (-enable-kvm, -cpu host) says so in its `needs`.

import { expect, test } from "vitest";
import { parseUnittestsCfg } from "../../bin/kut/config.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpuOf } from "../../bin/kut/cpu-model.js";
import { cpuModelCleared } from "../../runtime/x86/kvm/cpu-model.js";
import { EXITLAB_X86_DEVICES, kvmOnlyParams, needs, outcome, qemuArgs, resultLines, resultTable, runEntry, upstreamStatus, X86_RUN_DEVICES } from "../../bin/kut/runner.js";

const cfg = parseUnittestsCfg(`[msr]
file = msr.flat
qemu_params = -cpu max,vendor=GenuineIntel

[lam]
file = lam.flat
arch = x86_64
qemu_params = -enable-kvm -cpu max

[asyncpf]
file = asyncpf.flat
qemu_params = -cpu host -m 2048
`);
const entry = (n: string) => cfg.find((e) => e.name === n)!;

test("x86 QEMU runs with -no-reboot (upstream x86/run's --no-reboot): a triple fault ends the run", () => {
  const a = qemuArgs("/k", "x86_64", entry("msr"));
  expect(a).toContain("-no-reboot");
  expect(a.slice(a.indexOf("-cpu"), a.indexOf("-cpu") + 2)).toEqual(["-cpu", "max,vendor=GenuineIntel"]);
});

test("-enable-kvm and -cpu host are KVM only (QEMU TCG refuses them); -cpu max is not", () => {
  expect(kvmOnlyParams("-enable-kvm -cpu max")).toBe(true);
  expect(kvmOnlyParams("-cpu host,migratable=no")).toBe(true);
  expect(kvmOnlyParams("-cpu max,host-phys-bits")).toBe(false);
  expect(needs(entry("lam"), "x86_64")).toContain("KVM only");
  expect(needs(entry("asyncpf"), "x86_64")).toContain("KVM only");
  expect(needs(entry("msr"), "x86_64")).toEqual([]);
});

test("the exit status as upstream's run_qemu / run_qemu_status compute it; 77 is SKIP as runtime.bash reports it", () => {
  // x86 isa-debug-exit: (V << 1) | 1; 1 (V = 0) is success, 77 (V = 38) the skip status.
  expect(upstreamStatus(1, "")).toBe(0);
  expect(upstreamStatus(77, "SMAP not enabled\nSUMMARY: 0 tests\n")).toBe(77);
  expect(upstreamStatus(3, "")).toBe(3);
  // arm64 powers off (QEMU exits 0, run_qemu makes it 1) and prints the status on the console.
  expect(upstreamStatus(0, "SUMMARY: 1 tests\nEXIT: STATUS=1\n")).toBe(0);
  expect(upstreamStatus(0, "\nEXIT: STATUS=77\n")).toBe(77);
  expect(upstreamStatus(0, "no status line")).toBe(1);
  expect(upstreamStatus(undefined, "EXIT: STATUS=77")).toBeUndefined();
  expect(outcome(["SUMMARY: 0 tests"], "NO RESULT", 77)).toBe("SKIP");
  expect(outcome(["SUMMARY: 0 tests"], "NO RESULT", 0)).toBe("NO RESULT");
  expect(outcome(["PASS: a", "SUMMARY: 1 tests"], "NO RESULT", 0)).toBe("PASS");
});

test("an initrd goes to QEMU as -initrd (upstream's run_qemu passes its environment file so)", () => {
  const a = qemuArgs("/k", "x86_64", entry("msr"), "/tmp/env");
  expect(a.slice(a.indexOf("-initrd"), a.indexOf("-initrd") + 2)).toEqual(["-initrd", "/tmp/env"]);
  expect(qemuArgs("/k", "x86_64", entry("msr"))).not.toContain("-initrd");
});

test("a migration entry is run by neither side (upstream skips it, status 77, when it cannot migrate): SKIP, not compared, no wait for its timeout", () => {
  const dir = mkdtempSync(join(tmpdir(), "kut-mig-"));
  writeFileSync(join(dir, "gic.flat"), Buffer.alloc(64));
  const [e] = parseUnittestsCfg(`[its-migration]
file = gic.flat
smp = 2
test_args = its-migration
groups = its migration
arch = arm64
`);
  const r = runEntry(dir, "arm64", e!, true);
  expect(r.exitlab.outcome).toBe("SKIP");
  expect(r.qemu?.outcome).toBe("SKIP");
  expect(r.match).toBeUndefined();
  expect(r.needs).toContain("migration");
  expect(resultTable([r])).toMatch(/its-migration .* SKIP +SKIP +- /);
});

test("a nodefault entry is run by neither side unless named (upstream's run_tests.sh: 'test marked as manual run only')", () => {
  const dir = mkdtempSync(join(tmpdir(), "kut-nodefault-"));
  writeFileSync(join(dir, "micro-bench.flat"), Buffer.alloc(64));
  const [e] = parseUnittestsCfg(`[micro-bench]
file = micro-bench.flat
smp = 2
groups = nodefault micro-bench
accel = kvm
arch = arm64
`);
  const r = runEntry(dir, "arm64", e!, true);
  expect(r.exitlab.outcome).toBe("SKIP");
  expect(r.qemu?.outcome).toBe("SKIP");
  expect(r.exitlab.ended).toMatch(/manual run only/);
  expect(r.match).toBeUndefined();
  // Named, it runs (a 64-byte image of zeros: exitlab stops without result lines, not SKIP).
  const named = runEntry(dir, "arm64", e!, false, { named: true, timeoutS: 1 });
  expect(named.exitlab.outcome).not.toBe("SKIP");
});

test("x86 QEMU gets upstream x86/run's devices (pc-testdev, isa-debug-exit at 0xf4, pci-testdev) with -nodefaults and the serial port on stdio; exitlab's machine gets pc-testdev", () => {
  const a = qemuArgs("/k", "x86_64", entry("msr"));
  const devices = a.flatMap((x, i) => (a[i - 1] === "-device" ? [x] : []));
  expect(devices).toEqual(["pc-testdev", "isa-debug-exit,iobase=0xf4,iosize=0x4", "pci-testdev"]);
  expect(devices).toEqual([...X86_RUN_DEVICES]);
  expect(a).toContain("-nodefaults");
  expect(a.slice(a.indexOf("-serial"), a.indexOf("-serial") + 2)).toEqual(["-serial", "stdio"]);
  expect(EXITLAB_X86_DEVICES).toEqual(["pc-testdev"]);
  // arm64 keeps arm/run's console (-nographic) and no x86 devices.
  expect(qemuArgs("/k", "arm64", entry("msr"))).not.toContain("-device");
});

test("the guest's CPUID follows the entry's -cpu model and flags (runtime/x86/kvm/cpu-model.ts): max and host have all, qemu64 (the default) what QEMU 7.2's qemu64 has (no SSSE3, SSE4, XSAVE, AVX, RDTSCP, TSC deadline, SMEP, SMAP, PKU), x2APIC under KVM; +f/-f change them; other options are dropped", () => {
  const off = (params: string) => cpuModelCleared(cpuOf(params));
  const QEMU64_LACKS = ["SSSE3", "XMM4_1", "XMM4_2", "MOVBE", "POPCNT", "AES", "XSAVE", "AVX", "RDRAND", "FSGSBASE", "ABM", "GBPAGES", "RDTSCP", "TSC_DEADLINE_TIMER", "SMEP", "SMAP", "PKU"];
  expect(off("-cpu max")).toEqual([]);
  expect(off("-cpu host,migratable=no")).toEqual([]);
  for (const params of ["", "-cpu qemu64,+x2apic", "-cpu Opteron_G1,vendor=AuthenticAMD"]) {
    expect(off(params), params).toEqual(expect.arrayContaining(QEMU64_LACKS));
    for (const has of ["X2APIC", "XMM2", "NX", "LM", "SYSCALL", "HYPERVISOR"]) expect(off(params), `${params} ${has}`).not.toContain(has);
  }
  expect(off("-cpu qemu64,+x2apic,+tsc-deadline")).not.toContain("TSC_DEADLINE_TIMER");
  expect(off("-cpu qemu64,-x2apic,+tsc-deadline")).toContain("X2APIC");
  expect(off("-cpu qemu64,+pku")).not.toContain("PKU");
  expect(off("-cpu max,+vmx,-pku")).toEqual(["PKU"]);
  expect(off("-cpu max,pku=off")).toEqual(["PKU"]);
  const ivy = off("-cpu IvyBridge,phys-bits=36,host-phys-bits=off");
  expect(ivy).toEqual(expect.arrayContaining(["SMAP", "PKU"]));
  for (const has of ["SMEP", "XSAVE", "AVX", "RDTSCP", "TSC_DEADLINE_TIMER"]) expect(ivy).not.toContain(has);
  expect(off("-cpu Skylake-Server,host-phys-bits,+vmx,+vmx-mbec -m 2560")).not.toEqual(expect.arrayContaining(["SMEP"]));
  expect(off("-cpu Skylake-Server,host-phys-bits,+vmx,+vmx-mbec -m 2560")).not.toContain("PKU");
  expect(cpuOf("-cpu max,host-phys-bits,+vmx,-vmx-mbec,-pku -m 2560")).toBe("max,+vmx,-pku");
  expect(cpuOf("-smp 2")).toBe("qemu64");
});

test("a first result line after the firmware's text on the same line is the guest's (SeaBIOS: \"Booting from ROM..PASS: null\"); later lines count only from their start", () => {
  // x86/realmode.c under QEMU: its first report line follows SeaBIOS's last output, which has no newline.
  const qemu = "SeaBIOS (version 1.16.2)\r\n\r\nBooting from ROM..PASS: null\nPASS: shld\nnot a FAIL: line\nSUMMARY: 2 tests\n";
  expect(resultLines(qemu)).toEqual(["PASS: null", "PASS: shld", "SUMMARY: 2 tests"]);
  // The guest's first line not a result: nothing is taken from the firmware's line.
  expect(resultLines("Booting from ROM..enabling apic\nPASS: a\n")).toEqual(["PASS: a"]);
  // A keyword inside a word, or without report.c's colon, is no result line.
  expect(resultLines("Booting from ROM..XPASSED\nSee FAIL here\n")).toEqual([]);
});
