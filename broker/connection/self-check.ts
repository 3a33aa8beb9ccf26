/**
 * The start-up self-check: once the listeners are up, the node talks MQTT to its own
 * TCP listener over loopback before startBroker returns. Two MQTT 3.1.1 clients each
 * CONNECT and SUBSCRIBE to a `$`-topic of their own; one then leaves with DISCONNECT,
 * the other with a reset (RST), as a client that vanishes.
 *
 * Why: it proves the listener answers end to end (a failure is logged; start-up goes
 * on), and it makes a connection's first close happen now. V8 changes an object's
 * shape the first time a connection ends (a field written again after construction,
 * a first exit reason); when that first close comes after thousands of connects, every
 * function already optimized on the old shape is thrown away at once and compiled
 * again. A broker that saw a connect storm, then saw those clients leave, paid for it
 * in the next storm: about 25 functions recompiled, and its helper threads' CPU
 * doubled. After the check the shapes are settled before anything is optimized.
 *
 * It does only what the commonest client does (3.1.1, one subscription, no publish):
 * V8 optimizes for the types it has seen, and a check that took rarer paths first
 * would make the common one polymorphic.
 *
 * Nothing of it is left behind: its sessions are gone when it returns (waited for),
 * `$`-topics are matched by no wildcard subscription [MQTT-4.7.2-1], and the counters
 * are set back to what they were before it, so `$SYS` does not count it (nor a real
 * client that came in the same ~50 ms, the listener being open already: a start-up
 * blip we accept rather than count the check).
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import mqtt, { type Packet } from 'mqtt-packet';
import { logger } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';

const log = logger('broker:self_check');

/** The whole check, both clients, gives up after this long. */
const SELF_CHECK_TIMEOUT_MS = 3_000;

/**
 * What the check found: both clients were served; the listener refused their CONNECT
 * (a password file, say: the listener works, no session was made); or it failed (logged).
 */
export type SelfCheckVerdict = 'passed' | 'refused' | 'failed';

/** Run the check against the TCP listener bound to `host:port`; resolves when its sessions have ended. Never rejects. */
export async function selfCheck(ctx: BrokerContext, host: string, port: number): Promise<SelfCheckVerdict> {
  const before = ctx.metrics.snapshot();
  const tag = randomBytes(6).toString('hex');
  const ids = [`beamq-self-check-${tag}-a`, `beamq-self-check-${tag}-b`];
  const t0 = Date.now();
  const deadline = t0 + SELF_CHECK_TIMEOUT_MS;
  const to = loopbackOf(host);
  try {
    const served = (await visit(to, port, ids[0]!, 'disconnect', deadline)) && (await visit(to, port, ids[1]!, 'reset', deadline));
    // The sessions end on their own turns: wait for both.
    while (ids.some((id) => ctx.sessions.has(id))) {
      if (Date.now() > deadline) throw new Error('its sessions did not end');
      await new Promise((r) => setTimeout(r, 2));
    }
    log.debug('self_check_done', { port, served, ms: Date.now() - t0 });
    return served ? 'passed' : 'refused';
  } catch (err) {
    log.warn('self_check_failed', { host: to, port, error: err instanceof Error ? err.message : String(err) });
    return 'failed';
  } finally {
    Object.assign(ctx.metrics, before);
  }
}

/** Where a client on this machine reaches a listener bound to `host`. */
function loopbackOf(host: string): string {
  if (host === '' || host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

/** One client: CONNECT, SUBSCRIBE, then leave as `leave` says. False: the CONNECT was refused. */
async function visit(host: string, port: number, clientId: string, leave: 'disconnect' | 'reset', deadline: number): Promise<boolean> {
  const c = await Client.open(host, port, deadline);
  try {
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 0 });
    const ack = await c.next('connack');
    // Refused (a password file, say): the listener answered; the rest needs a session.
    if (ack.cmd !== 'connack' || (ack.returnCode ?? 0) !== 0) return false;
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `$beamq/self_check/${clientId}`, qos: 1 }] });
    await c.next('suback');
    if (leave === 'disconnect') {
      c.send({ cmd: 'disconnect' });
      await c.closed;
    }
    return true;
  } finally {
    if (leave === 'reset') c.socket.resetAndDestroy();
    else c.socket.destroy();
  }
}

/** A loopback MQTT 3.1.1 client just big enough for the check: each packet awaited by its type, with the check's deadline. */
class Client {
  private readonly parser = mqtt.parser({ protocolVersion: 4 });
  private readonly got: Packet[] = [];
  private wake: (() => void) | undefined;
  private failed: Error | undefined;
  readonly closed: Promise<void>;

  private constructor(
    readonly socket: net.Socket,
    private readonly deadline: number,
  ) {
    this.parser.on('packet', (p: Packet) => {
      this.got.push(p);
      this.wake?.();
    });
    this.parser.on('error', (err: Error) => this.fail(err));
    socket.on('data', (b: Buffer) => this.parser.parse(b));
    socket.on('error', (err) => this.fail(err));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => this.fail(new Error('the broker closed the connection')));
  }

  static open(host: string, port: number, deadline: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port, noDelay: true });
      const timer = setTimeout(() => s.destroy(new Error('no TCP connection')), Math.max(0, deadline - Date.now()));
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(new Client(s, deadline));
      });
    });
  }

  send(p: Packet): void {
    this.socket.write(mqtt.generate(p));
  }

  /** The first packet of type `cmd` received and not yet taken. */
  async next(cmd: Packet['cmd']): Promise<Packet> {
    const timer = setTimeout(() => this.fail(new Error(`no ${cmd} in time`)), Math.max(0, this.deadline - Date.now()));
    try {
      for (;;) {
        const i = this.got.findIndex((p) => p.cmd === cmd);
        if (i >= 0) return this.got.splice(i, 1)[0]!;
        if (this.failed !== undefined) throw this.failed;
        await new Promise<void>((r) => (this.wake = r));
      }
    } finally {
      clearTimeout(timer);
      this.wake = undefined;
    }
  }

  private fail(err: Error): void {
    this.failed ??= err;
    this.wake?.();
  }
}
