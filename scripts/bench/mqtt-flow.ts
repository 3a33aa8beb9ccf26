/**
 * Message-flow scenarios of the MQTT bench, run in the load process: fan-in (many
 * publishers, one subscriber on `#`), fan-out (one publisher, many subscribers) and
 * latency (publisher/subscriber pairs at a fixed offered rate). Throughput runs are
 * closed loops: a publisher keeps at most a window of messages on the way, so every
 * broker runs at its own saturation without queues overflowing, and nothing may be
 * lost or duplicated.
 */
import { PublishTemplate, SeqCheck, nowUs, type BenchClient } from './mqtt-client.js';
import { connectMany, cpuMeter, settle, sleep, type LoadConfig, type LoadFigure, type Target } from './mqtt-common.js';

/** The measurement window after the warm-up: the count's rate over it, and CPU use. */
async function window(t: Target, cfg: LoadConfig, count: () => number): Promise<{ rate: number; cpu: Record<string, number> }> {
  await sleep(cfg.warmupMs);
  const c0 = count();
  const t0 = performance.now();
  const m = cpuMeter(t.brokerPid);
  await sleep(cfg.durationMs);
  const c1 = count();
  const cpu = m.stop();
  const rate = (c1 - c0) / ((performance.now() - t0) / 1000);
  // Rate per busy broker core: comparable across runs on a machine shared with other work.
  return { rate, cpu: { ...cpu, per_broker_core: cpu.broker_cpu > 0 ? Math.round(rate / cpu.broker_cpu) : 0 } };
}

function closeAll(...groups: BenchClient[][]): void {
  for (const g of groups) for (const c of g) c.close();
}

/** `publishers` clients publish on `bench/in/<i>`; one subscriber on `#` receives all. */
export async function fanIn(t: Target, cfg: LoadConfig, qos: 0 | 1): Promise<LoadFigure[]> {
  const P = cfg.publishers;
  const W = cfg.faninWindow;
  const check = new SeqCheck(P);
  const sent = new Uint32Array(P);
  const acked = new Uint32Array(P);
  const tpl = Array.from({ length: P }, (_, i) => new PublishTemplate(`bench/in/${i}`, qos, i, cfg.payloadBytes));
  let pubs: BenchClient[] = [];
  let sending = false;
  // Top a publisher's window up once half of it has arrived: one write per half window.
  const refill = (p: number): void => {
    if (!sending) return;
    const credit = W - (sent[p]! - check.upTo(p));
    if (credit < W / 2) return;
    pubs[p]!.write(tpl[p]!.batch(sent[p]!, credit, 0));
    sent[p]! += credit;
  };
  let lostConns = 0;
  const sub = (
    await connectMany(1, 1, () => ({
      port: t.port,
      clientId: `bench-in-sub-${qos}`,
      onPublish: (buf, at) => {
        const p = buf.readUInt32BE(at);
        if (check.see(p, buf.readUInt32BE(at + 4)) !== 'dup') refill(p);
      },
      onLost: () => lostConns++,
    }))
  )[0]!;
  await sub.subscribe('#', qos);
  pubs = await connectMany(P, 50, (i) => ({ port: t.port, clientId: `bench-in-pub-${qos}-${i}`, onPuback: () => acked[i]!++, onLost: () => lostConns++ }));
  sending = true;
  for (let p = 0; p < P; p++) refill(p);
  const w = await window(t, cfg, () => check.received);
  sending = false;
  const total = (): number => sent.reduce((a, b) => a + b, 0);
  const allIn = (): boolean => sent.every((n, p) => check.upTo(p) >= n) && (qos === 0 || acked.every((n, p) => n >= sent[p]!));
  await settle(allIn, () => check.received + acked.reduce((a, b) => a + b, 0), cfg.stallMs);
  check.finish(sent);
  const unacked = qos === 0 ? 0 : total() - acked.reduce((a, b) => a + b, 0);
  closeAll([sub], pubs);
  return [
    {
      figure: `fanin_qos${qos}_msgs_per_s`,
      value: w.rate,
      unit: 'msgs/s',
      better: 'higher',
      lost: check.lost,
      dup: check.dup,
      publishers: P,
      window: W,
      sent: total(),
      received: check.received,
      ...(qos === 1 ? { unacked } : {}),
      lost_connections: lostConns,
      ...w.cpu,
    },
  ];
}

/** One publisher on `bench/out`; `subscribers` clients each receive every message. */
export async function fanOut(t: Target, cfg: LoadConfig): Promise<LoadFigure[]> {
  const N = cfg.subscribers;
  const W = cfg.fanoutWindow;
  const check = new SeqCheck(N); // indexed by subscriber: each sees the one publisher's sequence
  let R = 1;
  while (R < W * 2) R *= 2;
  // ring[seq % R]: how many subscribers have message seq; `done` = first seq not yet everywhere.
  const ring = new Uint32Array(R);
  let sent = 0;
  let done = 0;
  let sending = false;
  const tpl = new PublishTemplate('bench/out', 0, 0, cfg.payloadBytes);
  const pub: BenchClient[] = [];
  const refill = (): void => {
    if (!sending || sent - done > W / 2) return;
    const n = W - (sent - done);
    pub[0]!.write(tpl.batch(sent, n, 0));
    sent += n;
  };
  let lostConns = 0;
  const subs = await connectMany(N, 50, (j) => ({
    port: t.port,
    clientId: `bench-out-sub-${j}`,
    onPublish: (buf, at) => {
      const seq = buf.readUInt32BE(at + 4);
      if (check.see(j, seq) === 'dup') return;
      if (++ring[seq & (R - 1)]! < N || seq !== done) return;
      while (done < sent && ring[done & (R - 1)] === N) ring[done++ & (R - 1)] = 0;
      refill();
    },
    onLost: () => lostConns++,
  }));
  for (const c of subs) await c.subscribe('bench/out', 0);
  pub.push(...(await connectMany(1, 1, () => ({ port: t.port, clientId: 'bench-out-pub', onLost: () => lostConns++ }))));
  sending = true;
  refill();
  const w = await window(t, cfg, () => check.received);
  sending = false;
  await settle(() => done >= sent, () => check.received, cfg.stallMs);
  check.finish(new Uint32Array(N).fill(sent));
  closeAll(subs, pub);
  return [
    {
      figure: 'fanout_msgs_per_s',
      value: w.rate,
      unit: 'msgs/s',
      better: 'higher',
      lost: check.lost,
      dup: check.dup,
      subscribers: N,
      window: W,
      published: sent,
      delivered: check.received,
      lost_connections: lostConns,
      ...w.cpu,
    },
  ];
}

/**
 * `pairs` publishers, each with its own subscriber on `lat/<i>`, publish QoS 0 at a
 * fixed total rate (round robin over the pairs); latency = receive time − send time
 * stamped in the payload (same clock: both ends live in this process).
 */
export async function latency(t: Target, cfg: LoadConfig): Promise<LoadFigure[]> {
  const P = cfg.pairs;
  const rate = cfg.latencyRate;
  const check = new SeqCheck(P);
  const sent = new Uint32Array(P);
  const samples = new Float64Array(Math.ceil((rate * (cfg.durationMs + 1000)) / 1000));
  let nSamples = 0;
  let fromUs = Infinity;
  let toUs = Infinity;
  let lostConns = 0;
  const subs = await connectMany(P, 50, (j) => ({
    port: t.port,
    clientId: `bench-lat-sub-${j}`,
    onPublish: (buf, at) => {
      const t = nowUs();
      check.see(buf.readUInt32BE(at), buf.readUInt32BE(at + 4));
      const sentAt = buf.readDoubleBE(at + 8);
      if (sentAt >= fromUs && sentAt < toUs && nSamples < samples.length) samples[nSamples++] = t - sentAt;
    },
    onLost: () => lostConns++,
  }));
  for (let j = 0; j < P; j++) await subs[j]!.subscribe(`lat/${j}`, 0);
  const tpl = Array.from({ length: P }, (_, i) => new PublishTemplate(`lat/${i}`, 0, i, cfg.payloadBytes));
  const pubs = await connectMany(P, 50, (i) => ({ port: t.port, clientId: `bench-lat-pub-${i}`, onLost: () => lostConns++ }));
  // Offer `rate` msgs/s: each tick sends what is due since the start, one write per message.
  const start = performance.now();
  let total = 0;
  let next = 0;
  const tick = setInterval(() => {
    const due = Math.floor(((performance.now() - start) * rate) / 1000) - total;
    for (let k = 0; k < due; k++) {
      const j = next;
      next = (next + 1) % P;
      pubs[j]!.write(tpl[j]!.batch(sent[j]!, 1, nowUs()));
      sent[j]!++;
    }
    total += Math.max(0, due);
  }, 1);
  await sleep(cfg.warmupMs);
  fromUs = nowUs();
  const m = cpuMeter(t.brokerPid);
  await sleep(cfg.durationMs);
  toUs = nowUs();
  const cpu = m.stop();
  clearInterval(tick);
  const offered = total;
  await settle(() => check.received + check.dup >= offered, () => check.received, cfg.stallMs);
  check.finish(sent);
  closeAll(subs, pubs);
  const lat = samples.subarray(0, nSamples).sort();
  const q = (p: number): number => (lat.length === 0 ? NaN : lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!);
  const common = { better: 'lower' as const, lost: check.lost, dup: check.dup, pairs: P, offered_msgs_per_s: rate, samples: nSamples, lost_connections: lostConns, ...cpu };
  return [
    { figure: 'latency_p50_us', value: q(0.5), unit: 'us', ...common },
    { figure: 'latency_p99_us', value: q(0.99), unit: 'us', ...common, p999_us: Math.round(q(0.999)), max_us: Math.round(lat[lat.length - 1] ?? NaN) },
  ];
}
