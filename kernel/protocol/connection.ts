// The connection file Jupyter hands a kernel: where to bind its five sockets and how to sign.

import { readFileSync } from "node:fs";

export interface ConnectionInfo {
  transport: "tcp" | "ipc";
  ip: string;
  key: string;
  signature_scheme: string;
  shell_port: number;
  control_port: number;
  stdin_port: number;
  iopub_port: number;
  hb_port: number;
}

export type Channel = "shell" | "control" | "stdin" | "iopub" | "hb";

export function readConnectionFile(path: string): ConnectionInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`cannot read connection file ${path}: ${(e as Error).message}`);
  }
  const c = raw as Partial<ConnectionInfo>;
  for (const k of ["shell_port", "control_port", "stdin_port", "iopub_port", "hb_port"] as const) {
    if (typeof c[k] !== "number") throw new Error(`connection file ${path}: ${k} missing or not a number`);
  }
  if (typeof c.ip !== "string") throw new Error(`connection file ${path}: ip missing`);
  return {
    transport: c.transport === "ipc" ? "ipc" : "tcp",
    ip: c.ip,
    key: typeof c.key === "string" ? c.key : "",
    signature_scheme: c.signature_scheme ?? "hmac-sha256",
    shell_port: c.shell_port!,
    control_port: c.control_port!,
    stdin_port: c.stdin_port!,
    iopub_port: c.iopub_port!,
    hb_port: c.hb_port!,
  };
}

/** The address a channel binds to: tcp://ip:port, or ipc://ip-port for the ipc transport. */
export function channelAddress(c: ConnectionInfo, channel: Channel): string {
  const port = c[`${channel === "hb" ? "hb" : channel}_port` as keyof ConnectionInfo] as number;
  return c.transport === "ipc" ? `ipc://${c.ip}-${port}` : `tcp://${c.ip}:${port}`;
}
