// exitlab's own trace in the event model: each event of a VM's TraceLog is formatted as its
// tracepoint text of the VM's era and read back by the same reader as a loaded trace, so both land
// in the same columns by construction; the modelled cycles and guest steps are added to each row.
// Done at query time (`sql`, `stat`, exports): the VM's trace storage is not touched.

import type { Arch } from "../core/machine.js";
import { formatEvent, type KvmEra, type TraceLog } from "../core/trace.js";
import { TraceReader, type ReadResult } from "./reader.js";

/** The VM's kept trace events as an event table (its `formats` say "exitlab"). */
export function adaptTrace(trace: TraceLog, era: KvmEra, arch: Arch, name = "trace"): ReadResult {
  const r = new TraceReader(name, arch);
  const t = r.table;
  let n = 0;
  for (const e of trace) {
    const before = t.length;
    r.line(formatEvent(e, era, trace.tracepoints), ++n);
    if (t.length === before) continue;
    t.num.cycles.set(before, e.cycles);
    t.num.step.set(before, e.step);
  }
  return r.finish();
}
