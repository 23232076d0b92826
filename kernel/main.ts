// Kernel entry: `node dist/kernel/main.js <connection_file> [--backend MODULE]`.
// Starts fast: sockets and the worker come up at once; the language loads inside the worker,
// and kernel_info is answered from static data meanwhile.

import { fileURLToPath } from "node:url";
import { readConnectionFile } from "./protocol/connection.js";
import { Kernel } from "./server.js";
import { KERNEL_INFO } from "./exitlab-info.js";

async function main(argv: string[]): Promise<void> {
  const args = [...argv];
  let backendModule = fileURLToPath(new URL("./exitlab-backend.js", import.meta.url));
  const b = args.indexOf("--backend");
  const custom = b >= 0;
  if (custom) {
    backendModule = args[b + 1] ?? "";
    args.splice(b, 2);
  }
  const file = args[0];
  if (!file) {
    process.stderr.write("usage: exitlab-kernel <connection_file> [--backend MODULE]\n");
    process.exit(2);
  }
  const kernel = new Kernel({
    connection: readConnectionFile(file),
    backendModule,
    // The exitlab backend's kernel_info is static: answered before the worker has loaded the
    // language (a custom backend is asked through the worker).
    info: custom ? undefined : KERNEL_INFO,
    onShutdown: () => process.exit(0),
    stallAfterErrorMs: stallMs(process.env.EXITLAB_KERNEL_STALL_AFTER_ERROR_MS),
  });
  // interrupt_mode "signal": Jupyter sends SIGINT; a running guest stops at the next instruction.
  process.on("SIGINT", () => kernel.interrupt());
  await kernel.start();
}

/** EXITLAB_KERNEL_STALL_AFTER_ERROR_MS: fault injection for the protocol checks (KernelOptions.stallAfterErrorMs), 0 to 10,000 ms. */
function stallMs(text: string | undefined): number {
  if (text === undefined || text === "") return 0;
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 0 || ms > 10_000) {
    process.stderr.write(`[exitlab kernel] EXITLAB_KERNEL_STALL_AFTER_ERROR_MS must be an integer from 0 to 10000, not ${JSON.stringify(text)}\n`);
    process.exit(2);
  }
  return ms;
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`[exitlab kernel] failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
