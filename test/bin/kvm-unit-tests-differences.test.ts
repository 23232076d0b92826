// kvm-unit-tests entries where QEMU TCG is not what real KVM does, each difference with its
// source: exitlab models KVM, so its lines differ from QEMU's exactly there and nowhere else.
//
// gicv2-mmio-up (one CPU, GICv2): QEMU's GIC (hw/intc/arm_gic.c, gic_dist_readb/writeb: "For
// uniprocessor GICs these RAZ/WI") reads GICD_ITARGETSR as zero when there is one CPU, as the
// GICv2 spec allows (IHI 0048B 4.3.12), so the test's "register content preserved" and "byte
// writes successful" fail. KVM's vGIC keeps the bits of the CPUs that exist (Linux
// arch/arm64/kvm/vgic/vgic-mmio-v2.c vgic_mmio_write_target: targets & GENMASK(online_vcpus - 1, 0);
// v4.1 vgic-v2-emul.c vgic_set_target_reg likewise), so on KVM — and exitlab — both pass.
//
// msr, msr64 (x86): QEMU 7.2 TCG does not check canonical addresses on WRMSR (target/i386/tcg/sysemu/
// misc_helper.c helper_wrmsr stores MSR_FSBASE/GSBASE/KERNELGSBASE/LSTAR/CSTAR as given), so
// "Expected #GP on WRMSR(MSR_FS_BASE, 0xaaaaaaaaaaaaaaaa)" FAILs there with vector 0; the write of the
// non-canonical GS_BASE then breaks the per-CPU data kvm-unit-tests keep behind GS, and QEMU ends
// (--no-reboot) a few lines later. The CPU refuses such a value with #GP(0) (Intel SDM Vol. 2B WRMSR)
// and so does KVM's __kvm_set_msr (is_noncanonical_address): on KVM — and exitlab — the line passes and
// the test goes on to the machine-check banks (IA32_MCG_CAP: KVM's default, KVM_MAX_MCE_BANKS = 32).
//
// la57 (x86, -cpu max): QEMU 7.2 TCG's max CPU advertises LA57 (CPUID.7.0:ECX[16]; la57.c's first
// line then says "unsupported": its wording is inverted) and, again, checks no canonical address on
// LGDT/LIDT/LTR/LLDT/WRMSR, so every "value aaaaaaaaaaaaaaaa did NOT fail" line FAILs. KVM advertises
// LA57 only when the host has it (arch/x86/kvm/cpuid.c kvm_set_cpu_caps: F(LA57) masked by the host's
// CPUID); exitlab's modelled host has none (runtime/x86/canonical.ts: 48-bit linear addresses), and the
// hardware (and KVM's emulator: em_lgdt_lidt, __load_segment_descriptor) refuse non-canonical bases.
//
// x2apic, xapic (x86 apic.flat): QEMU 7.2's TCG APIC cannot be enabled again once disabled (hw/intc/apic.c
// apic_set_base: "if disabled, cannot be enabled again"; QEMU 9.0's x2APIC series lifted it), and
// kvm-unit-tests' startup resets the APIC by disabling and re-enabling it (lib/x86/apic.c reset_apic):
// IA32_APIC_BASE reads 0xfee00100 (EN clear) and apic.c's main() asserts "APIC should be fully enabled
// by startup code" before its first result line; QEMU prints none. TCG has no x2APIC either (QEMU 7.2
// warns "TCG doesn't support requested feature: CPUID.01H:ECX.x2apic"). KVM re-enables the APIC
// (arch/x86/kvm/lapic.c kvm_lapic_set_base; SDM Vol. 3 11.4.3 allows it after a reset-like disable),
// so on KVM — and exitlab — the tests run: their result lines are KVM's, every one a PASS (x2apic:
// 56; xapic, whose -cpu qemu64,-x2apic hides x2APIC from CPUID and makes IA32_APIC_BASE.EXTD a
// reserved bit, as kvm_apic_set_base does: 45, the x2APIC self-IPI test skipped).
//
// pmu-event-introspection, pmu-basic-event-count (arm64): QEMU 7.2 TCG's PMU (target/arm/helper.c
// pm_events[]) implements INST_RETIRED (0x08) only under -icount (instructions_supported:
// icount_enabled() == 1), so PMCEID0_EL0 lacks bit 8: introspection FAILs "Check required events are
// implemented" and basic-event-count SKIPs "event 0x8 is not supported". KVM's vPMU shows the host's
// PMCEID0 (Linux arch/arm64/kvm/pmu-emul.c kvm_pmu_get_pmceid), and a Cortex-A57 or Neoverse host
// implements INST_RETIRED (Cortex-A57 TRM, PMCEID0_EL0): on KVM — and exitlab, which counts it from
// retired instructions (runtime/arm64/kvm/pmu.ts) — introspection passes and basic-event-count
// runs its 32-bit test (its 64-bit one SKIPs: PMUv3p5 is not the A57's).
// pmu-chained-counters, pmu-chained-sw-incr (arm64): QEMU's pm_events[] has no CHAIN (0x1e), so both
// SKIP "event 0x1e is not supported"; KVM always advertises CHAIN (kvm_pmu_get_pmceid: "always
// support CHAIN") and chains the counter pair, so on KVM — and exitlab — both run and pass.
//
// debug (x86): QEMU 7.2 TCG raises no single-step #DB for the instruction after STI while the STI
// interrupt shadow is active (target/i386/tcg: the shadow, HF_INHIBIT_IRQ_MASK, also holds the TF
// trap), so both "Single-step #DB w/ STI blocking" lines FAIL; it then never returns from the
// "Single-Step + ICEBP #DB w/ MOVSS blocking" test (the entry times out after 15 lines). On Intel
// hardware blocking by STI holds interrupts and NMIs only, not debug exceptions (SDM Vol. 3 6.8.3,
// Table 26-3 "blocking by STI"), the comment debug.c itself makes; ICEBP is a #DB trap KVM intercepts
// and re-injects past the instruction (Linux vmx.c handle_exception: is_icebp → skip). exitlab does
// that and prints all 25 lines, each PASS.
//
// pcid-enabled, pcid-disabled, pcid-asymmetric (x86): QEMU 7.2 TCG offers neither PCID nor INVPCID
// whatever -cpu asks ("TCG doesn't support requested feature: CPUID.01H:ECX.pcid [bit 17]"; target/
// i386/cpu.c TCG_EXT_FEATURES, TCG_7_0_EBX_FEATURES), so each entry runs the "disabled" tests; and
// TCG's MOV to CR4 takes a reserved bit to cpu_vmexit(SVM_EXIT_ERR) (target/i386/tcg/sysemu/
// misc_helper.c helper_write_crN), a nested-SVM exit, not the #GP the test expects, so "Test on
// PCID when disabled" FAILs. KVM refuses CR4.PCIDE when the guest's CPUID has no PCID with #GP
// (arch/x86/kvm/x86.c kvm_set_cr4 → kvm_is_valid_cr4, __cr4_reserved_bits; v4.1 kvm_set_cr4's
// guest_cpuid_has_pcid check): the line passes. exitlab models no PCID/INVPCID (runtime/x86/kvm/
// cpuid.ts), so its guest runs the same "disabled" tests in all three entries (KVM on a host with
// PCID would run pcid-enabled's "enabled" ones: exitlab's CPUID is its own, its vendor and feature flags follow -cpu: runtime/x86/kvm/cpu-model.ts).
//
// hypercall (x86): QEMU's default CPU (qemu64) says AuthenticAMD, so the test expects VMMCALL to
// work; TCG has no KVM hypercall ABI and raises #UD for both VMCALL (no VMX) and VMMCALL (helper_
// vmmcall, target/i386/tcg/sysemu/svm_helper.c), so the VMMCALL lines FAIL. KVM on an Intel host
// runs VMCALL (handle_vmcall → kvm_emulate_hypercall: "OK") and, on VMMCALL's #UD, its emulator
// rewrites the instruction as VMCALL and lets the guest run it again (arch/x86/kvm/emulate.c
// em_hypercall → x86.c emulator_fix_hypercall → vmx_patch_hypercall; KVM_X86_QUIRK_FIX_HYPERCALL_INSN
// on by default, v4.1 always): "OK (patched)", and the edge-of-canonical tests return through #GP.
//
// vmexit_vmcall (x86): vmexit.c's vmcall() executes VMCALL when is_intel() (CPUID vendor
// "GenuineIntel") and VMMCALL otherwise. QEMU TCG's qemu64 CPU keeps its model's vendor,
// AuthenticAMD (target/i386/cpu.c builtin_x86_defs "qemu64": CPUID_VENDOR_AMD), so the test runs
// VMMCALL, which raises #UD without SVM (AMD APM Vol. 3 VMMCALL: #UD when EFER.SVME = 0; the qemu64
// model has no SVM): kvm-unit-tests' unhandled-exception handler dumps the registers and QEMU ends
// with no measurement. Under KVM, QEMU gives built-in models the host's vendor (target/i386/host-cpu.c
// host_cpu_instance_init: host_cpu_vendor_fms, then the "vendor" property), so on an Intel host the
// test executes VMCALL, which exits (EXIT_REASON_VMCALL) to KVM's handle_vmcall →
// kvm_emulate_hypercall (Linux arch/x86/kvm/x86.c: RAX = 0 is no hypercall: -KVM_ENOSYS in RAX, the
// instruction skipped); exitlab models that host, and measures it.
//
// vmexit_tscdeadline, vmexit_tscdeadline_immed (x86, -cpu qemu64,+x2apic,+tsc-deadline): QEMU 7.2
// TCG does not implement the TSC-deadline timer (target/i386/cpu.c TCG_EXT_FEATURES lacks
// CPUID_EXT_TSC_DEADLINE_TIMER; QEMU warns "TCG doesn't support requested feature:
// CPUID.01H:ECX.tsc-deadline [bit 24]" and clears it), so vmexit.c's has_tscdeadline() is false and
// QEMU prints "tscdeadline (skipped)". Under KVM the feature is there (the in-kernel APIC's
// TSC-deadline mode: Linux arch/x86/kvm/lapic.c kvm_set_lapic_tscdeadline_msr; QEMU passes
// +tsc-deadline through with KVM_CAP_TSC_DEADLINE_TIMER), and exitlab advertises it
// (runtime/x86/kvm/cpuid.ts TSC_DEADLINE_TIMER), so the test arms the timer and measures instead.
// (exitlab's run to the measurement takes longer than the entry's timeout here: see the README.)
//
// pks (x86, -cpu max): QEMU 7.2 TCG's max CPU has supervisor protection keys (CPUID.7.0:ECX.PKS,
// target/i386/cpu.c TCG_7_0_ECX_FEATURES; CR4.PKS and IA32_PKRS in target/i386/helper.c and
// tcg/sysemu/misc_helper.c), so the test runs and passes its 7 checks. KVM does not virtualize PKS:
// kvm_set_cpu_caps offers no F(PKS) (Linux arch/x86/kvm/cpuid.c) and CR4_RESERVED_BITS keeps CR4.PKS
// reserved (arch/x86/include/asm/kvm_host.h, through today's FRED and CET additions; the PKS series
// for KVM was posted, not merged), so under KVM QEMU's -cpu max has no PKS and the test prints "SKIP:
// PKS not enabled", as exitlab does (runtime/x86/kvm/cpuid.ts PKS absent; the hardware's key checks,
// IA32_PKRS included, are in runtime/x86/pkeys.ts).
//
// ioapic (x86, 4 vCPUs, -cpu qemu64,+x2apic): QEMU 7.2 TCG has no x2APIC ("TCG doesn't support
// requested feature: CPUID.01H:ECX.x2apic [bit 21]"), so the test stays in xAPIC mode, where nothing
// programs the logical destination register (LDR reads 0): the logical-destination-mode test (I/O APIC
// destination 0xd, logical) reaches no vCPU and waits forever after "ioapic physical destination mode"
// (20 lines). KVM's x2APIC derives each LDR from the APIC ID (SDM Vol. 3 10.12.10.2: cluster ID
// bits 31:16, bit (ID & 15) below; Linux arch/x86/kvm/lapic.c kvm_apic_calc_x2apic_ldr), so 0xd
// is vCPUs 0, 2 and 3: on KVM — and exitlab — the interrupt reaches 3 vCPUs and all 30 checks pass.
// (Before the runner gave QEMU pc-testdev, both sides failed the interrupt checks alike: no device
// drove the IRQ line at port 0x2000 + N.)
//
// memory (x86, -cpu max): QEMU 7.2 TCG's max CPU offers CLFLUSHOPT, CLWB and PCOMMIT (target/i386/cpu.c
// TCG_7_0_EBX_FEATURES: CPUID_7_0_EBX_PCOMMIT | CPUID_7_0_EBX_CLFLUSHOPT | CPUID_7_0_EBX_CLWB), so
// memory.c runs `.byte 0x66, 0x0f, 0xae, 0x3b/0x33/0xf8` and prints three more PASS lines. Under KVM
// -cpu max is the host's CPUID as KVM offers it: PCOMMIT never shipped and KVM dropped it ("KVM: x86:
// remove support for PCOMMIT", Linux v4.9), and the modelled host (Haswell) has neither CLFLUSHOPT
// (Skylake) nor CLWB (Skylake-SP) for kvm_set_cpu_caps to pass through (runtime/x86/kvm/cpuid.ts), so on
// KVM — and exitlab — the three are "SKIP" lines. CLFLUSH and the SSE/SSE2 fences pass on both.
//
// s3 (x86): s3.c prints no result line; its verdict is its exit status. It points the FACS's
// waking vector at a stub that writes the word at address 0 to isa-debug-exit, stores 0 there, sets
// the RTC alarm (every field "don't care": the next second) with AIE and PM1_EN.RTC_EN, writes
// SLP_TYP 1 | SLP_EN to PM1a_CNT, and then loops storing 1 at address 0. QEMU (hw/acpi/core.c
// acpi_pm1_cnt_write → qemu_system_suspend_request → cpu_stop_current) stops the vCPU with
// cpu_exit, which under TCG takes effect at the end of the translation block: the block that holds
// the OUT runs on into the loop's store, so the resumed stub writes 1 and QEMU exits with status 3
// (upstream's runtime.bash: FAIL). Under KVM the OUT is a KVM_EXIT_IO handled in the vCPU thread,
// and the stop request keeps kvm_cpu_exec from entering the guest again: nothing after the OUT
// runs, the stub writes 0, status 1 → 0 (PASS). exitlab does what KVM does (runtime/x86/acpi-sleep.ts:
// the RTC alarm wakes the machine, the firmware's resume path enters the waking vector). QEMU 7.2
// needs no `-global PIIX4_PM.disable_s3=0` for this: disable_s3 only drops \_S3 from the DSDT, and
// acpi_pm1_cnt_write suspends on SLP_TYP 1 either way (upstream's cfg passes nothing).

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parseUnittestsCfg } from "../../bin/kut/config.js";
import { entriesFor, hasQemu, qemuArgs, runExitlab, runQemu } from "../../bin/kut/runner.js";
import type { Arch } from "../../runtime/core/machine.js";

const KUT = join(__dirname, "../../../shared/guests/kvm-unit-tests");
const requireQemu = process.env.EXITLAB_REQUIRE_QEMU === "1";

/** What QEMU TCG prints for gicv2-mmio-up (QEMU 9, -cpu cortex-a57, -smp 1). */
const QEMU_LINES = [
  "PASS: gicv2: mmio: all CPUs have interrupts",
  "PASS: gicv2: mmio: GICD_TYPER is read-only",
  "PASS: gicv2: mmio: GICD_IIDR is read-only",
  "PASS: gicv2: mmio: ICPIDR2 is read-only",
  "PASS: gicv2: mmio: IPRIORITYR: consistent priority masking",
  "PASS: gicv2: mmio: IPRIORITYR: implements at least 4 priority bits",
  "PASS: gicv2: mmio: IPRIORITYR: clearing priorities",
  "PASS: gicv2: mmio: IPRIORITYR: accesses beyond limit RAZ/WI",
  "PASS: gicv2: mmio: IPRIORITYR: accessing last SPIs",
  "PASS: gicv2: mmio: IPRIORITYR: priorities are preserved",
  "PASS: gicv2: mmio: IPRIORITYR: byte reads successful",
  "PASS: gicv2: mmio: IPRIORITYR: byte writes successful",
  "PASS: gicv2: mmio: ITARGETSR: bits for non-existent CPUs masked",
  "PASS: gicv2: mmio: ITARGETSR: accesses beyond limit RAZ/WI",
  "FAIL: gicv2: mmio: ITARGETSR: register content preserved",
  "PASS: gicv2: mmio: ITARGETSR: byte reads successful",
  "FAIL: gicv2: mmio: ITARGETSR: byte writes successful",
  "SUMMARY: 17 tests, 2 unexpected failures",
];
/** KVM's: the two ITARGETSR lines pass, and the summary counts no failure. */
const KVM_LINES = QEMU_LINES.map((l) => (l.startsWith("FAIL: gicv2: mmio: ITARGETSR") ? l.replace("FAIL", "PASS") : l.startsWith("SUMMARY") ? "SUMMARY: 17 tests" : l));

/** An entry of the corpus's unittests.cfg for `arch`. */
function entry(arch: Arch, name: string) {
  const dir = join(KUT, arch);
  const [e] = entriesFor(parseUnittestsCfg(readFileSync(join(dir, "unittests.cfg"), "utf8")), arch, [name]);
  expect(e, `${name} in unittests.cfg`).toBeDefined();
  return { dir, e: e! };
}

/** The index of the first line where `a` and `b` differ (the shorter one's length if one is a prefix). */
function firstDifference(a: readonly string[], b: readonly string[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

describe.skipIf(!existsSync(KUT) && process.env.EXITLAB_REQUIRE_KUT !== "1")("kvm-unit-tests where QEMU TCG differs from KVM", () => {
  test("gicv2-mmio-up: ITARGETSR is RAZ/WI on QEMU's uniprocessor GIC, kept by KVM's vGIC", () => {
    const dir = join(KUT, "arm64");
    const [e] = entriesFor(parseUnittestsCfg(readFileSync(join(dir, "unittests.cfg"), "utf8")), "arm64", ["gicv2-mmio-up"]);
    expect(e, "gicv2-mmio-up in unittests.cfg").toBeDefined();
    if (requireQemu) expect(hasQemu("arm64")).toBe(true);
    if (hasQemu("arm64")) expect(runQemu(dir, "arm64", e!).lines).toEqual(QEMU_LINES);
    for (const era of ["2015", "today"] as const) expect(runExitlab(dir, "arm64", e!, { era }).lines, era).toEqual(KVM_LINES);
  }, 120_000);

  for (const name of ["msr", "msr64"]) {
    test(`${name}: QEMU TCG takes a non-canonical MSR_FS_BASE without #GP; KVM refuses it, and the machine-check banks follow`, () => {
      const { dir, e } = entry("x86_64", name);
      const kvm = runExitlab(dir, "x86_64", e).lines;
      const at = kvm.indexOf("PASS: Expected #GP on WRMSR(MSR_FS_BASE, 0xaaaaaaaaaaaaaaaa), got vector 13");
      expect(at, "exitlab's canonical check on FS_BASE").toBeGreaterThan(0);
      for (const reg of ["GS_BASE", "KERNEL_GS_BASE", "LSTAR", "CSTAR"]) expect(kvm).toContain(`PASS: Expected #GP on WRMSR(MSR_${reg}, 0xaaaaaaaaaaaaaaaa), got vector 13`);
      // IA32_MCG_CAP = 32 banks (KVM_MAX_MCE_BANKS): every bank's lines pass, none beyond bank 31.
      const mc = kvm.filter((l) => /MSR_IA32_MC\d+_/.test(l));
      expect(mc).toHaveLength(32 * 11);
      expect(mc.filter((l) => !l.startsWith("PASS"))).toEqual([]);
      expect(kvm).toContain("PASS: Expected #GP on WRMSR(MSR_IA32_MC31_STATUS, 0x1), got vector 13");
      expect(kvm.some((l) => l.includes("MC32"))).toBe(false);
      if (requireQemu) expect(hasQemu("x86_64")).toBe(true);
      if (!hasQemu("x86_64")) return;
      const qemu = runQemu(dir, "x86_64", e).lines;
      const d = firstDifference(qemu, kvm);
      expect(d, "the lines before FS_BASE's check are the same").toBe(at);
      expect(qemu[d]).toBe("FAIL: Expected #GP on WRMSR(MSR_FS_BASE, 0xaaaaaaaaaaaaaaaa), got vector 0");
      expect(qemu.length, "QEMU ends soon after GS_BASE takes a non-canonical value").toBeLessThan(at + 4);
    }, 120_000);
  }

  test("debug: QEMU TCG holds the single-step #DB in the STI shadow and hangs at ICEBP; KVM on hardware passes all 25", () => {
    const { dir, e } = entry("x86_64", "debug");
    const kvm = runExitlab(dir, "x86_64", e).lines;
    expect(kvm).toHaveLength(26);
    expect(kvm.filter((l) => !l.startsWith("PASS")), "only the summary is not a PASS").toEqual(["SUMMARY: 25 tests"]);
    expect(kvm.slice(11, 13)).toEqual(["PASS: Single-step #DB w/ STI blocking", "PASS: Usermode Single-step #DB w/ STI blocking"]);
    if (requireQemu) expect(hasQemu("x86_64")).toBe(true);
    if (!hasQemu("x86_64")) return;
    const qemu = runQemu(dir, "x86_64", e).lines;
    expect(firstDifference(qemu, kvm), "the lines before STI blocking are the same").toBe(11);
    expect(qemu.slice(11, 13)).toEqual(["FAIL: Single-step #DB w/ STI blocking", "FAIL: Usermode Single-step #DB w/ STI blocking"]);
    expect(qemu.slice(13)).toEqual(kvm.slice(13, 15));
    expect(qemu).toHaveLength(15);
  }, 180_000);

  test("vmexit_vmcall: QEMU TCG's qemu64 is AuthenticAMD (VMMCALL: #UD, no line); on an Intel KVM host VMCALL exits to handle_vmcall and is measured", () => {
    const { dir, e } = entry("x86_64", "vmexit_vmcall");
    // About 1.6 M VMCALL exits (2^30 modelled cycles of them): a few seconds alone, more on a loaded host.
    const kvm = runExitlab(dir, "x86_64", e, { maxMs: 120_000 });
    expect(kvm.lines).toEqual(["MEASURED: vmcall"]);
    expect(kvm.ended).toBe("powered off");
    if (requireQemu) expect(hasQemu("x86_64")).toBe(true);
    if (!hasQemu("x86_64")) return;
    expect(runQemu(dir, "x86_64", e).lines).toEqual([]);
    const console = spawnSync("qemu-system-x86_64", qemuArgs(dir, "x86_64", e), { encoding: "latin1", timeout: 60_000 }).stdout;
    // The test's CPUID vendor check took the AMD branch, and VMMCALL raised #UD (vector 6).
    expect(console).toMatch(/Unhandled exception 6 #UD/);
    expect(console).toMatch(/rbx=0000000068747541/); // "Auth": CPUID.0:EBX of AuthenticAMD, left in RBX
  }, 300_000);

  for (const name of ["vmexit_tscdeadline", "vmexit_tscdeadline_immed"]) {
    test(`${name}: QEMU TCG has no TSC-deadline timer and skips; KVM's in-kernel APIC has one, so the test runs`, () => {
      const { dir, e } = entry("x86_64", name);
      const test = e.testArgs;
      // A few seconds suffice to see exitlab arm the timer: has_tscdeadline() printed no skip line.
      const kvm = runExitlab(dir, "x86_64", e, { maxMs: 5_000 });
      expect(kvm.lines).not.toContain(`${test} (skipped)`);
      expect(["TIMEOUT", "MEASURED"]).toContain(kvm.outcome);
      if (requireQemu) expect(hasQemu("x86_64")).toBe(true);
      if (!hasQemu("x86_64")) return;
      expect(runQemu(dir, "x86_64", e).lines).toEqual([`${test} (skipped)`]);
      const r = spawnSync("qemu-system-x86_64", qemuArgs(dir, "x86_64", e), { encoding: "latin1", timeout: 60_000 });
      expect(r.stderr).toContain("TCG doesn't support requested feature: CPUID.01H:ECX.tsc-deadline [bit 24]");
    }, 120_000);
  }

  test("pks: QEMU TCG's max CPU has PKS and passes; KVM offers no PKS, so the test skips (exitlab)", () => {
    const { dir, e } = entry("x86_64", "pks");
    const kvm = runExitlab(dir, "x86_64", e);
    expect(kvm.lines).toEqual(["SKIP: PKS not enabled", "SUMMARY: 1 tests, 1 skipped"]);
    if (requireQemu) expect(hasQemu("x86_64")).toBe(true);
    if (!hasQemu("x86_64")) return;
    const qemu = runQemu(dir, "x86_64", e).lines;
    expect(qemu).toHaveLength(8);
    expect(qemu.filter((l) => l.startsWith("PASS"))).toHaveLength(7);
    expect(qemu).toContain("PASS: write to supervisor page when pkrs is wd and wp == 1");
  }, 120_000);

  test("ioapic: QEMU 7.2 TCG has no x2APIC and waits forever in the logical-destination test; KVM's x2APIC LDRs (exitlab) reach 3 vCPUs and the test runs on", () => {
    const { dir, e } = entry("x86_64", "ioapic");
    const kvm = runExitlab(dir, "x86_64", e).lines;
    expect(kvm).toContain("PASS: ioapic logical destination mode");
    expect(kvm.filter((l) => !l.startsWith("PASS"))).toEqual(["SUMMARY: 30 tests"]);
    if (requireQemu) expect(hasQemu("x86_64")).toBe(true);
    if (!hasQemu("x86_64")) return;
    const q = runQemu(dir, "x86_64", e);
    expect(q.ended).toBe("timeout");
    expect(q.lines).toEqual(kvm.slice(0, 20));
    expect(q.lines[19]).toBe("PASS: ioapic physical destination mode");
    const r = spawnSync("qemu-system-x86_64", qemuArgs(dir, "x86_64", e), { encoding: "latin1", timeout: 5_000 });
    expect(r.stderr).toContain("TCG doesn't support requested feature: CPUID.01H:ECX.x2apic [bit 21]");
  }, 180_000);

  test("la57: QEMU TCG's max CPU has LA57 and checks no canonical base; exitlab's KVM host has no LA57 and refuses non-canonical bases", () => {
    const { dir, e } = entry("x86_64", "la57");
    const kvm = runExitlab(dir, "x86_64", e).lines;
    expect(kvm[0]).toBe("PASS: #GP when CR4.LA57 supported (in 64-bit mode)");
    for (const reg of ["GDTR_BASE", "IDTR_BASE", "TR_BASE", "LDT_BASE", "MSR_FS_BASE", "MSR_GS_BASE", "MSR_KERNEL_GS_BASE", "MSR_CSTAR", "MSR_LSTAR"]) {
      expect(kvm).toContain(`PASS: Write to ${reg} with value ffaaaaaaaaaaaaaa did fail as expected`);
      expect(kvm).toContain(`PASS: Write to ${reg} with value aaaaaaaaaaaaaaaa did fail as expected`);
    }
    expect(kvm.filter((l) => l.startsWith("FAIL"))).toEqual([]);
    if (requireQemu) expect(hasQemu("x86_64")).toBe(true);
    if (!hasQemu("x86_64")) return;
    const qemu = runQemu(dir, "x86_64", e).lines;
    expect(qemu[0]).toBe("PASS: #GP when CR4.LA57 unsupported (in 64-bit mode)");
    expect(qemu).toContain("PASS: Write to GDTR_BASE with value ffaaaaaaaaaaaaaa did succeed as expected");
    expect(qemu).toContain("FAIL: Write to GDTR_BASE with value aaaaaaaaaaaaaaaa did NOT fail as expected");
    expect(qemu).toContain("FAIL: Write to MSR_FS_BASE with value aaaaaaaaaaaaaaaa did NOT fail as expected");
  }, 120_000);

  test("memory: QEMU TCG's max CPU offers CLFLUSHOPT, CLWB and PCOMMIT; KVM on the Haswell host offers none, so they SKIP", () => {
    const { dir, e } = entry("x86_64", "memory");
    const kvm = runExitlab(dir, "x86_64", e).lines;
    const common = ["clflush (%0)", "sfence", "lfence", "mfence"].map((t) => `PASS: Expected SUCCESS on '${t}', got SUCCESS`);
    expect(kvm).toEqual([...common, "SKIP: clflushopt", "SKIP: clwb", "SKIP: pcommit", "SUMMARY: 7 tests, 3 skipped"]);
    if (requireQemu) expect(hasQemu("x86_64")).toBe(true);
    if (!hasQemu("x86_64")) return;
    const qemu = runQemu(dir, "x86_64", e).lines;
    expect(qemu).toEqual([...common, ...["0x3b", "0x33", "0xf8"].map((b) => `PASS: Expected SUCCESS on '.byte 0x66, 0x0f, 0xae, ${b}', got SUCCESS`), "SUMMARY: 7 tests"]);
  }, 120_000);

  // apic.c on KVM: every test of main()'s list in order, as the x2APIC mode the startup code leaves
  // (x2apic) or its absence (xapic: -cpu qemu64,-x2apic) decides which run. Derived from apic.c
  // (upstream 1da1819e) and KVM's behaviour, not from a run: x2apic skips the xAPIC-only logical
  // and aliased-ID IPI tests (is_x2apic_enabled), xapic the x2APIC ones ("x2apic not detected").
  const APIC_DISABLE = (x2: boolean) => [
    "PASS: apic_disable: Local apic disabled", "PASS: apic_disable: CPUID.1H:EDX.APIC[bit 9] is clear", "PASS: apic_disable: *0xfee00030: ffffffff",
    "PASS: apic_disable: CR8: 0", "PASS: apic_disable: CR8: f", "PASS: apic_disable: *0xfee00080: ffffffff",
    "PASS: apic_disable: Local apic enabled in xAPIC mode", "PASS: apic_disable: CPUID.1H:EDX.APIC[bit 9] is set", "PASS: apic_disable: *0xfee00030: 50014",
    "PASS: apic_disable: *0xfee00080: 0", "PASS: apic_disable: *0xfee00080: f0",
    ...(x2 ? ["PASS: apic_disable: Local apic enabled in x2APIC mode", "PASS: apic_disable: CPUID.1H:EDX.APIC[bit 9] is set", "PASS: apic_disable: *0xfee00030: ffffffff",
      "PASS: apic_disable: CR8: 0", "PASS: apic_disable: CR8: f", "PASS: apic_disable: *0xfee00080: ffffffff"] : []),
  ];
  const ENABLE_X2APIC = (x2: boolean) => x2
    ? ["PASS: x2apic enabled to invalid state", "PASS: x2apic enabled to apic enabled", "PASS: x2apic enabled to disabled state", "PASS: disabled to invalid state",
      "PASS: disabled to x2apic enabled", "PASS: apic disabled to apic enabled", "PASS: apic enabled to invalid state"]
    : ["PASS: enable unsupported x2apic"];
  const TIMERS = [
    "PASS: nmi-after-sti", "PASS: multiple nmi", "PASS: pending nmi", "PASS: APIC LVT timer one shot",
    "PASS: TMICT value reset", "PASS: TMCCT should have a non-zero value", "PASS: TMCCT should have reached 0", "PASS: TMCCT should have a non-zero value",
    "PASS: TMCCT should not be reset to TMICT value", "PASS: TMCCT should be reset to the initial-count", "PASS: TMCCT should not be reset to init",
    "PASS: TMCCT should have reach zero", "PASS: TMCCT should stay at zero", "PASS: tsc deadline timer", "PASS: tsc deadline timer clearing",
  ];
  const APIC_ID = (x2: boolean) => [
    "PASS: xapic id matches cpuid", "PASS: writeable xapic id",
    ...(x2 ? ["PASS: non-writeable x2apic id", "PASS: sane x2apic id", "PASS: x2apic id matches cpuid"] : []),
    "PASS: correct xapic id after reset",
  ];
  const APICBASE = ["PASS: apicbase: relocate apic", "PASS: apicbase: reserved physaddr bits", "PASS: apicbase: reserved low bits"];
  const KVM_APIC: Record<"x2apic" | "xapic", string[]> = {
    x2apic: [
      "PASS: apic existence", ...APIC_DISABLE(true), ...ENABLE_X2APIC(true),
      "PASS: self_ipi_xapic: Local apic enabled in xAPIC mode", "PASS: self_ipi_xapic: self ipi",
      "PASS: self_ipi_x2apic: Local apic enabled in x2APIC mode", "PASS: self_ipi_x2apic: self ipi",
      "PASS: APIC physical broadcast address", "PASS: APIC physical broadcast shorthand", "PASS: PV IPIs testing",
      ...TIMERS, ...APIC_ID(true), ...APICBASE, "SUMMARY: 56 tests",
    ],
    xapic: [
      "PASS: apic existence", ...APIC_DISABLE(false), ...ENABLE_X2APIC(false),
      "PASS: self_ipi_xapic: Local apic enabled in xAPIC mode", "PASS: self_ipi_xapic: self ipi", "SKIP: self_ipi_x2apic: x2apic not detected",
      "PASS: APIC physical broadcast address", "PASS: APIC physical broadcast shorthand",
      "PASS: IPI to single target using logical flat mode", "PASS: IPI to single target using logical cluster mode",
      "PASS: IPI to multiple targets using logical flat mode", "PASS: IPI to multiple targets using logical cluster mode",
      "PASS: PV IPIs testing", ...TIMERS, ...APIC_ID(false), ...APICBASE, "PASS: IPI to aliased xAPIC physical IDs", "SUMMARY: 45 tests, 1 skipped",
    ],
  };
  for (const name of ["x2apic", "xapic"] as const) {
    test(`${name}: QEMU 7.2 TCG cannot re-enable a disabled APIC and asserts before any result; KVM (exitlab) runs every test of apic.c and passes it`, () => {
      const { dir, e } = entry("x86_64", name);
      // To the power-off: the lines do not depend on the wall clock (the bound is generous for a loaded machine).
      const run = runExitlab(dir, "x86_64", e, { maxMs: 1_500_000 });
      expect(run.ended).toBe("powered off");
      expect(run.lines).toEqual(KVM_APIC[name]);
      if (requireQemu) expect(hasQemu("x86_64")).toBe(true);
      if (!hasQemu("x86_64")) return;
      expect(runQemu(dir, "x86_64", e).lines).toEqual([]);
    }, 1_600_000);
  }
  const PMU: Record<string, { qemu: string[]; kvm: string[] }> = {
    "pmu-event-introspection": {
      qemu: [
        "FAIL: pmu: pmu-event-introspection: Check required events are implemented",
        "SUMMARY: 1 tests, 1 unexpected failures",
      ],
      kvm: [
        "PASS: pmu: pmu-event-introspection: Check required events are implemented",
        "SUMMARY: 1 tests",
      ],
    },
    "pmu-basic-event-count": {
      qemu: [
        "SKIP: pmu: pmu-basic-event-count: 32-bit overflows: Skip test as event 0x8 is not supported",
        "SKIP: pmu: pmu-basic-event-count: 64-bit overflows: Skip test as event 0x8 is not supported",
        "SUMMARY: 2 tests, 2 skipped",
      ],
      kvm: [
        "PASS: pmu: pmu-basic-event-count: 32-bit overflows: pmcntenclr: disable all counters",
        "PASS: pmu: pmu-basic-event-count: 32-bit overflows: pmcr: reset counters",
        "PASS: pmu: pmu-basic-event-count: 32-bit overflows: counter #0 preset to pre-overflow value",
        "PASS: pmu: pmu-basic-event-count: 32-bit overflows: counter #1 is 0",
        "PASS: pmu: pmu-basic-event-count: 32-bit overflows: pmcntenset: enabled implemented_counters",
        "PASS: pmu: pmu-basic-event-count: 32-bit overflows: pmcntenset: just enabled #0 and #1",
        "PASS: pmu: pmu-basic-event-count: 32-bit overflows: check overflow reg is 0",
        "PASS: pmu: pmu-basic-event-count: 32-bit overflows: pmintenclr_el1=0, all interrupts disabled",
        "PASS: pmu: pmu-basic-event-count: 32-bit overflows: overflow interrupts enabled on all implemented counters",
        "PASS: pmu: pmu-basic-event-count: 32-bit overflows: check overflow happened on #0 only",
        "SKIP: pmu: pmu-basic-event-count: 64-bit overflows: Skip test as 64 overflows need FEAT_PMUv3p5",
        "SUMMARY: 11 tests, 1 skipped",
      ],
    },
    "pmu-chained-counters": {
      qemu: [
        "SKIP: pmu: pmu-chained-counters: 32-bit overflows: Skip test as event 0x1e is not supported",
        "SUMMARY: 1 tests, 1 skipped",
      ],
      kvm: [
        "PASS: pmu: pmu-chained-counters: 32-bit overflows: CHAIN counter #1 incremented",
        "PASS: pmu: pmu-chained-counters: 32-bit overflows: overflow recorded for chained incr #1",
        "PASS: pmu: pmu-chained-counters: 32-bit overflows: CHAIN counter #1 set to 2",
        "PASS: pmu: pmu-chained-counters: 32-bit overflows: overflow recorded for chained incr #2",
        "PASS: pmu: pmu-chained-counters: 32-bit overflows: CHAIN counter #1 wrapped",
        "PASS: pmu: pmu-chained-counters: 32-bit overflows: overflow on even and odd counters",
        "SUMMARY: 6 tests",
      ],
    },
    "pmu-chained-sw-incr": {
      qemu: [
        "SKIP: pmu: pmu-chained-sw-incr: 32-bit overflows: Skip test as event 0x1e is not supported",
        "SUMMARY: 1 tests, 1 skipped",
      ],
      kvm: [
        "PASS: pmu: pmu-chained-sw-incr: 32-bit overflows: overflow and chain counter incremented after 100 SW_INCR/CHAIN",
        "PASS: pmu: pmu-chained-sw-incr: 32-bit overflows: expected overflows and values after 100 SW_INCR/CHAIN",
        "SUMMARY: 2 tests",
      ],
    },
  };
  for (const [name, lines] of Object.entries(PMU)) {
    test(`${name}: QEMU TCG's PMU lacks INST_RETIRED (0x08) without -icount and CHAIN (0x1e); KVM's vPMU has both`, () => {
      const { dir, e } = entry("arm64", name);
      expect(runExitlab(dir, "arm64", e).lines).toEqual(lines.kvm);
      if (requireQemu) expect(hasQemu("arm64")).toBe(true);
      if (hasQemu("arm64")) expect(runQemu(dir, "arm64", e).lines).toEqual(lines.qemu);
    }, 120_000);
  }
  for (const name of ["pcid-enabled", "pcid-disabled", "pcid-asymmetric"]) {
    test(`${name}: TCG takes a reserved CR4.PCIDE without #GP; KVM refuses it`, () => {
      const { dir, e } = entry("x86_64", name);
      const kvm = ["PASS: Test on PCID when disabled", "PASS: Test on INVPCID when disabled", "SUMMARY: 2 tests"];
      for (const era of ["2015", "today"] as const) expect(runExitlab(dir, "x86_64", e, { era }).lines, era).toEqual(kvm);
      if (requireQemu) expect(hasQemu("x86_64")).toBe(true);
      if (!hasQemu("x86_64")) return;
      expect(runQemu(dir, "x86_64", e).lines).toEqual(["FAIL: Test on PCID when disabled", "PASS: Test on INVPCID when disabled", "SUMMARY: 2 tests, 1 unexpected failures"]);
    }, 120_000);
  }

  test("s3: QEMU TCG runs the guest's store after the SLP_EN write before it stops (status 3: FAIL); KVM stops at the OUT and the resumed stub exits 0 (PASS)", () => {
    const { dir, e } = entry("x86_64", "s3");
    const kvm = runExitlab(dir, "x86_64", e);
    expect(kvm.lines).toEqual([]);
    expect(kvm.ended).toBe("powered off");
    expect(kvm.status, "upstream's status: the stub wrote 0").toBe(0);
    if (requireQemu) expect(hasQemu("x86_64")).toBe(true);
    if (!hasQemu("x86_64")) return;
    const qemu = runQemu(dir, "x86_64", e);
    expect(qemu.lines).toEqual([]);
    expect(qemu.ended).toBe("powered off");
    expect(qemu.status, "QEMU exits (1 << 1) | 1: the stub wrote 1").toBe(3);
  }, 120_000);

  test("hypercall: TCG #UDs VMCALL and VMMCALL; KVM runs VMCALL and patches VMMCALL into it", () => {
    const { dir, e } = entry("x86_64", "hypercall");
    const kvm = [
      "PASS: Hypercall via VMCALL: OK",
      "PASS: Hypercall via VMMCALL: OK (patched)",
      "PASS: VMCALL on edge of canonical address space (Intel)",
      "PASS: VMMCALL on edge of canonical address space (AMD)",
      "SUMMARY: 4 tests",
    ];
    for (const era of ["2015", "today"] as const) expect(runExitlab(dir, "x86_64", e, { era }).lines, era).toEqual(kvm);
    if (requireQemu) expect(hasQemu("x86_64")).toBe(true);
    if (!hasQemu("x86_64")) return;
    expect(runQemu(dir, "x86_64", e).lines).toEqual([
      "PASS: Hypercall via VMCALL: #UD(0)",
      "FAIL: Hypercall via VMMCALL: #UD(0)",
      "PASS: VMCALL on edge of canonical address space (Intel)",
      "FAIL: VMMCALL on edge of canonical address space (AMD)",
      "SUMMARY: 4 tests, 2 unexpected failures",
    ]);
  }, 120_000);
});
