// Kernel benchmarks: cold start (spawn → kernel_info_reply), the first cell, and the median round
// trip of a trivial cell (execute_request → execute_reply), for exitlab's kernel, tslab's and
// IPython's (ipykernel), measured in the same run with the same small zeromq client. Wall-clock
// timing is the point here.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as zmq from "zeromq";
import { Signer, decode, encode, newHeader } from "../kernel/protocol/wire.js";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

/**
 * The trivial cell each kernel runs for the round trip: the same work in each — evaluate `1+1` and
 * send its value back as an execute_result (exitlab's bare expressions are values too).
 */
export const EXITLAB_TRIVIAL_CELL = "1+1";
export const TRIVIAL_CELL = "1+1";

/** One kernel's figures, in milliseconds, or why it was not measured. */
export interface KernelMeasure {
  kernel: "exitlab" | "tslab" | "ipykernel";
  cell: string;
  /** spawn → kernel_info_reply. */
  coldStartMs?: number;
  /** spawn → the first cell's execute_reply (kernel_info, then one cell). */
  firstCellMs?: number;
  /** Median execute_request → execute_reply of the trivial cell. */
  roundTripMs?: number;
  cells?: number;
  skipped?: string;
}

interface Measured {
  coldStartMs: number;
  firstCellMs: number;
  roundTripsMs: number[];
}

/** Start a kernel, time kernel_info and `cells` executions of `cell`; each reply must be "ok". */
async function measure(argv: (conn: string) => string[], cell: string, cells = 30): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), "exitlab-bench-"));
  const key = randomBytes(16).toString("hex");
  const ports = { shell_port: await freePort(), control_port: await freePort(), stdin_port: await freePort(), iopub_port: await freePort(), hb_port: await freePort() };
  const conn = join(dir, "connection.json");
  writeFileSync(conn, JSON.stringify({ transport: "tcp", ip: "127.0.0.1", key, signature_scheme: "hmac-sha256", ...ports }));
  const signer = new Signer(key);
  // A kernel that never answers fails the measure (receive rejects) instead of hanging the bench.
  const shell = new zmq.Dealer({ receiveTimeout: 60_000 });
  shell.connect(`tcp://127.0.0.1:${ports.shell_port}`);
  const session = "bench";
  const request = async (type: string, content: object): Promise<Record<string, unknown>> => {
    const h = newHeader(type, session);
    await shell.send(encode([], h, {}, {}, content, signer));
    for (;;) {
      const m = decode(await shell.receive(), signer);
      if (m.parent_header.msg_id === h.msg_id) return m.content as Record<string, unknown>;
    }
  };
  const execute = async (): Promise<void> => {
    const r = await request("execute_request", { code: cell, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
    if (r.status !== "ok") throw new Error(`the cell \`${cell}\` failed: ${String(r.ename ?? r.status)} ${String(r.evalue ?? "")}`);
  };
  let child: ChildProcess | undefined;
  try {
    const [cmd, ...args] = argv(conn);
    const t0 = performance.now();
    child = spawn(cmd!, args, { stdio: ["ignore", "ignore", "ignore"] });
    // Until the kernel binds, requests queue in zeromq and are delivered once it does.
    await request("kernel_info_request", {});
    const coldStartMs = performance.now() - t0;
    await execute();
    const firstCellMs = performance.now() - t0;
    const roundTripsMs: number[] = [];
    for (let i = 0; i < cells; i++) {
      const t = performance.now();
      await execute();
      roundTripsMs.push(performance.now() - t);
    }
    return { coldStartMs, firstCellMs, roundTripsMs };
  } finally {
    shell.close();
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number) => Math.round(x * 100) / 100;

/** Debian's python with ipykernel (the anchor the DESIGN's targets were set against). */
const PYTHON = "/usr/bin/python3";

/**
 * exitlab's kernel, tslab's and ipykernel's, one after the other in the same run, each started
 * cold and given the same trivial cell. A kernel that cannot start here is reported as skipped.
 */
export async function benchKernel(cells = 30): Promise<KernelMeasure[]> {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const exitlabMain = join(root, "dist/kernel/main.js");
  const tslabBin = join(root, "node_modules/tslab/bin/tslab");
  const kernels: { kernel: KernelMeasure["kernel"]; cell: string; argv: (c: string) => string[] }[] = [
    { kernel: "exitlab", cell: EXITLAB_TRIVIAL_CELL, argv: (c) => [process.execPath, exitlabMain, c] },
    { kernel: "tslab", cell: TRIVIAL_CELL, argv: (c) => [process.execPath, tslabBin, "kernel", "--config-path", c] },
    { kernel: "ipykernel", cell: TRIVIAL_CELL, argv: (c) => [PYTHON, "-m", "ipykernel_launcher", "-f", c] },
  ];
  const out: KernelMeasure[] = [];
  for (const k of kernels) {
    if (k.kernel === "tslab" && !existsSync(tslabBin)) {
      out.push({ kernel: k.kernel, cell: k.cell, skipped: "node_modules/tslab is not installed" });
      continue;
    }
    if (k.kernel === "ipykernel" && spawnSync(PYTHON, ["-c", "import ipykernel"]).status !== 0) {
      out.push({ kernel: k.kernel, cell: k.cell, skipped: `${PYTHON} has no ipykernel (Debian: python3-ipykernel)` });
      continue;
    }
    try {
      const m = await measure(k.argv, k.cell, cells);
      out.push({ kernel: k.kernel, cell: k.cell, coldStartMs: round(m.coldStartMs), firstCellMs: round(m.firstCellMs), roundTripMs: round(median(m.roundTripsMs)), cells });
    } catch (e) {
      out.push({ kernel: k.kernel, cell: k.cell, skipped: (e as Error).message });
    }
  }
  return out;
}

