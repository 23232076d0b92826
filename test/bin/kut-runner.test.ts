// The kvm-unit-tests runner's QEMU side, as upstream's x86/run builds it: a triple fault ends QEMU
// (--no-reboot) instead of rebooting the test into a loop of repeated result lines, and an entry
// whose options only KVM can run (-enable-kvm, -cpu host) says so in its `needs`.

import { expect, test } from "vitest";
import { parseUnittestsCfg } from "../../bin/kut/config.js";
import { kvmOnlyParams, needs, qemuArgs } from "../../bin/kut/runner.js";

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
