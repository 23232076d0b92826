// Kernel benchmarks: cold start (spawn → kernel_info_reply) and the median round trip of a
// trivial cell (execute_request → execute_reply), for exitlab's kernel and tslab's, measured in
// the same run with the same small zeromq client. Wall-clock timing is the point here.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as zmq from "zeromq";
import { Signer, decode, encode, newHeader } from "../kernel/protocol/wire.js";

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  note: string;
}

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

interface Measured {
  coldStartMs: number;
  roundTripsMs: number[];
}

async function measure(argv: (conn: string) => string[], cell: string, cells = 30): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), "exitlab-bench-"));
  const key = randomBytes(16).toString("hex");
  const ports = { shell_port: await freePort(), control_port: await freePort(), stdin_port: await freePort(), iopub_port: await freePort(), hb_port: await freePort() };
  const conn = join(dir, "connection.json");
  writeFileSync(conn, JSON.stringify({ transport: "tcp", ip: "127.0.0.1", key, signature_scheme: "hmac-sha256", ...ports }));
  const signer = new Signer(key);
  const shell = new zmq.Dealer();
  shell.connect(`tcp://127.0.0.1:${ports.shell_port}`);
  const session = "bench";
  const request = async (type: string, content: object): Promise<void> => {
    const h = newHeader(type, session);
    await shell.send(encode([], h, {}, {}, content, signer));
    for (;;) {
      const m = decode(await shell.receive(), signer);
      if (m.parent_header.msg_id === h.msg_id) return;
    }
  };
  let child: ChildProcess | undefined;
  try {
    const [cmd, ...args] = argv(conn);
    const t0 = performance.now();
    child = spawn(cmd!, args, { stdio: ["ignore", "ignore", "ignore"] });
    // Until the kernel binds, requests queue in zeromq and are delivered once it does.
    await request("kernel_info_request", {});
    const coldStartMs = performance.now() - t0;
    const roundTripsMs: number[] = [];
    for (let i = 0; i < cells; i++) {
      const t = performance.now();
      await request("execute_request", { code: cell, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
      roundTripsMs.push(performance.now() - t);
    }
    return { coldStartMs, roundTripsMs };
  } finally {
    shell.close();
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number) => Math.round(x * 100) / 100;

export async function benchKernel(): Promise<BenchResult[]> {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const exitlabMain = join(root, "dist/kernel/main.js");
  const tslabBin = join(root, "node_modules/tslab/bin/tslab");
  const ex = await measure((c) => [process.execPath, exitlabMain, c], "let n = 1");
  const out: BenchResult[] = [
    { name: "kernel cold start (exitlab)", value: round(ex.coldStartMs), unit: "ms", note: "spawn → kernel_info_reply; target < 300 ms" },
    { name: "kernel round trip (exitlab)", value: round(median(ex.roundTripsMs)), unit: "ms", note: "median of 30 `let n = 1` cells; target < 5 ms" },
  ];
  try {
    const ts = await measure((c) => [process.execPath, tslabBin, "kernel", "--config-path", c], "let n = 1", 10);
    out.push(
      { name: "kernel cold start (tslab)", value: round(ts.coldStartMs), unit: "ms", note: `exitlab is ${(ts.coldStartMs / ex.coldStartMs).toFixed(1)}x faster` },
      { name: "kernel round trip (tslab)", value: round(median(ts.roundTripsMs)), unit: "ms", note: `median of 10 cells; exitlab is ${(median(ts.roundTripsMs) / median(ex.roundTripsMs)).toFixed(1)}x faster` },
    );
  } catch (e) {
    out.push({ name: "kernel (tslab)", value: NaN, unit: "ms", note: `tslab not measured: ${(e as Error).message}` });
  }
  return out;
}
