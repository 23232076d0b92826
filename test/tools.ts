// The host tools some tests compare against (GNU binutils, gcc). Without them those tests skip,
// unless EXITLAB_REQUIRE_BINUTILS is set (.ci/run sets it): then a missing tool is a failure.

import { execFileSync } from "node:child_process";

/** Whether every tool runs (`TOOL --version`). */
export function haveTools(...tools: string[]): boolean {
  return tools.every((tool) => {
    try {
      execFileSync(tool, ["--version"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  });
}

/** EXITLAB_REQUIRE_BINUTILS: a missing tool fails the tests instead of skipping them. */
export const binutilsRequired = !!process.env.EXITLAB_REQUIRE_BINUTILS;
