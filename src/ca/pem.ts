/**
 * PEM text encoding (RFC 7468 §2, "strict" writer / lax reader): base64 of DER between
 * `-----BEGIN label-----` and `-----END label-----` lines, 64 characters per line.
 * Leaves out: RFC 1421 encapsulated headers (Proc-Type, DEK-Info; encrypted PEM), and any
 * look inside the DER.
 * @module
 */

export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
}

/** RFC 7468 §2: the textual encoding of `der` with `label` (e.g. 'CERTIFICATE', 'PRIVATE KEY'). */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}${lines.length ? '\n' : ''}-----END ${label}-----\n`;
}

const BEGIN = /^-----BEGIN ([\x21-\x2c\x2e-\x7e](?:[- ]?[\x21-\x2c\x2e-\x7e])*)?-----$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Every PEM block in `text`, in order. Text outside blocks is ignored (RFC 7468 §2 explanatory
 * text); CRLF and surrounding whitespace are accepted. Throws RangeError on a block whose END
 * label does not match its BEGIN label, that never ends, or whose body is not base64.
 */
export function fromPem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  let label: string | undefined;
  let body: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (label === undefined) {
      const m = BEGIN.exec(line);
      if (m) {
        label = m[1] ?? '';
        body = [];
      }
      continue;
    }
    if (line.startsWith('-----END ')) {
      if (line !== `-----END ${label}-----`) throw new RangeError(`PEM: END line does not match BEGIN ${label}`);
      const b64 = body.join('');
      if (!BASE64.test(b64) || b64.length % 4 !== 0) throw new RangeError(`PEM: ${label} body is not base64`);
      blocks.push(Object.freeze({ label, der: new Uint8Array(Buffer.from(b64, 'base64')) }));
      label = undefined;
      continue;
    }
    body.push(line.replace(/\s+/g, ''));
  }
  if (label !== undefined) throw new RangeError(`PEM: ${label} block has no END line`);
  return blocks;
}
