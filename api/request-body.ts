import type { IncomingMessage } from "node:http";

/**
 * The raw request body, at most `max` bytes: one reader for the JSON bodies of /v1 (api/json-body.ts)
 * and the OCSP POST body (api/routes/ocsp.ts, RFC 6960 §A.1). Resolves "too-large" as soon as the body
 * is known to be larger (a declared Content-Length over `max`, or the bytes read so far), without
 * buffering the rest: the caller answers 413 (or OCSP malformedRequest) and the rest is discarded.
 */
export function readRequestBody(req: IncomingMessage, max: number): Promise<Uint8Array | "too-large"> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (declared > max) return Promise.resolve("too-large");
  if (req.readableEnded) return Promise.resolve(new Uint8Array(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        req.off("data", onData);
        req.off("end", onEnd);
        resolve("too-large");
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      const b = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      resolve(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    };
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", reject);
  });
}
