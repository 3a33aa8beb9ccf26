/**
 * Drive `scripts/node` as a user does: a child OS process with piped standard input,
 * one expression per line, each answer awaited on the next prompt.
 */
import type { ExecutionContext } from 'ava';
import { script } from './paths.js';
import { startChild, type Child } from './procs.js';

export interface Repl {
  readonly child: Child;
  /** Send one expression; resolve with what was printed before the next prompt. */
  eval(line: string, timeoutMs?: number): Promise<string>;
}

export async function startRepl(t: ExecutionContext, args: string[], env: NodeJS.ProcessEnv): Promise<Repl> {
  const child = startChild(script('node'), args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => child.kill());
  await child.waitOutput(/\)1> $/m, 'the first prompt', 15_000);
  let n = 1;
  return {
    child,
    async eval(line, timeoutMs = 15_000) {
      const start = child.output().length;
      child.proc.stdin!.write(line + '\n');
      n++;
      const m = await child.waitOutput(new RegExp(`\\)${n}> `), `the answer to ${line}`, timeoutMs);
      const all = child.output();
      const end = all.indexOf(m[0], start);
      // The text between the previous prompt and this one, minus log lines on stderr.
      return all
        .slice(start, end)
        .split('\n')
        .filter((l) => !/^\d{4}-\d\d-\d\dT/.test(l))
        .join('\n')
        .replace(/^.*?\)\d+> /, '')
        .replace(/\n?\(\S+$/, '')
        .trim();
    },
  };
}
