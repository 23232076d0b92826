// kernel_info is answered from static data: the reply does not wait for the worker to load the
// language. Shown with a backend that never finishes loading: the kernel still answers
// kernel_info when it is given the static info (as main.ts does for the exitlab backend), and
// only then. Needs the compiled dist/ (npm test builds first).

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import * as zmq from "zeromq";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dist = (p: string) => import(join(ROOT, "dist", p));

/**
 * `n` distinct free ports: every listener stays open until all are chosen (one closed at a time
 * could hand the same port out twice, and the kernel then fails with "Address already in use").
 */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

const dir = mkdtempSync(join(tmpdir(), "exitlab-start-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// A backend whose loading never ends (as if its ~150 modules took forever).
const stuck = join(dir, "stuck-backend.mjs");
writeFileSync(stuck, "export function createBackend() { return new Promise(() => {}); }\n");

async function kernelInfo(withInfo: boolean): Promise<Record<string, unknown> | "timeout"> {
  const { Kernel } = await dist("kernel/server.js");
  const { KERNEL_INFO } = await dist("kernel/exitlab-info.js");
  const { Signer, encode, decode, newHeader } = await dist("kernel/protocol/wire.js");
  const key = "0123456789abcdef";
  const ports = await freePorts(5);
  const connection = { transport: "tcp", ip: "127.0.0.1", key, signature_scheme: "hmac-sha256", shell_port: ports[0]!, control_port: ports[1]!, stdin_port: ports[2]!, iopub_port: ports[3]!, hb_port: ports[4]! };
  const kernel = new Kernel({ connection, backendModule: stuck, info: withInfo ? KERNEL_INFO : undefined });
  await kernel.start();
  const shell = new zmq.Dealer({ receiveTimeout: 1500 });
  shell.connect(`tcp://127.0.0.1:${connection.shell_port}`);
  const signer = new Signer(key);
  try {
    const h = newHeader("kernel_info_request", "test");
    await shell.send(encode([], h, {}, {}, {}, signer));
    try {
      const m = decode(await shell.receive(), signer);
      return { type: m.header.msg_type, ...(m.content as object) };
    } catch {
      return "timeout";
    }
  } finally {
    shell.close();
    await kernel.stop();
  }
}

describe("kernel start", () => {
  it("answers kernel_info from static info while the backend is still loading", async () => {
    const r = await kernelInfo(true);
    expect(r).not.toBe("timeout");
    const reply = r as Record<string, unknown>;
    expect(reply.type).toBe("kernel_info_reply");
    expect(reply.status).toBe("ok");
    expect((reply.language_info as { name: string }).name).toBe("exitlab");
  });

  it("without static info the reply waits for the backend (so the test above can fail)", async () => {
    expect(await kernelInfo(false)).toBe("timeout");
  });
});
