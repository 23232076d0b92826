// The TypeScript API: `const lab = await Lab.create(); lab.run("vm boot x86_64; run")`.

import type { Machine } from "../runtime/core/machine.js";
import { Session, type ExecuteOptions, type MachineFactory } from "./session.js";
import type { Result } from "./results.js";
import { renderAllText } from "./render/text.js";

export class Lab {
  private constructor(readonly session: Session) {}

  static async create(factory?: MachineFactory): Promise<Lab> {
    return new Lab(await Session.create(factory));
  }

  /** Execute statements; Results include errors (nothing throws on bad input). */
  run(source: string, options?: ExecuteOptions): Result[] {
    return this.session.execute(source, options);
  }

  /** The results as terminal text. */
  text(source: string, options?: ExecuteOptions): string {
    return renderAllText(this.run(source, options));
  }

  /** The machines by VM name, for direct TypeScript use. */
  get machines(): ReadonlyMap<string, Machine> {
    return new Map([...this.session.vms].map(([k, v]) => [k, v.machine]));
  }

  /** The current VM's machine. */
  get machine(): Machine | undefined {
    return this.session.current?.machine;
  }
}

export { Session, defaultFactory } from "./session.js";
export type { ExecuteOptions, MachineFactory, VmEntry, LoadedTrace, LabSettings } from "./session.js";
export * from "./results.js";
export { renderText, renderAllText, renderTable } from "./render/text.js";
export { renderHtml, renderReport, escapeHtml } from "./render/html.js";
export { renderReportPage } from "./render/report.js";
export { renderJson } from "./render/json.js";
export { complete, inspect, isComplete } from "./complete.js";
export { parse } from "../grammar/parse.js";
export type { Program, Statement, Expr, Pos } from "../grammar/ast.js";
