// `exitlab kernel ...`: delegated to the Jupyter kernel package (kernel/install.ts), loaded on demand.

export async function kernelCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== "install") {
    process.stderr.write(`exitlab: usage: exitlab kernel install [--user | --sys-prefix | --prefix DIR] [--name NAME]\n`);
    return 2;
  }
  let mod: { main?: (argv: string[]) => Promise<number> };
  try {
    const path = "../../kernel/install.js";
    mod = (await import(path)) as typeof mod;
  } catch (e) {
    process.stderr.write(`exitlab: the Jupyter kernel is not part of this build (kernel/install.js: ${(e as Error).message})\n`);
    return 2;
  }
  if (typeof mod.main !== "function") {
    process.stderr.write("exitlab: kernel/install.js has no main(argv)\n");
    return 2;
  }
  return mod.main(rest);
}
