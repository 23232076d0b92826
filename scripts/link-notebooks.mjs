// Run by `npm run build` (and so by `npm install`'s prepare step): makes `exitlab` resolve for the
// tslab notebook in notebooks/. tslab type-checks with TypeScript's Node10 module resolution,
// which looks only in node_modules folders (a package's self-reference through "exports" is
// invisible to it), and Jupyter starts the kernel in the notebook's folder. So
// notebooks/node_modules/exitlab is a relative link to this checkout: `import { Lab } from
// "exitlab"` there works as it does in a project that depends on exitlab. The link is not
// committed (node_modules/ is ignored); an existing one is left alone.

import { lstatSync, mkdirSync, readlinkSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const link = join(root, "notebooks", "node_modules", "exitlab");
const target = join("..", "..");

let existing;
try {
  existing = lstatSync(link);
} catch {
  existing = undefined;
}
if (!existing) {
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(target, link, "dir");
} else if (!existing.isSymbolicLink() || readlinkSync(link) !== target) {
  process.stderr.write(`link-notebooks: ${link} exists and is not a link to ${target}; left as it is\n`);
}
