/**
 * File-system mistakes in words, for the one-line errors of the CLI and of `serve`: an errno
 * code as a reason, and the file that stands where a folder should be made (cli/inputs.ts
 * `--out`, server.ts `--data`).
 * Leaves out: the message around them (each caller names its option or setting).
 * @module
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Why a path cannot be read or made, from the errno code, in words. */
const REASONS: Readonly<Record<string, string>> = Object.freeze({
  ENOENT: 'no such file',
  EISDIR: 'it is a folder',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTDIR: 'a part of the path is a file, not a folder',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
});

/** `err` (a failed fs call) in words: its errno code's reason, else its first line. */
export const fsReason = (err: unknown): string => REASONS[(err as NodeJS.ErrnoException).code ?? ''] ?? (err as Error).message.split('\n')[0];

/** After making folder `dir` failed: `<path> is a file, not a folder` for the nearest existing part of it that is a file, else undefined. */
export function fileInTheWay(dir: string): string | undefined {
  let p = resolve(dir);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return existsSync(p) && !statSync(p).isDirectory() ? `${p} is a file, not a folder` : undefined;
}
