// A flattened device tree for the mach-virt-like machine, built the way QEMU hands one to a guest
// in x0: header, empty memory reservation map, structure block, strings block (all big-endian).
// Format: Devicetree Specification v0.3, chapter 5 "Flattened Devicetree (DTB) Format"
// (magic 0xd00dfeed, version 17, FDT_BEGIN_NODE 1, FDT_END_NODE 2, FDT_PROP 3, FDT_END 9).

import { GPEX_ECAM_BASE, GPEX_ECAM_SIZE, GPEX_MMIO, GPEX_MMIO_HIGH, GPEX_PIO } from "../../devices/pci-gpex.js";

const FDT_MAGIC = 0xd00dfeed;
const FDT_BEGIN_NODE = 1;
const FDT_END_NODE = 2;
const FDT_PROP = 3;
const FDT_NOP = 4;
const FDT_END = 9;

export interface DtNode {
  name: string;
  props?: Record<string, string | number[] | Uint8Array>;
  children?: DtNode[];
}

/** Serialise a tree: strings become NUL-terminated, number arrays big-endian 32-bit cells. */
export function buildDtb(root: DtNode): Uint8Array {
  const struct: number[] = [];
  const strings: number[] = [];
  const stringOffsets = new Map<string, number>();
  const u32 = (out: number[], v: number) => out.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  const pad4 = (out: number[]) => { while (out.length % 4) out.push(0); };
  const str = (s: string) => [...Buffer.from(s, "utf8"), 0];
  const nameOff = (name: string) => {
    let o = stringOffsets.get(name);
    if (o === undefined) {
      o = strings.length;
      stringOffsets.set(name, o);
      strings.push(...str(name));
    }
    return o;
  };
  const node = (n: DtNode) => {
    u32(struct, FDT_BEGIN_NODE);
    struct.push(...str(n.name));
    pad4(struct);
    for (const [k, v] of Object.entries(n.props ?? {})) {
      const bytes: number[] = typeof v === "string" ? str(v) : v instanceof Uint8Array ? [...v] : [];
      if (Array.isArray(v)) for (const cell of v) u32(bytes, cell);
      u32(struct, FDT_PROP);
      u32(struct, bytes.length);
      u32(struct, nameOff(k));
      struct.push(...bytes);
      pad4(struct);
    }
    for (const c of n.children ?? []) node(c);
    u32(struct, FDT_END_NODE);
  };
  node(root);
  u32(struct, FDT_END);
  const headerSize = 40;
  const rsvmapOff = headerSize;
  const structOff = rsvmapOff + 16;
  const stringsOff = structOff + struct.length;
  const total = stringsOff + strings.length;
  const out: number[] = [];
  for (const v of [FDT_MAGIC, total, structOff, stringsOff, rsvmapOff, 17, 16, 0, strings.length, struct.length]) u32(out, v);
  for (let i = 0; i < 16; i++) out.push(0); // memory reservation map: one terminating all-zero entry
  out.push(...struct, ...strings);
  return Uint8Array.from(out);
}

/**
 * The interrupt controller and timer nodes QEMU's mach-virt gives a guest (hw/arm/virt.c
 * create_gic, fdt_add_timer_nodes), phandle 1 (the root's interrupt-parent): GICv2
 * "arm,cortex-a15-gic" with GICD and GICC frames, or GICv3 "arm,gic-v3" with GICD and the
 * redistributor region; the timer's four PPIs (secure 13, non-secure physical 14, virtual 11,
 * hypervisor 10), level-high, with the GICv2 CPU mask in bits 15:8, and the PMU node
 * ("arm,armv8-pmuv3", PPI 7) (Linux
 * Documentation/devicetree/bindings/interrupt-controller/arm,gic.yaml).
 */
function gicAndTimerNodes(gic: "v2" | "v3", cpus: number): DtNode[] {
  const GIC_PPI = 1, LEVEL_HI = 4;
  const flags = gic === "v2" ? (((1 << cpus) - 1) << 8) | LEVEL_HI : LEVEL_HI;
  const ppis = [13, 14, 11, 10].flatMap((n) => [GIC_PPI, n, flags]);
  const controller: DtNode =
    gic === "v2"
      ? { name: "intc@8000000", props: { compatible: "arm,cortex-a15-gic", "#interrupt-cells": [3], "interrupt-controller": new Uint8Array(0), reg: [0, 0x0800_0000, 0, 0x1_0000, 0, 0x0801_0000, 0, 0x1_0000], phandle: [1] } }
      : { name: "intc@8000000", props: { compatible: "arm,gic-v3", "#interrupt-cells": [3], "interrupt-controller": new Uint8Array(0), "#redistributor-regions": [1], reg: [0, 0x0800_0000, 0, 0x1_0000, 0, 0x080a_0000, 0, 0xf6_0000], phandle: [1] } };
  // The PMU's overflow interrupt: PPI 7 (INTID 23), level-high (hw/arm/virt.c fdt_add_pmu_nodes, VIRTUAL_PMU_IRQ).
  const pmu: DtNode = { name: "pmu", props: { compatible: "arm,armv8-pmuv3", interrupts: [GIC_PPI, 7, flags] } };
  return [controller, { name: "timer", props: { compatible: "arm,armv8-timer", interrupts: ppis, "always-on": new Uint8Array(0) } }, pmu];
}

/**
 * mach-virt's generic PCIe host node (hw/arm/virt.c create_pcie; binding: Linux
 * Documentation/devicetree/bindings/pci/host-generic-pci.yaml): "pci-host-ecam-generic", the
 * high ECAM (256 buses), and `ranges` with QEMU's three windows (I/O at 0x3eff0000, 32-bit memory
 * at 0x10000000, 64-bit prefetchable memory at 0x80_0000_0000; PCI address cells: space code
 * 0x01000000 I/O, 0x02000000 MEM32, 0x03000000 MEM64). QEMU's interrupt-map and msi-map are left
 * out: no device on the bus raises INTx or MSI.
 */
function pcieNode(): DtNode {
  const hi = (v: number) => Math.floor(v / 2 ** 32);
  const lo = (v: number) => v >>> 0;
  const range = (space: number, w: { base: number; size: number }, pciBase: number) => [space, hi(pciBase), lo(pciBase), hi(w.base), lo(w.base), hi(w.size), lo(w.size)];
  return {
    name: `pcie@10000000`,
    props: {
      compatible: "pci-host-ecam-generic",
      device_type: "pci",
      "#address-cells": [3],
      "#size-cells": [2],
      "linux,pci-domain": [0],
      "bus-range": [0, 0xff],
      "dma-coherent": new Uint8Array(0),
      reg: [hi(GPEX_ECAM_BASE), lo(GPEX_ECAM_BASE), hi(GPEX_ECAM_SIZE), lo(GPEX_ECAM_SIZE)],
      ranges: [...range(0x0100_0000, GPEX_PIO, 0), ...range(0x0200_0000, GPEX_MMIO, GPEX_MMIO.base), ...range(0x0300_0000, GPEX_MMIO_HIGH, GPEX_MMIO_HIGH.base)],
    },
  };
}

/**
 * The machine's tree: memory, the PL011 UART, PSCI over HVC, `cpus` CPU nodes (QEMU's
 * fdt_add_cpu_nodes: cpu@N, reg = the MPIDR affinity, N for up to 16 vCPUs; enable-method psci),
 * the GIC and timer, the generic PCIe host, and chosen/stdout-path (and linux,initrd-start/end with an `initrd`: its first
 * byte and the byte after its last).
 */
export function machVirtDtb(ram: { base: number; size: number }, uart: { base: number; size: number }, bootargs?: string, gic: "v2" | "v3" = "v2", cpus = 1, initrd?: { start: number; end: number }): Uint8Array {
  const hi = (v: number) => Math.floor(v / 2 ** 32);
  const lo = (v: number) => v >>> 0;
  // QEMU hw/arm/boot.c load_dtb: the initrd's bounds in /chosen, in the root's #address-cells (2) cells each.
  const ramdisk: Record<string, number[]> = initrd ? { "linux,initrd-start": [hi(initrd.start), lo(initrd.start)], "linux,initrd-end": [hi(initrd.end), lo(initrd.end)] } : {};
  return buildDtb({
    name: "",
    props: { compatible: "linux,dummy-virt", "#address-cells": [2], "#size-cells": [2], "interrupt-parent": [1] },
    children: [
      { name: "chosen", props: { ...(bootargs !== undefined ? { bootargs } : {}), "stdout-path": `/pl011@${uart.base.toString(16)}`, ...ramdisk } },
      { name: `memory@${ram.base.toString(16)}`, props: { device_type: "memory", reg: [hi(ram.base), lo(ram.base), hi(ram.size), lo(ram.size)] } },
      { name: `pl011@${uart.base.toString(16)}`, props: { compatible: "arm,pl011\0arm,primecell", reg: [0, uart.base, 0, uart.size] } },
      { name: "psci", props: { compatible: "arm,psci-0.2\0arm,psci", method: "hvc" } },
      {
        name: "cpus",
        props: { "#address-cells": [1], "#size-cells": [0] },
        children: Array.from({ length: cpus }, (_, i) => ({ name: `cpu@${i}`, props: { device_type: "cpu", compatible: "arm,cortex-a57", reg: [i], "enable-method": "psci" } })),
      },
      ...gicAndTimerNodes(gic, cpus),
      pcieNode(),
    ],
  });
}

/**
 * A flattened device tree as dts source text (Devicetree Specification v0.4, 5.4 "Structure
 * block"; dtc's output conventions): a property whose bytes are printable NUL-terminated strings
 * prints as strings, a multiple of 4 bytes as <cells>, anything else as [bytes]. Throws on a blob
 * that is not a device tree (bad magic or offsets).
 */
export function dtbToDts(blob: Uint8Array): string {
  const v = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  if (blob.length < 40 || v.getUint32(0) !== FDT_MAGIC) throw new Error("not a device tree (magic 0xd00dfeed missing)");
  const total = v.getUint32(4), structOff = v.getUint32(8), stringsOff = v.getUint32(12);
  if (total > blob.length || structOff >= total || stringsOff > total) throw new Error(`device tree header out of range (totalsize ${total})`);
  const cstr = (at: number) => {
    let end = at;
    while (end < total && blob[end] !== 0) end++;
    return { text: Buffer.from(blob.subarray(at, end)).toString("utf8"), end };
  };
  const value = (b: Uint8Array): string => {
    if (b.length === 0) return "";
    const parts = Buffer.from(b).toString("latin1").split("\0");
    if (b[b.length - 1] === 0 && parts.slice(0, -1).every((p) => p.length > 0 && /^[\x20-\x7e]+$/.test(p))) return ` = ${parts.slice(0, -1).map((p) => JSON.stringify(p)).join(", ")}`;
    if (b.length % 4 === 0) {
      const cells: string[] = [];
      for (let i = 0; i < b.length; i += 4) cells.push("0x" + new DataView(b.buffer, b.byteOffset + i, 4).getUint32(0).toString(16));
      return ` = <${cells.join(" ")}>`;
    }
    return ` = [${[...b].map((x) => x.toString(16).padStart(2, "0")).join(" ")}]`;
  };
  const out = ["/dts-v1/;", ""];
  let at = structOff, depth = 0;
  const ind = () => "\t".repeat(depth);
  for (;;) {
    if (at + 4 > total) throw new Error("device tree structure block runs past the blob");
    const tok = v.getUint32(at);
    at += 4;
    if (tok === FDT_BEGIN_NODE) {
      const n = cstr(at);
      out.push(`${ind()}${n.text === "" ? "/" : n.text} {`);
      depth++;
      at = (n.end + 4) & ~3;
    } else if (tok === FDT_PROP) {
      const len = v.getUint32(at), nameoff = v.getUint32(at + 4);
      const name = cstr(stringsOff + nameoff).text;
      out.push(`${ind()}${name}${value(blob.subarray(at + 8, at + 8 + len))};`);
      at = (at + 8 + len + 3) & ~3;
    } else if (tok === FDT_END_NODE) {
      depth--;
      out.push(`${ind()}};`);
    } else if (tok === FDT_END) break;
    else if (tok !== FDT_NOP) throw new Error(`device tree token 0x${tok.toString(16)} at 0x${(at - 4).toString(16)} is not one of the spec's`);
  }
  return out.join("\n") + "\n";
}
