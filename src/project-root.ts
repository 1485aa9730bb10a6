/**
 * The project's folder (where profiles/ and README.md are), from this module's own URL. This
 * file sits one level below the root, as does the bundle scripts/build.js writes into dist/,
 * so the same relative URL holds whether the sources run through tsx or bundled.
 * @module
 */
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT_URL = new URL('..', import.meta.url);

/** A path inside the project folder. */
export const projectPath = (relative: string): string => fileURLToPath(new URL(relative, PROJECT_ROOT_URL));
