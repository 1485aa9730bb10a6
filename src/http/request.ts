/**
 * RFC 8894 §4.1 transport decoding: the `operation` and `message` query parameters of a GET
 * and the binary body of a POST, with a size cap. GET messages are base64 (§4.3) and clients
 * are sloppy with URL-escaping: an unescaped `+` arrives as a space, some use the URL-safe
 * alphabet, some wrap lines. All of that is tolerated; anything else that is not base64 is a
 * 400. Knows nothing about CMS.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { ProtocolError } from '../scep/errors.ts';

/** Reads one query parameter from the raw query string, without the `+`-to-space rewrite. */
export function queryParam(rawQuery: string, name: string): string | undefined {
  for (const pair of rawQuery.split('&')) {
    const eq = pair.indexOf('=');
    const key = eq === -1 ? pair : pair.slice(0, eq);
    if (safeDecode(key) !== name) continue;
    return eq === -1 ? '' : safeDecode(pair.slice(eq + 1));
  }
  return undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ProtocolError(400, 'malformed percent-encoding in the query string');
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decodes a GET `message` (RFC 8894 §4.3: base64 of the DER pkiMessage), strictly but tolerantly. */
export function decodeBase64Message(text: string): Uint8Array {
  const normalised = text
    .replace(/[\r\n\t]/g, '')
    .replace(/ /g, '+') // an unescaped '+' decoded as a space
    .replace(/-/g, '+')
    .replace(/_/g, '/');
  const padded = normalised.length % 4 === 0 ? normalised : normalised + '='.repeat(4 - (normalised.length % 4));
  if (!normalised || !BASE64.test(padded) || padded.length % 4 !== 0) throw new ProtocolError(400, 'message is not valid base64');
  return new Uint8Array(Buffer.from(padded, 'base64'));
}

/** Reads a POST body up to `limit` bytes; larger bodies are refused with 413 before buffering them. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new ProtocolError(413, `body of ${declared} bytes exceeds the ${limit}-byte limit`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ProtocolError(413, `body exceeds the ${limit}-byte limit`);
    chunks.push(chunk);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/**
 * A POST body is binary DER (RFC 8894 §4.3). Some old clients POST base64 instead: DER starts
 * with a SEQUENCE tag (0x30), base64 of one starts with 'M'.
 */
export function postedMessage(body: Uint8Array): Uint8Array {
  if (body.length > 0 && body[0] !== 0x30 && body[0] === 0x4d) return decodeBase64Message(Buffer.from(body).toString('latin1').trim());
  return body;
}
