// Trace time stamps through the CLI: every event is stamped with the VM's one modelled clock
// (runtime/core/clock.ts: busy cycles plus the time a vCPU spends blocked), so a vCPU that blocks
// in HLT or WFI shows the blocked span between its kvm_exit and the next kvm_entry, as a host's
// trace does; `sql` over the VM's trace reads the stamps (`cycles`) and each exit's kvm_exit→kvm_entry
// span (`cost`). Same program, same bytes.

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readX86Fixture } from "../runtime/x86/fixtures/index.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function run(program: string): { out: string; err: string; status: number | null } {
  const r = spawnSync(process.execPath, ["bin/exitlab.js", "run", "-"], { cwd: ROOT, input: program, encoding: "utf8" });
  return { out: r.stdout, err: r.stderr, status: r.status };
}

/** The rows of the text table that follows the line starting with `title` (after its header and rule), as cells. */
function rows(out: string, title: string): string[][] {
  const lines = out.split("\n");
  const at = lines.findIndex((l) => l.startsWith(title));
  const body: string[][] = [];
  for (const l of lines.slice(at + 3)) {
    if (!/^\s*\S/.test(l) || l.startsWith("sql:")) break;
    body.push(l.trim().split(/\s{2,}/));
  }
  return body;
}

// The periodic local APIC timer (10,000 cycles: TDCR divide by 1, 1 GHz bus) wakes the vCPU from
// HLT five times; without APICv each tick is HLT, KVM's injection and the EOI's APIC_ACCESS exit.
const X86 = `set apicv off
vm boot x86_64 asm mode 32 {
${readX86Fixture("apic/timer-guest.s").replace(/^\.code32\n/m, "")}
} as t
run
table t by reason
sql "select seq, cycles, cost from t where event = 'kvm_exit' and reason = 'HLT' order by seq"
`;

// The virtual timer armed 1,000 ticks ahead (62.5 MHz: 16 µs), WFI with TWI set, two rounds.
const ARM64 = `set era today
set gic v3
vm boot arm64 asm arm64 {
  adr x0, vectors
  msr vbar_el1, x0
  ldr x1, =0x08000000
  mov w2, #2
  str w2, [x1]
  ldr x1, =0x080b0000
  mov w2, #(1 << 27)
  str w2, [x1, #0x100]
  mov x2, #0xff
  msr icc_pmr_el1, x2
  mov x2, #1
  msr icc_igrpen1_el1, x2
  mov x4, #0
loop:
  mov x2, #1000
  msr cntv_tval_el0, x2
  mov x2, #1
  msr cntv_ctl_el0, x2
  msr daifclr, #2
  wfi
  cmp x4, #2
  b.lt loop
  ldr x0, =0x84000008
  hvc #0
  .balign 2048
vectors:
  .skip 0x280
  mrs x5, icc_iar1_el1
  mov x6, #3
  msr cntv_ctl_el0, x6
  msr icc_eoir1_el1, x5
  add x4, x4, #1
  eret
} as a
run
table a by reason
sql "select seq, event, cycles, body from a where event in ('kvm_exit', 'kvm_entry', 'kvm_vcpu_wakeup') order by seq"
`;

describe("trace time stamps come from the VM's modelled clock, blocked time included", () => {
  it("x86: the vCPU re-enters from HLT one timer period apart; each HLT's kvm_exit→kvm_entry spans the time asleep", () => {
    const r = run(X86);
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    // The busy cost of an HLT exit (the world switch and handle_halt), from the exits' own cycles.
    const [hlt] = rows(r.out, "exits of t by reason").filter((c) => c[0] === "HLT");
    const busy = Number(hlt![2]) / Number(hlt![1]);
    // The timer is a deadline of the clock: each of the five HLTs that slept re-enters the guest
    // (its kvm_exit's stamp plus its kvm_exit→kvm_entry span) one period after the one before,
    // whatever the busy cycles in between; each spans more than its busy cycles.
    const sql = rows(r.out, "sql: select seq, cycles, cost").map((c) => ({ at: Number(c[1]), cost: c[2] === undefined ? NaN : Number(c[2]) }));
    expect(sql).toHaveLength(6);
    const wakes = sql.slice(0, 5).map((h) => h.at + h.cost);
    expect(wakes.slice(1).map((w, i) => w - wakes[i]!)).toEqual([10_000, 10_000, 10_000, 10_000]);
    expect(sql.slice(0, 5).every((h) => h.cost > busy + 1000)).toBe(true);
    // The last HLT (cli; hlt) stops the VM: no kvm_entry follows it.
    expect(sql[5]!.cost).toBeNaN();
  });

  it("arm64: a WFI's kvm_exit→kvm_entry contains the kvm_vcpu_wakeup's wait time", () => {
    const r = run(ARM64);
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    const ev = rows(r.out, "sql: select seq, event").map((c) => ({ event: c[1]!, cycles: Number(c[2]), body: c[3] ?? "" }));
    const wakes = ev.map((e, i) => [e, i] as const).filter(([e]) => e.event === "kvm_vcpu_wakeup");
    expect(wakes).toHaveLength(2);
    for (const [w, i] of wakes) {
      const ns = Number(/wait time (\d+) ns/.exec(w.body)![1]);
      const exit = ev[i - 1]!, entry = ev[i + 1]!;
      expect([exit.event, entry.event]).toEqual(["kvm_exit", "kvm_entry"]);
      // 1 GHz: a nanosecond is a cycle. The wake-up is stamped after the sleep, the entry after KVM's handling.
      expect(w.cycles - exit.cycles).toBeGreaterThanOrEqual(ns);
      expect(entry.cycles - exit.cycles).toBeGreaterThan(ns);
    }
  });

  it("is deterministic: the same program prints the same bytes", () => {
    expect(run(X86).out).toBe(run(X86).out);
    expect(run(ARM64).out).toBe(run(ARM64).out);
  });
});
