// The trace the trace-load measure reads: N events of two vCPU threads as `trace-cmd report` prints
// them (x86, Linux v4.1 formats: kvm_exit with reason/rip/info, kvm_entry, now and then a kvm_pio
// and a kvm_userspace_exit), written in 4 MiB pieces, and the same events' columns as CSV for
// DuckDB's own read_csv. Deterministic: a fixed linear congruential sequence picks the reasons.

import { closeSync, openSync, writeSync } from "node:fs";

/** Exit reasons and how often each is picked (out of 16), with the info1 they carry. */
const MIX: readonly { reason: string; weight: number; info1: string }[] = [
  { reason: "EPT_VIOLATION", weight: 5, info1: "181" },
  { reason: "IO_INSTRUCTION", weight: 4, info1: "3f80008" },
  { reason: "HLT", weight: 3, info1: "0" },
  { reason: "MSR_WRITE", weight: 2, info1: "0" },
  { reason: "EXTERNAL_INTERRUPT", weight: 1, info1: "0" },
  { reason: "CR_ACCESS", weight: 1, info1: "4" },
];
const PICK = MIX.flatMap((m) => Array<(typeof MIX)[number]>(m.weight).fill(m));

export interface GeneratedTrace {
  events: number;
  exits: number;
  /** Exits per reason, as the load must count them. */
  byReason: Record<string, number>;
}

/** Writes `events` events (exit/entry pairs, an I/O exit followed by kvm_pio and kvm_userspace_exit) to `path` and their CSV to `csvPath`. */
export function generateTrace(path: string, csvPath: string, events: number): GeneratedTrace {
  const fd = openSync(path, "w");
  const fdCsv = openSync(csvPath, "w");
  let text: string[] = ["cpus=2\n"];
  let csv: string[] = ["ts,cpu,task,pid,event,reason,pc,info1\n"];
  const flush = (force: boolean) => {
    if (force || text.length >= 65536) {
      writeSync(fd, text.join(""));
      writeSync(fdCsv, csv.join(""));
      text = [];
      csv = [];
    }
  };
  const byReason: Record<string, number> = {};
  let exits = 0;
  let seed = 12345;
  let ns = 1_000_000_000;
  let n = 0;
  const line = (pid: number, cpu: number, event: string, body: string, reason: string, pc: string, info1: string) => {
    const us = Math.floor(ns / 1000);
    const ts = `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, "0")}`;
    text.push(` qemu-system-x86-${pid}  [00${cpu}] ${ts}: ${event}: ${body}\n`);
    csv.push(`${ts},${cpu},qemu-system-x86,${pid},${event},${reason},${pc},${info1}\n`);
    n++;
  };
  while (n < events) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const m = PICK[(seed >>> 8) % PICK.length]!;
    const vcpu = (seed >>> 4) & 1;
    const pid = 4242 + vcpu;
    const rip = `0xffffffff8${(0x1000000 + ((seed >>> 12) & 0xffff) * 4).toString(16).padStart(7, "0")}`;
    ns += 1000 + ((seed >>> 16) & 0x3ff);
    line(pid, vcpu, "kvm_exit", `reason ${m.reason} rip ${rip} info ${m.info1} 0`, m.reason, rip, m.info1);
    exits++;
    byReason[m.reason] = (byReason[m.reason] ?? 0) + 1;
    if (m.reason === "IO_INSTRUCTION" && n + 3 <= events) {
      ns += 200;
      line(pid, vcpu, "kvm_pio", "pio_write at 0x3f8 size 1 count 1", "", "", "");
      line(pid, vcpu, "kvm_userspace_exit", "reason KVM_EXIT_IO (2)", "", "", "");
    }
    if (n < events) {
      ns += 500 + ((seed >>> 20) & 0xff);
      line(pid, vcpu, "kvm_entry", `vcpu ${vcpu}`, "", "", "");
    }
    flush(false);
  }
  flush(true);
  closeSync(fd);
  closeSync(fdCsv);
  return { events: n, exits, byReason };
}
