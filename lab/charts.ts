// Chart specifications (vega-lite v5, data inline) for exits: by reason, over time, and two VMs or
// traces side by side. Made to be read on a slide: a title (and a subtitle saying what was left
// out), axis titles with units, bars sorted longest first with their values written at the end,
// fonts large enough for a projector. Each architecture has its colour, from one table, in every
// chart that shows it. Pure functions of the rows: the statements gather and filter the exits.

import type { Arch } from "../runtime/core/machine.js";
import { VEGA_LITE_SCHEMA } from "./results.js";

/** What a chart measures per exit: how many there were, or their modelled host cycles. */
export type Measure = "exits" | "cycles";

/** One reason's exits and their modelled cost, in host cycles. */
export interface ReasonRow {
  reason: string;
  exits: number;
  cycles: number;
}

/** A VM's (or a loaded trace's) rows, with its architecture when known (picks its colour). */
export interface Series {
  name: string;
  arch: Arch | null;
  rows: ReasonRow[];
  /** The axis title of its `cycles` measure when it is no modelled cycles (a real trace's µs). */
  costAxis?: string;
}

/**
 * The colour of each architecture, in every chart: [main, light] — the light shade is the second
 * VM of a comparison of two VMs of the same architecture. Intel's blue and Arm's orange are
 * darkened to keep bars and labels readable on white; the pair also stays apart for the common
 * colour-vision deficiencies (blue/orange). A trace whose architecture is not known is grey.
 */
export const ARCH_COLOURS: Record<Arch | "unknown", readonly [string, string]> = {
  x86_64: ["#1f5fa8", "#8fb3de"],
  arm64: ["#d9730d", "#f2b978"],
  unknown: ["#606060", "#b0b0b0"],
};

/** The axis title of each measure. */
export const MEASURE_TITLES: Record<Measure, string> = {
  exits: "exits",
  cycles: "modelled host cycles",
};

/** Fonts and spacing for a projector; merged under the renderer's own config (font, background). */
const SLIDE_CONFIG = {
  title: { fontSize: 18, subtitleFontSize: 13, anchor: "start", offset: 12 },
  axis: { labelFontSize: 13, titleFontSize: 14, titlePadding: 8 },
  legend: { labelFontSize: 13, titleFontSize: 13 },
  header: { labelFontSize: 14 },
  view: { stroke: null },
};

const BAR_WIDTH = 420;

/** Counts are whole: no 0.5 ticks on a small axis. */
function axisOf(measure: Measure): object {
  return measure === "exits" ? { tickMinStep: 1, format: ",d" } : { format: ",.0f" };
}

function colourOf(arch: Arch | null, second = false): string {
  return ARCH_COLOURS[arch ?? "unknown"][second ? 1 : 0];
}

function titleOf(text: string, subtitle?: string): string | { text: string; subtitle: string } {
  return subtitle ? { text, subtitle } : text;
}

/** Value labels at the end of horizontal bars (none on a zero-length bar). */
function barLabels(field: string): object {
  return {
    transform: [{ filter: `datum[${JSON.stringify(field)}] > 0` }],
    mark: { type: "text", align: "left", baseline: "middle", dx: 4, fontSize: 12 },
    encoding: { text: { field, type: "quantitative", format: "," }, color: { value: "#333333" } },
  };
}

/**
 * Horizontal bars of one measure per exit reason, longest first, in the series' colour.
 * `subtitle` says what was filtered out, if anything.
 */
export function byReasonSpec(series: Series, measure: Measure, title: string, subtitle?: string): Record<string, unknown> {
  // The order as data (not `sort: "-x"`, which both layers would resolve apart): largest first,
  // ties in order of first appearance.
  const order = series.rows.map((r, i) => ({ r, i })).sort((a, b) => b.r[measure] - a.r[measure] || a.i - b.i).map((x) => x.r.reason);
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: titleOf(title, subtitle),
    width: BAR_WIDTH,
    data: { values: series.rows.map((r) => ({ reason: r.reason, exits: r.exits, cycles: r.cycles })) },
    encoding: {
      y: { field: "reason", type: "nominal", sort: order, title: "exit reason" },
      x: { field: measure, type: "quantitative", title: measure === "cycles" && series.costAxis ? series.costAxis : MEASURE_TITLES[measure], axis: axisOf(measure) },
      tooltip: [{ field: "reason" }, { field: "exits", format: "," }, { field: "cycles", format: "," }],
    },
    layer: [{ mark: { type: "bar", color: colourOf(series.arch) } }, barLabels(measure)],
    config: SLIDE_CONFIG,
  };
}

/** One exit on the time axis: guest instructions retired before it, and the running totals. */
export interface TimePoint {
  step: number;
  reason: string;
  /** Exits so far, this one included (its number from 1, counting exits a cap dropped). */
  exits: number;
  /** Modelled cycles of the exits so far, this one included. */
  cycles: number;
}

/** The running total of a measure against guest instructions: a step line, a point per exit coloured by reason. */
export function overTimeSpec(name: string, arch: Arch | null, points: readonly TimePoint[], measure: Measure, title: string, subtitle?: string): Record<string, unknown> {
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: titleOf(title, subtitle),
    width: BAR_WIDTH + 80,
    height: 260,
    data: { values: points.map((p) => ({ ...p, vm: name })) },
    encoding: {
      x: { field: "step", type: "quantitative", title: "guest instructions retired" },
      y: { field: measure, type: "quantitative", title: measure === "exits" ? "exits so far" : `${MEASURE_TITLES[measure]} so far`, axis: axisOf(measure) },
    },
    layer: [
      { mark: { type: "line", interpolate: "step-after", color: colourOf(arch), opacity: 0.6 } },
      {
        mark: { type: "point", filled: true, size: 50 },
        encoding: {
          color: { field: "reason", type: "nominal", title: "exit reason" },
          tooltip: [{ field: "reason" }, { field: "step", title: "instructions" }, { field: "exits", title: "exit #" }, { field: "cycles", format: "," }],
        },
      },
    ],
    config: SLIDE_CONFIG,
  };
}

/**
 * Reasons in the order both panels of a comparison show them: most exits (of both series
 * together) first, ties in order of first appearance — deterministic.
 */
export function reasonOrder(a: Series, b: Series): string[] {
  const total = new Map<string, number>();
  for (const r of [...a.rows, ...b.rows]) total.set(r.reason, (total.get(r.reason) ?? 0) + r.exits);
  const seen = [...total.keys()];
  return seen.sort((x, y) => total.get(y)! - total.get(x)! || seen.indexOf(x) - seen.indexOf(y));
}

/** The colours of a comparison: each architecture's own; the second of the same architecture lighter. */
export function compareColours(a: Series, b: Series): [string, string] {
  return [colourOf(a.arch), colourOf(b.arch, a.arch === b.arch)];
}

/**
 * Two series side by side: grouped bars of exits (left) and of modelled cycles (right) per
 * reason, one bar per series in its colour, the reasons in the same order in both panels. A
 * reason one series never had gets a zero-length bar, so the pairs line up.
 */
export function compareSpec(a: Series, b: Series, title: string, subtitle?: string): Record<string, unknown> {
  const order = reasonOrder(a, b);
  const values: object[] = [];
  for (const reason of order) {
    for (const s of [a, b]) {
      const r = s.rows.find((x) => x.reason === reason);
      values.push({ source: s.name, reason, exits: r?.exits ?? 0, cycles: r?.cycles ?? 0 });
    }
  }
  const names = [a.name, b.name];
  const panel = (measure: Measure, first: boolean): object => ({
    width: 300,
    height: { step: 16 },
    encoding: {
      y: { field: "reason", type: "nominal", sort: order, title: first ? "exit reason" : null, axis: first ? {} : { labels: false, ticks: false, domain: false } },
      yOffset: { field: "source", type: "nominal", sort: names },
      x: { field: measure, type: "quantitative", title: measure === "cycles" && (a.costAxis || b.costAxis) ? [a, b].map((s) => `${s.name}: ${s.costAxis ?? MEASURE_TITLES.cycles}`).join("; ") : MEASURE_TITLES[measure], axis: axisOf(measure) },
      color: { field: "source", type: "nominal", sort: names, scale: { domain: names, range: compareColours(a, b) }, legend: { title: null, orient: "top" } },
      tooltip: [{ field: "source" }, { field: "reason" }, { field: "exits", format: "," }, { field: "cycles", format: "," }],
    },
    layer: [{ mark: { type: "bar" } }, barLabels(measure)],
  });
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: titleOf(title, subtitle),
    data: { values },
    hconcat: [panel("exits", true), panel("cycles", false)],
    resolve: { scale: { y: "shared", color: "shared" } },
    config: SLIDE_CONFIG,
  };
}

/**
 * Horizontal bars of a query's result: one bar per row, labelled by its first column, as long as
 * its first numeric column (`value`), in the order of the rows (the query's `order by`).
 */
export function queryBarSpec(title: string, label: string, measure: string, rows: readonly { label: string; value: number }[]): Record<string, unknown> {
  return {
    $schema: VEGA_LITE_SCHEMA,
    title,
    width: BAR_WIDTH,
    data: { values: rows.map((r) => ({ [label]: r.label, [measure]: r.value })) },
    encoding: {
      y: { field: label, type: "nominal", sort: rows.map((r) => r.label), title: label },
      x: { field: measure, type: "quantitative", title: measure, axis: { format: "," } },
      tooltip: [{ field: label }, { field: measure, format: "," }],
    },
    layer: [{ mark: { type: "bar", color: ARCH_COLOURS.unknown[0] } }, barLabels(measure)],
    config: SLIDE_CONFIG,
  };
}
