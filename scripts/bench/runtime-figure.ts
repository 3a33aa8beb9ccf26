/**
 * One runtime figure, measured in this fresh OS process (run by runtime.ts with
 * --expose-gc). Prints the value alone on the last line.
 */
import { genServer, startNode, type Ctx, type GenServer, type Pid } from '../../runtime/index.js';

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

async function stream(n: number): Promise<number> {
  const node = await startNode();
  let t0 = 0;
  const done = new Promise<number>((resolve) => {
    let left = n;
    const sink = node.spawn({
      handle: () => {
        if (--left === 0) resolve(performance.now());
      },
    });
    // The sender streams in slices and yields between them, as a BEAM process is preempted.
    const CHUNK = 100;
    let sent = 0;
    const sender = node.spawn({
      handle: (_m: unknown, ctx: Ctx) => {
        const end = Math.min(n, sent + CHUNK);
        for (; sent < end; sent++) ctx.send(sink, ['msg', sent]);
        if (sent < n) ctx.send(ctx.self, 'more');
      },
    });
    t0 = performance.now();
    node.send(sender, 'go');
  });
  const t1 = await done;
  await node.stop();
  return n / ((t1 - t0) / 1000);
}

async function pingpong(n: number): Promise<number> {
  const node = await startNode();
  const pong = node.spawn({ handle: (m: unknown, ctx: Ctx) => ctx.send((m as [string, Pid])[1], 'pong') });
  let t0 = 0;
  const t1 = await new Promise<number>((resolve) => {
    let left = n;
    const ping = node.spawn({
      handle: (_m: unknown, ctx: Ctx) => {
        if (--left === 0) return resolve(performance.now());
        ctx.send(pong, ['ping', ctx.self]);
      },
    });
    t0 = performance.now();
    node.send(pong, ['ping', ping]);
  });
  await node.stop();
  return n / ((t1 - t0) / 1000);
}

interface PingProtocol {
  calls: { ping: { args: []; reply: 'pong' } };
}
const pinger: GenServer<PingProtocol, number, void> = {
  init: () => genServer.ok(0),
  handleCall: (_req, _from, s) => genServer.reply('pong' as const, s + 1),
};

async function calls(n: number): Promise<number> {
  const node = await startNode();
  const server = await genServer.start(pinger, undefined);
  let t0 = 0;
  const t1 = await new Promise<number>((resolve) => {
    node.spawn(async () => {
      t0 = performance.now();
      for (let i = 0; i < n; i++) await genServer.call<PingProtocol, readonly ['ping']>(server, ['ping']);
      resolve(performance.now());
    });
  });
  await node.stop();
  return n / ((t1 - t0) / 1000);
}

const idle = { handle: (): void => undefined };

async function spawnRate(n: number): Promise<number> {
  const node = await startNode();
  const t0 = performance.now();
  const pids: Pid[] = new Array<Pid>(n);
  for (let i = 0; i < n; i++) pids[i] = node.spawn(idle);
  const t = performance.now() - t0;
  await node.stop();
  return n / (t / 1000);
}

async function memory(n: number): Promise<number> {
  const node = await startNode();
  // Let the node's own processes settle before the baseline.
  await new Promise((r) => setImmediate(r));
  gc();
  const before = process.memoryUsage().heapUsed;
  const pids: Pid[] = new Array<Pid>(n);
  for (let i = 0; i < n; i++) pids[i] = node.spawn(idle);
  // Let every process run its first step, so each is a live, waiting process.
  while (node.core.scheduler.runQueueLength > 0) await new Promise((r) => setImmediate(r));
  gc();
  const after = process.memoryUsage().heapUsed;
  if (pids.length !== n) throw new Error('lost pids');
  await node.stop();
  return (after - before) / n;
}

const which = process.argv[2];
const run: Record<string, () => Promise<number>> = {
  stream: () => stream(5_000_000),
  pingpong: () => pingpong(2_000_000),
  call: () => calls(1_000_000),
  spawn: () => spawnRate(500_000),
  mem100k: () => memory(100_000),
  mem1m: () => memory(1_000_000),
};
const f = which === undefined ? undefined : run[which];
if (f === undefined) {
  process.stderr.write(`usage: runtime-figure ${Object.keys(run).join('|')}\n`);
  process.exit(2);
}
const v = await f();
process.stdout.write(`${v}\n`);
process.exit(0);
