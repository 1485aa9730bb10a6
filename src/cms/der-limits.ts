/**
 * A cheap look at BER/DER (X.690 §8.1) before asn1js parses it, for the two shapes whose parse
 * cost is out of all proportion to their size (asn1js already caps nesting depth at 100 and the
 * node count at 10,000):
 * - OBJECT IDENTIFIER and RELATIVE-OID contents (X.690 §8.19-8.20): asn1js builds an object per
 *   sub-identifier, about 330 bytes of heap and 0.7 µs per content byte, so one 1 MB OID (within
 *   the default message limit) took 330 MB and 0.7 s, and a few at once could exhaust the heap.
 *   Real OIDs are a few dozen bytes and a pkiMessage holds a few hundred: the sum of all OID
 *   contents is capped at MAX_OID_BYTES.
 * - BOOLEAN contents (X.690 §8.2.1: one octet): asn1js (pvutils utilDecodeTC) copies the whole
 *   content once per content byte, so a 100 KB BOOLEAN blocked the event loop for 8-10 s. The sum
 *   of squared BOOLEAN lengths is capped at MAX_BOOLEAN_COST (a lone BOOLEAN up to 4 KB passes,
 *   so random bytes read as embedded BER are not refused for what real parsers tolerate).
 *
 * The walk mirrors what asn1js parses, and only that: the first element of the input (fromBER
 * reads one), constructed contents (definite and indefinite length), and the first element of
 * the contents of each primitive OCTET STRING and BIT STRING (asn1js tries them as embedded BER,
 * on their contents alone) and of each primitive non-universal element (asn1-schema decodes an
 * [n] IMPLICIT OCTET STRING again as an OCTET STRING); tags and lengths as long as asn1js takes
 * them, and UNIVERSAL 0 as the end-of-contents asn1js makes of it (no contents consumed);
 * including elements that overrun their parent but fit the buffer being parsed (asn1js reads
 * those before it notices): the whole input, or the string's contents. Walking more than asn1js reads would refuse valid messages: the random bytes of a
 * signature or ciphertext, walked element after element, eventually look like a long BOOLEAN
 * (one ML-DSA-65 PKCSReq in about a thousand was refused so). It allocates nothing and visits a
 * bounded number of elements (linear in the input); malformed input simply ends the walk (the
 * parser will say what is wrong).
 * Leaves out: validating anything; that is the parser's job.
 * @module
 */

/** Largest total of OBJECT IDENTIFIER content octets in one structure (a pkiMessage needs a few KB). */
export const MAX_OID_BYTES = 32 * 1024;
/** Largest sum of squared BOOLEAN content lengths (byte copies asn1js makes decoding them). */
export const MAX_BOOLEAN_COST = 4096 * 4096;
const MAX_DEPTH = 128;

class OverBudget extends Error {}

interface Walk {
  readonly der: Uint8Array;
  oidBytes: number;
  booleanCost: number;
  /** Elements visited, against a budget linear in the input (overrunning lengths make ranges overlap). */
  steps: number;
  readonly maxSteps: number;
}

/** A one-line reason if parsing `der` would cost far more than its size, else undefined. */
export function derCostProblem(der: Uint8Array): string | undefined {
  const w: Walk = { der, oidBytes: 0, booleanCost: 0, steps: 0, maxSteps: 4 * der.length + 1024 };
  try {
    walk(w, 0, der.length, 0, false, der.length, true);
  } catch (err) {
    if (err instanceof OverBudget) return err.message;
    throw err;
  }
  return undefined;
}

/**
 * Walks the elements in [start, end) (only the first when `firstOnly`); returns where they end
 * (after the EOC when `untilEoc`), or -1 if malformed. `limit` is the end of the buffer asn1js
 * is parsing: elements may overrun their parent up to there.
 */
function walk(w: Walk, start: number, end: number, depth: number, untilEoc: boolean, limit: number, firstOnly = false): number {
  const der = w.der;
  let at = start;
  while (at < end) {
    if (untilEoc && der[at] === 0 && der[at + 1] === 0) return at + 2;
    if (++w.steps > w.maxSteps) throw new OverBudget('BER element lengths overlap beyond any real encoding');
    const first = der[at++];
    let tag = first & 0x1f;
    if (tag === 0x1f) {
      // asn1js reads tag numbers of any length (long ones as bytes); only small ones matter here.
      tag = 0;
      for (let i = 0; ; i++) {
        if (at >= end) return -1;
        const b = der[at++];
        tag = i < 4 && tag >= 0 ? tag * 128 + (b & 0x7f) : -1;
        if (i >= 4 && ++w.steps > w.maxSteps) throw new OverBudget('BER tag numbers longer than any real encoding');
        if (!(b & 0x80)) break;
      }
    }
    if (at >= end) return -1;
    const constructed = (first & 0x20) !== 0;
    const universal = (first & 0xc0) === 0;
    let len = der[at++];
    if (len === 0x80) {
      if (!constructed || depth >= MAX_DEPTH) return -1;
      at = walk(w, at, end, depth + 1, true, limit);
      if (at < 0) return -1;
      if (firstOnly) return at;
      continue;
    }
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n > 8 || at + n > end) return -1; // asn1js takes up to 8 length octets
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + der[at++];
    }
    const body = at;
    if (universal && tag === 0) {
      // asn1js reads UNIVERSAL 0 as end-of-contents whatever its length says: it consumes no
      // contents, so what follows the length octets is the next element (X.690 §8.1.5).
      if (constructed && len > 0) return -1;
      if (firstOnly) return body;
      at = body;
      continue;
    }
    at = body + len;
    // asn1js reads an element that overruns its parent as long as the buffer it parses holds it
    // (and only then reports the inconsistency), so the bound here is that buffer, not the parent.
    if (at > limit) return -1;
    if (constructed) {
      if (depth >= MAX_DEPTH || walk(w, body, at, depth + 1, false, limit) < 0) return -1;
    } else if (universal && (tag === 6 || tag === 13)) {
      w.oidBytes += len;
      if (w.oidBytes > MAX_OID_BYTES) throw new OverBudget(`OBJECT IDENTIFIER contents exceed ${MAX_OID_BYTES} bytes in total`);
    } else if (universal && tag === 1) {
      w.booleanCost += len * len;
      if (w.booleanCost > MAX_BOOLEAN_COST) throw new OverBudget(`BOOLEAN of ${len} bytes (X.690 §8.2.1: one octet)`);
    } else if (universal && tag === 4 && depth < MAX_DEPTH) {
      walk(w, body, at, depth + 1, false, at, true); // embedded BER, if it is any
    } else if (universal && tag === 3 && len > 1 && der[body] === 0 && depth < MAX_DEPTH) {
      walk(w, body + 1, at, depth + 1, false, at, true);
    } else if (!universal && depth < MAX_DEPTH) {
      // An [n] IMPLICIT OCTET STRING (a SignerIdentifier's subjectKeyIdentifier, encryptedContent):
      // asn1-schema decodes it again as an OCTET STRING, and asn1js then tries its contents too.
      walk(w, body, at, depth + 1, false, at, true);
    }
    if (firstOnly) return at;
  }
  return untilEoc ? -1 : at;
}
