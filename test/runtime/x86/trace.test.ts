// Traces (runtime/x86/trace.ts): a hot cycle of chained blocks — here a loop that calls a
// function through a pointer, as kvm-unit-tests' vmexit.c does — runs as one compiled loop. The
// results must be the interpreter's, instruction for instruction: registers, memory, the step
// count, where a fault stops the guest, and when the timer's interrupts arrive (the trace's
// exits and their timestamps); a changed call target, a store into the code's own page and a
// fault inside the trace leave it where the blocks would.

import { describe, expect, test } from "vitest";
import { createX86Machine } from "../../../runtime/x86/machine.js";
import { traceCounts } from "../../../runtime/x86/trace.js";
import { IDT64_TABLE, TICK_HANDLER, idtGate64, x2apicPeriodicTimer } from "../../../runtime/guests/x86_64/apic-timer.js";
import { LONG_MODE_ENTRY, LONG_MODE_TABLES } from "../../../runtime/guests/x86_64/long-mode.js";


/**
 * A loop of `n` calls through %r12 (fa, then fb from iteration `swap` on), each adding to %rax,
 * storing a running sum to `data`; `body` adds code to the called function (%rbx starts at `rbx`).
 * With `timer`, the APIC timer interrupts it and a handler counts ticks.
 */
function guest(opts: { n: number; swap: number; body?: string; timer?: number; rbx?: number }): string {
  return `
    .code32
start:
    mov $0x700000, %esp
${LONG_MODE_ENTRY}
    mov $0x700000, %rsp
${opts.timer ? idtGate64("timer_handler") + x2apicPeriodicTimer(opts.timer) : ""}
    lea fa(%rip), %r12
    lea fb(%rip), %r13
    mov $${opts.n}, %rsi
    mov $${opts.rbx ?? 0x400000}, %rbx
    xor %eax, %eax
    xor %ecx, %ecx
loop:
    call *%r12
    add %rax, %rcx
    cmp $${opts.swap}, %rsi
    jne 2f
    xchg %r12, %r13
2:  dec %rsi
    jnz loop
    cli
    xor %eax, %eax
    out %al, $0xf4
    hlt
fa:
    add $3, %rax
    mov %rcx, data(%rip)
${opts.body ?? ""}
    ret
fb:
    lea 7(%rax,%rax,2), %rax
    ret
${TICK_HANDLER}
near_code:
    .quad 0
${IDT64_TABLE}
${LONG_MODE_TABLES}
    .balign 4096, 0
data:
    .quad 0
ticks:
    .long 0`;
}

function run(src: string, jit: boolean) {
  const m = createX86Machine({ guest: { source: src }, settings: { jit, stepLimit: 2_000_000 } });
  const r = m.run();
  const s = m.cpu.state;
  return {
    stop: r.stop,
    message: r.message,
    gpr: [...s.gpr],
    rip: s.rip,
    rflags: s.rflags,
    steps: m.steps,
    time: m.time,
    data: m.memory.readBytes(0, 0x800000).reduce((h, b, i) => (b === 0 ? h : (h * 31 + b * (i + 1)) % 1_000_000_007), 7),
    trace: m.trace.lines("today").join("\n"),
  };
}

describe("traces: hot call/ret loops as one compiled loop", () => {
  test("a loop calling through a pointer forms a trace, and ends as the interpreter does (registers, memory, steps)", () => {
    const src = guest({ n: 20_000, swap: 7_000 });
    const before = traceCounts.formed;
    const fast = run(src, true);
    expect(traceCounts.formed).toBeGreaterThan(before);
    const slow = run(src, false);
    expect(fast).toEqual(slow);
    expect(slow.message).toMatch(/debug-exit|SYSTEM_OFF|0xf4/);
  });

  test("timer interrupts arrive at the same instruction: the exits and their timestamps are the interpreter's", () => {
    const src = guest({ n: 200_000, swap: 50_000, timer: 20_000 });
    const fast = run(src, true);
    const slow = run(src, false);
    expect(fast.trace).toContain("EXTERNAL_INTERRUPT");
    expect(fast).toEqual(slow);
  });

  test("a store into the page that holds the code stops the trace there (self-modifying code check)", () => {
    const src = guest({ n: 2_000, swap: 800, body: "    incq near_code(%rip)" });
    expect(run(src, true)).toEqual(run(src, false));
  });

  test("after a TLB flush the same trace serves again once the chain leads along its path (not formed anew per flush)", () => {
    // Every 100th call flushes a TLB entry (INVLPG: the translations the chain links were learnt
    // under may have changed, so the links and the trace wait for the loop to pass once more).
    const body = "    test $0x3f, %cl\n    jnz 5f\n    invlpg data(%rip)\n5:";
    const src = guest({ n: 20_000, swap: 30_000, body });
    const before = traceCounts.formed;
    const fast = run(src, true);
    const formed = traceCounts.formed - before;
    expect(fast).toEqual(run(src, false));
    expect(formed).toBeGreaterThan(0);
    expect(formed).toBeLessThan(20);
  });

  test("a fault inside the trace stops the guest at the faulting instruction with the blocks' state", () => {
    // Each call reads 8 bytes further on, from the last mapped page up: past the 8 MiB the page
    // tables map, the read faults (#PF, no handler: the guest shuts down), 512 calls after the
    // page's first touch (an EPT exit, after which the trace forms again).
    const src = guest({ n: 1_000, swap: 2_000, body: "    mov (%rbx), %r8\n    add $8, %rbx", rbx: 0x7ff000 });
    const before = traceCounts.formed;
    const fast = run(src, true);
    expect(traceCounts.formed).toBeGreaterThan(before);
    const slow = run(src, false);
    expect(fast).toEqual(slow);
    expect(fast.gpr[3]).toBe(0x800000n);
    expect(fast.message).toMatch(/triple fault/);
  });
});
