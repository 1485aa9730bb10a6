/**
 * Small glue over @peculiar/asn1-schema and asn1js shared by the CMS code: typed parse with a
 * uniform error, in two steps when one asn1js tree is read more than once (parseTree, then
 * fromTree on it or on its parts: a structure is decoded by asn1js once, X.690 §8.1), DER
 * serialisation to Uint8Array, OCTET STRING contents from BER (constructed, indefinite-length)
 * encodings, byte comparison. No parsing logic of its own; input whose parse would cost far more
 * than its size is refused first (der-limits.ts).
 * @module
 */
import { AsnConvert, AsnParser, OctetString } from '@peculiar/asn1-schema';
import * as asn1js from 'asn1js';
import { derCostProblem } from './der-limits.ts';
import { CmsError } from './errors.ts';

type Ctor<T> = new () => T;

/** A node of a tree asn1js built (`fromBER(...).result`). */
export type Tree = asn1js.AsnType;

/**
 * Trees asn1js already built for bytes that are the contents of a primitive OCTET STRING in a
 * structure parsed (and cost-checked) before: asn1js parses every such content as embedded BER
 * (signed-data.ts notes the pkcsPKIEnvelope inside a pkiMessage's eContent this way), or that are
 * an ANY decoded out of such a tree (enveloped-data.ts notes each KEMRecipientInfo, the oriValue
 * of its RecipientInfo). Keyed by the byte array object handed out, so parseTree of exactly those
 * bytes is free.
 */
const embedded = new WeakMap<Uint8Array | ArrayBuffer, Tree>();

/**
 * Notes that `bytes` (content of an OCTET STRING in a tree parseTree returned) were parsed as
 * `tree` on the way. Only a tree that consumed all of `bytes` without error counts: that is what
 * parseTree would have built from them (asn1js parses the same bytes the same way, and the
 * enclosing parse already checked their cost and stayed within asn1js's node and depth limits).
 */
export function noteEmbedded(bytes: Uint8Array | ArrayBuffer, tree: Tree): void {
  if (tree.error || tree.blockLength !== bytes.byteLength || !equalBytes(tree.valueBeforeDecodeView, bytes)) return;
  embedded.set(bytes, tree);
}

/**
 * The asn1js tree of `der` (BER accepted: its first element, as AsnConvert.parse reads it); any
 * failure becomes CmsError('malformed', `${what}: ...`), as does input too costly to parse
 * (der-limits.ts).
 */
export function parseTree(der: ArrayBuffer | Uint8Array, what: string): Tree {
  const known = embedded.get(der);
  if (known) return known;
  const bytes = der instanceof Uint8Array ? der : new Uint8Array(der);
  const costly = derCostProblem(bytes);
  if (costly) throw new CmsError('malformed', `${what}: ${costly}`);
  let parsed: ReturnType<typeof asn1js.fromBER>;
  try {
    parsed = asn1js.fromBER(bytes);
  } catch (err) {
    throw new CmsError('malformed', `${what}: ${(err as Error).message}`); // e.g. RangeError on a BMPString of odd length
  }
  if (parsed.result.error) throw new CmsError('malformed', `${what}: ${parsed.result.error}`);
  return parsed.result;
}

/** The elements of a constructed node (none for a primitive or missing one). */
export function childrenOf(node: Tree | undefined): Tree[] {
  const value = (node as asn1js.Constructed | undefined)?.valueBlock?.value;
  return Array.isArray(value) ? value : [];
}

/** The `i`th element of a constructed node, if any. */
export const childOf = (node: Tree | undefined, i: number): Tree | undefined => childrenOf(node)[i];

/** True for a context-specific `[tag]` node. */
export const isContext = (node: Tree | undefined, tag: number): boolean => node?.idBlock.tagClass === 3 && node.idBlock.tagNumber === tag;

/** Reads `tree` (from parseTree, or a part of it) as `type`; a mismatch becomes CmsError('malformed'). */
export function fromTree<T>(tree: Tree, type: Ctor<T>, what: string): T {
  try {
    return AsnParser.fromASN(tree, type);
  } catch (err) {
    throw new CmsError('malformed', `${what}: ${(err as Error).message}`);
  }
}

/** Parses `der` (BER accepted) as `type`; any failure becomes CmsError('malformed'), as does input too costly to parse (der-limits.ts). */
export function parse<T>(der: ArrayBuffer | Uint8Array, type: Ctor<T>, what: string): T {
  return fromTree(parseTree(der, what), type, what);
}

export const serialize = (value: unknown): Uint8Array => new Uint8Array(AsnConvert.serialize(value));

/** Contents of an OCTET STRING given as its full BER encoding (primitive or constructed). */
export function octetsFromBer(encoded: ArrayBuffer | Uint8Array): Uint8Array {
  const buf = encoded instanceof Uint8Array ? encoded : new Uint8Array(encoded);
  const costly = derCostProblem(buf);
  if (costly) throw new CmsError('malformed', `OCTET STRING: ${costly}`);
  let parsed: ReturnType<typeof asn1js.fromBER>;
  try {
    parsed = asn1js.fromBER(buf);
  } catch (err) {
    // asn1js throws (RangeError) on some malformed strings, e.g. a BMPString of odd length.
    throw new CmsError('malformed', 'expected an OCTET STRING', { cause: err });
  }
  const { result, offset } = parsed;
  if (offset === -1 || !(result instanceof asn1js.OctetString)) throw new CmsError('malformed', 'expected an OCTET STRING');
  return collect(result);
}

function collect(node: asn1js.OctetString): Uint8Array {
  if (!node.idBlock.isConstructed) return new Uint8Array(node.valueBlock.valueHexView);
  const parts = node.valueBlock.value.map((p) => {
    if (!(p instanceof asn1js.OctetString)) throw new CmsError('malformed', 'constructed OCTET STRING holds a non-OCTET STRING');
    return collect(p);
  });
  return new Uint8Array(Buffer.concat(parts));
}

export const octets = (value: OctetString | ArrayBuffer): Uint8Array =>
  new Uint8Array(value instanceof OctetString ? value.buffer : value);

/** A Buffer over the same memory (Buffer.from(Uint8Array) would copy it). */
const view = (x: Uint8Array | ArrayBuffer): Buffer =>
  x instanceof Uint8Array ? Buffer.from(x.buffer, x.byteOffset, x.byteLength) : Buffer.from(x);

export const equalBytes = (a: Uint8Array | ArrayBuffer, b: Uint8Array | ArrayBuffer): boolean => view(a).equals(view(b));
