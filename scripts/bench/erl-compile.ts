/** The Erlang side of a bench: `scripts/bench/erl/<module>.erl` compiled with erlc into a fresh temp dir. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { note } from './report.js';

/** `here` is the compiled bench's directory (build/scripts/bench); undefined when erlc fails. */
export function compileErl(here: string, module: string): string | undefined {
  const src = path.join(here, '..', '..', '..', 'scripts', 'bench', 'erl', `${module}.erl`);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'beamq-bench-'));
  try {
    execFileSync('erlc', ['-o', out, src], { stdio: 'pipe' });
    return out;
  } catch (err) {
    note(`erlc failed: ${String(err)}`);
    return undefined;
  }
}
