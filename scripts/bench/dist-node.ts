/**
 * One beamq node of `npm run bench -- dist`, in its own OS process (run by dist.ts).
 *   serve <name> <cookie> <epmdPort>                    node B: echo, sink and a directory of their pids; prints `ready`
 *   client <figure> <name> <peer> <cookie> <epmdPort>   node A: measures one figure against B, prints `figure value` lines, exits
 * The BEAM counterpart is erl/dist_bench.erl; both measure the same way.
 */
import { connectNode, startNode, type Ctx, type LocalNode, type Pid } from '../../runtime/index.js';

// Keep these in step with erl/dist_bench.erl.
const RTT_WARMUP = 2_000;
const RTT_SAMPLES = 20_000;
const STREAM_N = 1_000_000;
/** Messages the streaming sender sends per turn before it lets others run (as a BEAM process is preempted). */
const STREAM_CHUNK = 100;

// --- node B ---------------------------------------------------------------------

async function serve(name: string, cookie: string, epmdPort: number): Promise<void> {
  const node = await startNode({ name, cookie, epmdPort, keepAlive: true, handleSignals: true });
  const echo = node.spawn({ handle: (m: unknown, ctx: Ctx) => ctx.send((m as [Pid, unknown])[0], (m as [Pid, unknown])[1]) });
  let left = 0;
  let replyTo: Pid | undefined;
  const sink = node.spawn({
    handle: (m: unknown, ctx: Ctx) => {
      const t = m as [string, number, Pid?];
      if (t[0] === 'msg') {
        if (--left === 0 && replyTo !== undefined) ctx.send(replyTo, 'done');
      } else if (t[0] === 'start') {
        left = t[1];
        replyTo = t[2];
      }
    },
  });
  node.spawn({ handle: (m: unknown, ctx: Ctx) => ctx.send((m as [string, Pid])[1], ['pids', echo, sink]) }, { name: 'bench' });
  process.stdout.write('ready\n');
}

// --- node A ---------------------------------------------------------------------

/** The echo and sink pids on `peer`, from its directory process (connects on demand). */
function pids(node: LocalNode, peer: string): Promise<[Pid, Pid]> {
  return new Promise((resolve) => {
    node.spawn({
      init: (ctx: Ctx) => ctx.send(['bench', peer], ['pids', ctx.self]),
      handle: (m: unknown, ctx: Ctx) => {
        const [, echo, sink] = m as [string, Pid, Pid];
        resolve([echo, sink]);
        ctx.stop();
      },
    });
  });
}

async function firstConnect(node: LocalNode, peer: string): Promise<void> {
  const t0 = performance.now();
  const ok = await node.run(() => connectNode(peer));
  const t1 = performance.now();
  if (!ok) throw new Error(`could not connect to ${peer}`);
  out('first_connect_ms', t1 - t0);
}

/** `n` round trips of `[self, i]` → `i`, one at a time; the samples in microseconds. */
function roundTrips(node: LocalNode, echo: Pid, n: number): Promise<Float64Array> {
  const samples = new Float64Array(n);
  return new Promise((resolve) => {
    let i = 0;
    let t0 = 0;
    node.spawn({
      init: (ctx: Ctx) => {
        t0 = performance.now();
        ctx.send(echo, [ctx.self, i]);
      },
      handle: (_m: unknown, ctx: Ctx) => {
        samples[i] = (performance.now() - t0) * 1000;
        if (++i === n) {
          ctx.stop();
          return resolve(samples);
        }
        t0 = performance.now();
        ctx.send(echo, [ctx.self, i]);
      },
    });
  });
}

/** Nearest-rank percentile of sorted samples (the same rule as dist_bench.erl). */
function rank(sorted: Float64Array, p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

async function rtt(node: LocalNode, peer: string): Promise<void> {
  const [echo] = await pids(node, peer);
  await roundTrips(node, echo, RTT_WARMUP);
  const s = (await roundTrips(node, echo, RTT_SAMPLES)).sort();
  out('rtt_median_us', rank(s, 0.5));
  out('rtt_p99_us', rank(s, 0.99));
}

async function stream(node: LocalNode, peer: string): Promise<void> {
  const [, sink] = await pids(node, peer);
  let t0 = 0;
  const t1 = await new Promise<number>((resolve) => {
    const waiter = node.spawn({ handle: () => resolve(performance.now()) });
    let sent = 0;
    const sender = node.spawn({
      handle: (_m: unknown, ctx: Ctx) => {
        const end = Math.min(STREAM_N, sent + STREAM_CHUNK);
        for (; sent < end; sent++) ctx.send(sink, ['msg', sent]);
        if (sent < STREAM_N) ctx.send(ctx.self, 'more');
      },
    });
    t0 = performance.now();
    node.send(sink, ['start', STREAM_N, waiter]);
    node.send(sender, 'go');
  });
  out('stream_msgs_per_s', STREAM_N / ((t1 - t0) / 1000));
}

const FIGURES: Record<string, (node: LocalNode, peer: string) => Promise<void>> = { connect: firstConnect, rtt, stream };

async function client(figure: string, name: string, peer: string, cookie: string, epmdPort: number): Promise<void> {
  const f = FIGURES[figure];
  if (f === undefined) throw new Error(`unknown figure '${figure}'; known: ${Object.keys(FIGURES).join(', ')}`);
  const node = await startNode({ name, cookie, epmdPort });
  await f(node, peer);
  await node.stop();
}

function out(figure: string, value: number): void {
  process.stdout.write(`${figure} ${value}\n`);
}

const [role, ...args] = process.argv.slice(2);
if (role === 'serve' && args.length === 3) await serve(args[0]!, args[1]!, Number(args[2]));
else if (role === 'client' && args.length === 5) {
  await client(args[0]!, args[1]!, args[2]!, args[3]!, Number(args[4]));
  process.exit(0);
} else {
  process.stderr.write('usage: dist-node serve <name> <cookie> <epmdPort> | client <connect|rtt|stream> <name> <peer> <cookie> <epmdPort>\n');
  process.exit(2);
}
