// Types of scripts/bundle-sources.js (plain JavaScript: bin/pqscep.js and scripts/build.js run before any TypeScript loader).
export declare const MANIFEST: string;
export declare function sourceListing(root: string): string[];
export declare function bundleEntry(name: string, st: { size: number; mtimeMs: number }): string;
export declare function writeManifest(root: string, outdir: string, listing: readonly string[], bundle: readonly string[]): void;
export declare function bundleIsFresh(root: string, outdir?: string): boolean;
