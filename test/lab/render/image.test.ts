import { describe, expect, it } from "vitest";
import { renderChartPng, renderChartSvg } from "../../../lab/render/image.js";

const spec = {
  $schema: "https://vega.github.io/schema/vega-lite/v5.json",
  data: { values: [ { reason: "CR_ACCESS", count: 3 }, { reason: "EPT_VIOLATION", count: 2 } ] },
  mark: "bar",
  encoding: {
    x: { field: "reason", type: "nominal" },
    y: { field: "count", type: "quantitative" },
  },
};

describe("chart images", () => {
  it("renders a vega-lite bar chart to SVG with one bar per datum and the axis labels", async () => {
    const svg = await renderChartSvg(spec);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("CR_ACCESS");
    expect(svg).toContain("EPT_VIOLATION");
    expect((svg.match(/role-mark[^>]*marks/g) ?? []).length).toBeGreaterThan(0);
  });

  it("is deterministic: the same spec gives the same bytes", async () => {
    expect(await renderChartSvg(spec)).toBe(await renderChartSvg(spec));
  });

  it("renders PNG bytes with the PNG signature", async () => {
    const png = await renderChartPng(spec);
    expect([...png.slice(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.length).toBeGreaterThan(1000);
  });

  it("rejects an invalid spec with an error, not a crash", async () => {
    await expect(renderChartSvg({ mark: "nonsense" })).rejects.toThrow();
  });
});
