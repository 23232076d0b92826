// The lab's side of DuckDB: a worker thread (lab/sql/worker.ts) started on first use, called
// synchronously (post the request, sleep on a shared flag until the worker has replied, read the
// reply off the port) because statements are synchronous. Tables are registered once per version
// of a trace (a VM's trace changes as it runs; a loaded trace never does).

import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";
import type { Reply, Request } from "./wire.js";

/** How long one request may take before the lab gives up on it (ms). */
const TIMEOUT_MS = 30 * 60 * 1000;

/** The compiled worker: next to this module in dist/, or dist/lab/sql/ when run from the sources (tests). */
function workerUrl(): URL {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".js")) return new URL("./worker.js", import.meta.url);
  return pathToFileURL(join(dirname(here), "../../dist/lab/sql/worker.js"));
}

/** An error DuckDB (or the worker) reported, with its message. */
export class SqlError extends Error {
  override name = "SqlError";
}

export class SqlEngine {
  private worker: Worker | null = null;
  private port: MessagePort | null = null;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  /** Registered tables: name → key of the version registered. */
  private readonly registered = new Map<string, string>();

  private start(): void {
    const { port1, port2 } = new MessageChannel();
    this.worker = new Worker(workerUrl(), { workerData: { port: port2, flag: this.flag.buffer }, transferList: [port2] });
    this.worker.unref();
    port1.unref();
    this.port = port1;
  }

  /** Sends one request and waits for its reply (synchronously). Throws SqlError on DuckDB's errors. */
  call(req: Request): Reply & { ok: true } {
    if (!this.worker) this.start();
    Atomics.store(this.flag, 0, 0);
    this.port!.postMessage(req);
    const woke = Atomics.wait(this.flag, 0, 0, TIMEOUT_MS);
    const msg = receiveMessageOnPort(this.port!);
    if (woke === "timed-out" || !msg) throw new SqlError(`DuckDB did not answer within ${TIMEOUT_MS / 60000} minutes`);
    const reply = msg.message as Reply;
    if (!reply.ok) throw new SqlError(reply.message);
    return reply;
  }

  /** Registers (or refreshes) a table unless this version of it is there already. */
  ensure(name: string, key: string, build: () => Request & { op: "register" }): void {
    if (this.registered.get(name) === key) return;
    this.call(build());
    this.registered.set(name, key);
  }

  /** Drops tables no longer in the session. */
  retain(names: ReadonlySet<string>): void {
    for (const n of [...this.registered.keys()]) {
      if (names.has(n)) continue;
      const q = (x: string) => `"${x.replace(/"/g, '""')}"`;
      this.call({ op: "exec", sql: `DROP VIEW IF EXISTS ${q(n)}; ${["rows", "names", "threads", "bodies"].map((t) => `DROP TABLE IF EXISTS ${q(`${n}$${t}`)};`).join(" ")}` });
      this.registered.delete(n);
    }
  }

  close(): void {
    void this.worker?.terminate();
    this.worker = null;
    this.registered.clear();
  }
}
