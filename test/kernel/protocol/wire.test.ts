import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DELIMITER, Signer, WireError, decode, encode, newHeader } from "../../../kernel/protocol/wire.js";

const header = newHeader("execute_request", "s1");

describe("Jupyter wire format", () => {
  it("signs the four JSON parts with HMAC of the named digest (independent check with node:crypto)", () => {
    for (const scheme of ["hmac-sha256", "hmac-sha512", "hmac-sha1"]) {
      const signer = new Signer("secret", scheme);
      const frames = encode([Buffer.from("id1")], header, {}, {}, { code: "run" }, signer);
      expect(frames[0]!.toString()).toBe("id1");
      expect(frames[1]!.toString()).toBe(DELIMITER);
      const h = createHmac(scheme.slice(5), "secret");
      for (const p of frames.slice(3, 7)) h.update(p);
      expect(frames[2]!.toString()).toBe(h.digest("hex"));
      const m = decode(frames, signer);
      expect(m.identities.map(String)).toEqual(["id1"]);
      expect(m.content).toEqual({ code: "run" });
      expect(m.header.msg_type).toBe("execute_request");
    }
  });

  it("rejects a bad signature, a tampered part and a signature with another key", () => {
    const signer = new Signer("secret");
    const frames = encode([], header, {}, {}, { code: "run" }, signer);
    const bad = [...frames];
    bad[1] = Buffer.from("0".repeat(64));
    expect(() => decode(bad, signer)).toThrow(/bad signature/);
    const tampered = [...frames];
    tampered[5] = Buffer.from('{"code":"evil"}');
    expect(() => decode(tampered, signer)).toThrow(WireError);
    expect(() => decode(frames, new Signer("other"))).toThrow(/bad signature/);
  });

  it("an empty key means unsigned", () => {
    const signer = new Signer("");
    const frames = encode([], header, {}, {}, {}, signer);
    expect(frames[1]!.toString()).toBe("");
    expect(decode(frames, signer).header.msg_id).toBe(header.msg_id);
  });

  it("rejects malformed frames with a reason", () => {
    const s = new Signer("");
    expect(() => decode([Buffer.from("x")], s)).toThrow(/delimiter/);
    expect(() => decode([Buffer.from(DELIMITER), Buffer.from("")], s)).toThrow(/5 parts/);
    const notJson = [Buffer.from(DELIMITER), Buffer.from(""), Buffer.from("{"), Buffer.from("{}"), Buffer.from("{}"), Buffer.from("{}")];
    expect(() => decode(notJson, s)).toThrow(/header is not JSON/);
    const noType = [Buffer.from(DELIMITER), Buffer.from(""), Buffer.from("{}"), Buffer.from("{}"), Buffer.from("{}"), Buffer.from("{}")];
    expect(() => decode(noType, s)).toThrow(/msg_type/);
  });

  it("refuses an unknown signature scheme at start-up", () => {
    expect(() => new Signer("k", "rsa-sha256")).toThrow(/signature_scheme/);
    expect(() => new Signer("k", "hmac-nosuchdigest")).toThrow();
  });
});
