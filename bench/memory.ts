// Measure 4: memory for many exits. Each arch's exit loop runs in a child node process (so the peak
// RSS is that run's own): once with N exits and once with 1 (the baseline: node, the runtime, a
// machine). Bytes per kept exit = the RSS the N-exit run added (after − before the run, the
// machine still reachable) / exits kept; the target (10 M exits under 256 MiB peak RSS) is checked
// directly when N ≥ 10 M, else on a linear extrapolation from the RSS before the run, marked as such.

import { runChild } from "./child.js";
import { DEFAULT_EXIT_CAP } from "../runtime/core/exits.js";
import type { Arch } from "../runtime/core/machine.js";
import type { MemChildResult } from "./mem-child.js";

export const TARGET_EXITS = 10_000_000;
export const TARGET_RSS = 256 * 1024 * 1024;

export interface MemoryResult {
  arch: Arch;
  n: number;
  full?: MemChildResult;
  base?: MemChildResult;
  bytesPerExit?: number;
  /** Peak RSS at 10 M exits: measured when n ≥ 10 M, else extrapolated. */
  at10M?: number;
  extrapolated: boolean;
  met?: boolean;
  error?: string;
  note: string;
}

function child(arch: Arch, n: number): Promise<MemChildResult> {
  return runChild<MemChildResult>("./mem-child.js", [arch, String(n)], `mem-child ${arch} ${n}`);
}

const MB = (b: number) => `${(b / (1024 * 1024)).toLocaleString("en-US", { maximumFractionDigits: 1 })} MiB`;

async function one(arch: Arch, n: number): Promise<MemoryResult> {
  const r: MemoryResult = { arch, n, extrapolated: n < TARGET_EXITS, note: "" };
  try {
    r.base = await child(arch, 1);
    r.full = await child(arch, n);
  } catch (e) {
    r.error = (e as Error).message;
    r.note = r.error;
    return r;
  }
  const { base, full } = r;
  const kept = Math.max(1, full.kept - base.kept);
  r.bytesPerExit = Math.max(0, full.rssAfterBytes - full.rssBeforeBytes) / kept;
  // Exits and trace events are kept up to their caps: memory grows with the exits kept, not all.
  // (The peak may be start-up's, above what a short run reaches: the extrapolation is never below it.)
  r.at10M = r.extrapolated
    ? Math.max(full.maxRssBytes, full.rssBeforeBytes + r.bytesPerExit * Math.min(TARGET_EXITS, DEFAULT_EXIT_CAP))
    : full.maxRssBytes;
  r.met = r.at10M < TARGET_RSS;
  const eventsPerExit = (full.traceEvents + full.traceDropped) / Math.max(1, full.exits);
  r.note =
    `child node process, ${full.exits.toLocaleString("en-US")} exits in ${(full.ms / 1000).toFixed(1)} s; ` +
    `baseline (1 exit) ${MB(base.maxRssBytes)} peak; RSS ${MB(full.rssBeforeBytes)} before the run, ${MB(full.rssAfterBytes)} after; trace ${full.traceEvents.toLocaleString("en-US")} events kept` +
    (full.traceDropped ? `, ${full.traceDropped.toLocaleString("en-US")} dropped at the cap` : "") +
    (full.halted ? "" : "; NOT halted");
  if (r.extrapolated) {
    r.note += `; linear from ${n.toLocaleString("en-US")} exits up to the ${DEFAULT_EXIT_CAP.toLocaleString("en-US")} exits kept (${eventsPerExit.toFixed(1)} trace events per exit, trace capped at 1,000,000 events: an upper bound once the cap is reached)`;
  }
  return r;
}

/** Both arches; their children run side by side (two processes, memory is not timed). */
export async function benchMemory(n: number): Promise<MemoryResult[]> {
  return Promise.all((["arm64", "x86_64"] as const).map((arch) => one(arch, n)));
}

export const formatMiB = MB;
