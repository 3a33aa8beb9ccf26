/**
 * One load thread of the connect-and-subscribe storm (a worker_thread of the load
 * process, driven by mqtt-conns.ts). A single thread was the storm's bottleneck: it
 * ran at a full core while mosquitto and the floor server still had CPU to spare, so
 * the storm is shared by several threads, each with its own event loop and its own
 * part of the clients. The thread keeps the clients of its last round until told to
 * close them.
 */
import { parentPort } from 'node:worker_threads';
import { BenchClient } from './mqtt-client.js';
import { sleep } from './mqtt-common.js';
import { startFloor } from './mqtt-floor.js';

export type StormCmd =
  /** Warm this thread's client code: `n` clients against a floor server of its own. */
  | { readonly t: 'warm'; readonly n: number; readonly concurrency: number; readonly stallMs: number }
  /** Clients `from` … `to - 1` connect and subscribe, `concurrency` at a time. */
  | {
      readonly t: 'round';
      readonly port: number;
      readonly idPrefix: string;
      readonly tag: string;
      readonly from: number;
      readonly to: number;
      readonly concurrency: number;
      readonly stallMs: number;
    }
  | { readonly t: 'close' };

/** What a round saw: lost = failed + refused + lostConns; dup = CONNACKs and SUBACKs beyond one each. */
export interface StormTally {
  readonly failed: number;
  readonly refused: number;
  readonly lostConns: number;
  readonly dup: number;
  readonly firstError: string | undefined;
}

export type StormReply = { readonly t: 'warmed' } | ({ readonly t: 'round' } & StormTally) | { readonly t: 'closed' } | { readonly t: 'failed'; readonly error: string };

let clients: BenchClient[] = [];

/** Clients `from` … `to - 1` connect and subscribe `t/mqttx/+/<tag><i>/sub/+/#`. */
async function round(port: number, idPrefix: string, tag: string, from: number, to: number, concurrency: number, stallMs: number): Promise<StormTally> {
  const r = { failed: 0, refused: 0, lostConns: 0, firstError: undefined as string | undefined };
  const mine: BenchClient[] = [];
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) {
      const i = next++;
      let c: BenchClient;
      try {
        c = await BenchClient.connect({ port, clientId: `${idPrefix}${i}`, keepaliveS: 60, onLost: () => r.lostConns++ });
      } catch (err) {
        // A refused or dropped connection is a lost one; the storm goes on.
        r.failed++;
        r.firstError ??= err instanceof Error ? err.message : String(err);
        continue;
      }
      mine.push(c);
      const granted = await Promise.race([c.subscribe(`t/mqttx/+/${tag}${i}/sub/+/#`, 1), sleep(stallMs).then(() => [0x80])]);
      if (granted.length !== 1 || granted[0]! >= 0x80) r.refused++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(to - from, concurrency) }, worker));
  clients = mine;
  // Exactly one CONNACK and one SUBACK each (the client's per-type packet counts).
  let dup = 0;
  for (const c of mine) dup += Math.max(0, c.received[2]! - 1) + Math.max(0, c.received[9]! - 1);
  return { ...r, dup };
}

function closeAll(): void {
  for (const c of clients) c.close();
  clients = [];
}

async function warm(n: number, concurrency: number, stallMs: number): Promise<void> {
  const floor = await startFloor();
  try {
    const r = await round(floor.port, 'load-warm-', 'lw', 0, n, concurrency, stallMs);
    closeAll();
    if (r.failed + r.refused + r.lostConns > 0) throw new Error(`load warm-up: ${r.firstError ?? 'a client was refused or lost'}`);
  } finally {
    await floor.stop();
  }
}

async function handle(cmd: StormCmd): Promise<StormReply> {
  switch (cmd.t) {
    case 'warm':
      await warm(cmd.n, cmd.concurrency, cmd.stallMs);
      return { t: 'warmed' };
    case 'round':
      return { t: 'round', ...(await round(cmd.port, cmd.idPrefix, cmd.tag, cmd.from, cmd.to, cmd.concurrency, cmd.stallMs)) };
    case 'close':
      closeAll();
      return { t: 'closed' };
  }
}

parentPort?.on('message', (cmd: StormCmd) => {
  handle(cmd).then(
    (reply) => parentPort!.postMessage(reply),
    (err: unknown) => parentPort!.postMessage({ t: 'failed', error: err instanceof Error ? err.message : String(err) } satisfies StormReply),
  );
});
