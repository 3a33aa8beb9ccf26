/**
 * `npm run bench -- epmd`: registrations/s and lookups/s against our daemon and
 * Erlang's epmd, each in its own OS process, driven by the same Node client in one
 * run. Both daemons answer one request per connection, so the figures include a TCP
 * connect and close per operation, as every real epmd client pays.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { names, portPlease, register } from '../../epmd/index.js';
import { emit, emitRatio, hasBinary, note } from './report.js';
import { freePort } from './ports.js';

const CONCURRENCY = 16;
const DURATION_MS = Number(process.env['BENCH_MS'] ?? 3000);

export async function benchEpmd(): Promise<void> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const ours = await startDaemon(process.execPath, [path.join(here, '..', 'epmd.js')], 'beamq');
  const results = new Map<string, { reg: number; lookup: number }>();
  try {
    results.set('beamq', await measure('beamq', ours.port));
  } finally {
    ours.proc.kill('SIGKILL');
  }
  if (hasBinary('epmd')) {
    const real = await startDaemon('epmd', ['-address', '127.0.0.1'], 'erlang');
    try {
      results.set('erlang', await measure('erlang', real.port));
    } finally {
      real.proc.kill('SIGKILL');
    }
  } else note("Erlang's epmd is not installed (apt-get install erlang-base): reference skipped");
  const a = results.get('beamq');
  const b = results.get('erlang');
  emitRatio('epmd', 'registrations_per_s', a?.reg, b?.reg, 'erlang');
  emitRatio('epmd', 'lookups_per_s', a?.lookup, b?.lookup, 'erlang');
}

async function measure(impl: string, port: number): Promise<{ reg: number; lookup: number }> {
  // Registrations: register a fresh name, then unregister by closing.
  let seq = 0;
  const reg = await rate(async () => {
    const r = await register(`bench${seq++}`, 40000 + (seq % 20000), { port });
    await r.close();
  });
  emit({ bench: 'epmd', figure: 'registrations_per_s', impl, value: reg, unit: 'ops/s', concurrency: CONCURRENCY });
  // Lookups of a name that is registered.
  const held = await register('target', 45000, { port });
  const lookup = await rate(async () => {
    const r = await portPlease('target', { port });
    if (r === 'noport') throw new Error('target not found');
  });
  await held.close();
  emit({ bench: 'epmd', figure: 'lookups_per_s', impl, value: lookup, unit: 'ops/s', concurrency: CONCURRENCY });
  return { reg, lookup };
}

/** Run `op` from CONCURRENCY loops for DURATION_MS; operations per second. */
async function rate(op: () => Promise<void>): Promise<number> {
  const until = Date.now() + DURATION_MS;
  let n = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < until) {
        await op();
        n++;
      }
    }),
  );
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  return n / s;
}

async function startDaemon(cmd: string, args: string[], impl: string): Promise<{ proc: ChildProcess; port: number }> {
  const port = await freePort();
  const proc = spawn(cmd, [...args, '-port', String(port)], {
    stdio: 'ignore',
    env: { ...process.env, BEAMQ_LOG_LEVEL: 'error' },
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await names({ port, timeoutMs: 500 });
      return { proc, port };
    } catch (err) {
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`${impl} epmd did not start on ${port}: ${String(err)}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
