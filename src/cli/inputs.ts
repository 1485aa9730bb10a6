/**
 * The client commands' option values checked before any request is sent: files to read
 * (`--cert`, `--key`, a profile), the `--out` folder, a SCEP `--url`, a number of seconds. Each
 * mistake is an Error whose message is the one line the CLI prints, naming the option.
 * Leaves out: what a file must contain (the command that reads it says so).
 * @module
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { decimal } from '../config.ts';
import { fileInTheWay, fsReason } from '../fs-reasons.ts';

/** The text of `path`, the value of `option` (e.g. '--cert'). */
export function readCliFile(path: string, option: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${option} ${path}: ${fsReason(err)}`);
  }
}

/** Makes the `--out` folder (before a certificate is requested, so one is never issued and then lost). */
export function makeOutFolder(dir: string, option = '--out'): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new Error(`invalid ${option} ${dir}: ${fileInTheWay(dir) ?? fsReason(err)}`);
  }
}

/** An http(s) URL. */
export function checkUrl(text: string, option = '--url'): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`invalid ${option} ${JSON.stringify(text)}: use e.g. http://127.0.0.1:8080/scep`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`invalid ${option} ${JSON.stringify(text)}: use http:// or https://`);
  return url;
}

/**
 * A whole number of seconds in [1, 604800], as milliseconds. NOTE: a week, not a day: a request
 * under `--approval manual` may wait out a weekend (and the poll interval stays at most 30 s).
 */
export function secondsOption(text: string, option: string): number {
  const n = decimal(text);
  if (!(n >= 1 && n <= 604_800)) throw new Error(`invalid ${option} ${JSON.stringify(text)}: use a whole number of seconds from 1 to 604800 (a week)`);
  return n * 1000;
}
