/**
 * `pqscep bench load`: the HTTP load test (src/bench-load/run.ts) on the command line. Prints
 * a markdown table of each concurrency level; `--json` prints the result as JSON on stdout
 * instead, `--out FILE` writes it to a file as well. Progress goes to stderr.
 * @module
 */
import { writeFileSync } from 'node:fs';
import { runLoad } from '../bench-load/run.ts';
import { levelsTable } from '../bench-load/stats.ts';

export interface BenchLoadFlags {
  url: string; suite: string; concurrency: string; requests: string; warmup?: string; challenge?: string; pid?: string;
  label?: string; json?: boolean; out?: string; quick?: boolean;
}

const positive = (name: string, value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer, not ${JSON.stringify(value)}`);
  return n;
};

/** A progress writer: redraws one line on a terminal, prints finished steps only otherwise. */
export function progressWriter(stream: NodeJS.WriteStream = process.stderr): (line: string, final: boolean) => void {
  return (line, final) => {
    if (stream.isTTY) stream.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
    else if (final) stream.write(`${line}\n`);
  };
}

export async function benchLoadCommand(flags: BenchLoadFlags): Promise<void> {
  const concurrency = (flags.quick ? '1,2' : flags.concurrency).split(',').map((c) => positive('--concurrency', c.trim()));
  const result = await runLoad({
    url: flags.url, suite: flags.suite, concurrency, requests: flags.quick ? 4 : positive('--requests', flags.requests),
    warmup: flags.quick ? 1 : flags.warmup === undefined ? undefined : positive('--warmup', flags.warmup),
    challenge: flags.challenge, pid: flags.pid === undefined ? undefined : positive('--pid', flags.pid), label: flags.label,
    progress: progressWriter(),
  });
  const json = `${JSON.stringify(result, null, 2)}\n`;
  if (flags.out) writeFileSync(flags.out, json);
  process.stdout.write(flags.json ? json : `${result.label}, suite ${result.suite} (${result.keyType}), ${result.method}:\n\n${levelsTable(result.levels)}\n`);
}
