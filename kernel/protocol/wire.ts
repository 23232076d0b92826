// The Jupyter wire format (messaging protocol 5.3): routing identities, the "<IDS|MSG>"
// delimiter, an HMAC signature over the four JSON parts, then the parts and any buffers.
// Signatures are checked in constant time; a frame that is malformed or badly signed is
// rejected with a reason (the server logs and drops it; nothing in it runs).

import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";

export const DELIMITER = "<IDS|MSG>";
export const PROTOCOL_VERSION = "5.3";

export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
  [extra: string]: unknown;
}

/**
 * A decoded message. `content` is whatever JSON the sender signed (undefined if it is not JSON):
 * the handlers check its fields, so a signed request with bad content is answered with an error.
 */
export interface Message<C = unknown> {
  identities: Buffer[];
  header: Header;
  parent_header: Partial<Header>;
  metadata: Record<string, unknown>;
  content: C;
  buffers: Buffer[];
}

/** Signs and verifies message parts per the connection file's key and signature_scheme. */
export class Signer {
  private readonly algorithm: string | null;

  constructor(
    private readonly key: string,
    scheme = "hmac-sha256",
  ) {
    if (!key) {
      this.algorithm = null; // an empty key means messages are not signed
      return;
    }
    const m = /^hmac-(.+)$/.exec(scheme);
    if (!m) throw new Error(`unsupported signature_scheme "${scheme}" (expected hmac-<digest>)`);
    this.algorithm = m[1]!;
    createHmac(this.algorithm, key); // throws now, at start-up, if the digest is unknown
  }

  sign(parts: readonly Buffer[]): string {
    if (!this.algorithm) return "";
    const h = createHmac(this.algorithm, this.key);
    for (const p of parts) h.update(p);
    return h.digest("hex");
  }

  verify(signature: string, parts: readonly Buffer[]): boolean {
    if (!this.algorithm) return true;
    const expected = Buffer.from(this.sign(parts), "utf8");
    const got = Buffer.from(signature, "utf8");
    return got.length === expected.length && timingSafeEqual(got, expected);
  }
}

export class WireError extends Error {
  override name = "WireError";
}

function parseJsonPart(part: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(part.toString("utf8"));
  } catch {
    throw new WireError(`${what} is not JSON`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new WireError(`${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Any JSON value, or undefined when the part is not JSON. */
function parseJsonValue(part: Buffer): unknown {
  try {
    return JSON.parse(part.toString("utf8"));
  } catch {
    return undefined;
  }
}

/** Frames → Message; throws WireError on a malformed frame or a bad signature. */
export function decode(frames: readonly Buffer[], signer: Signer): Message {
  const d = frames.findIndex((f) => f.length === DELIMITER.length && f.toString("utf8") === DELIMITER);
  if (d < 0) throw new WireError("no <IDS|MSG> delimiter");
  if (frames.length < d + 6) throw new WireError(`expected 5 parts after the delimiter, got ${frames.length - d - 1}`);
  const signature = frames[d + 1]!.toString("utf8");
  const parts = frames.slice(d + 2, d + 6);
  if (!signer.verify(signature, parts)) throw new WireError("bad signature");
  const header = parseJsonPart(parts[0]!, "header");
  if (typeof header.msg_type !== "string" || typeof header.msg_id !== "string") {
    throw new WireError("header lacks msg_type or msg_id");
  }
  return {
    identities: frames.slice(0, d),
    header: header as unknown as Header,
    parent_header: parseJsonPart(parts[1]!, "parent_header") as Partial<Header>,
    metadata: parseJsonPart(parts[2]!, "metadata"),
    content: parseJsonValue(parts[3]!),
    buffers: frames.slice(d + 6),
  };
}

/** Message → frames, signed. */
export function encode(
  identities: readonly Buffer[],
  header: Header,
  parent: Partial<Header>,
  metadata: Record<string, unknown>,
  content: unknown,
  signer: Signer,
): Buffer[] {
  const parts = [header, parent, metadata, content].map((p) => Buffer.from(JSON.stringify(p), "utf8"));
  return [...identities, Buffer.from(DELIMITER), Buffer.from(signer.sign(parts)), ...parts];
}

export function newHeader(msgType: string, session: string): Header {
  return {
    msg_id: randomUUID(),
    session,
    username: "exitlab",
    date: new Date().toISOString(),
    msg_type: msgType,
    version: PROTOCOL_VERSION,
  };
}
