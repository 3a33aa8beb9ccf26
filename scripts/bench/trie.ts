/**
 * `npm run bench -- trie`: one JSON line per figure (trie inserts/s and match calls/s
 * with 10k and 100k wildcard filters, plus a brute-force scan over the 10k set as a
 * reference). Deterministic inputs (seeded PRNG).
 */
import { Trie } from '../../broker/mqtt/trie.js';
import { match } from '../../broker/mqtt/topic.js';
import { emit, note } from './report.js';

const DURATION_MS = Number(process.env['BENCH_MS'] ?? 1000);

/** mulberry32: a small seeded PRNG so every run measures the same inputs. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// A device fleet: kind/site/device/metric, with 10 × 100 × 1000 × 10 possible names.
const VOCAB = [10, 100, 1000, 10].map((n, level) => Array.from({ length: n }, (_, i) => `${'ksdm'[level]}${i}`));

function randomTopic(rnd: () => number): string {
  return VOCAB.map((words) => words[Math.floor(rnd() * words.length)]!).join('/');
}

/** A wildcard filter: some levels '+', or a '#' tail after two levels; never an exact filter. */
function randomFilter(rnd: () => number): string {
  for (;;) {
    const ws = randomTopic(rnd).split('/');
    const out: string[] = [];
    for (const [level, w] of ws.entries()) {
      if (level >= 2 && rnd() < 0.1) {
        out.push('#');
        break;
      }
      out.push(rnd() < 0.25 ? '+' : w);
    }
    if (out.includes('+') || out.includes('#')) return out.join('/');
  }
}

function rate(fn: (topic: string) => number, topics: readonly string[]): { perS: number; matched: number } {
  let calls = 0;
  let matched = 0;
  const start = performance.now();
  let now = start;
  while (now - start < DURATION_MS) {
    for (let i = 0; i < 1000; i++) matched += fn(topics[(calls + i) % topics.length]!);
    calls += 1000;
    now = performance.now();
  }
  return { perS: (calls * 1000) / (now - start), matched: matched / calls };
}

export async function benchTrie(): Promise<void> {
  const rnd = prng(42);
  const topics = Array.from({ length: 10_000 }, () => randomTopic(rnd));
  for (const n of [10_000, 100_000]) {
    const distinctFilters = new Set<string>();
    while (distinctFilters.size < n) distinctFilters.add(randomFilter(rnd));
    const filters = [...distinctFilters];
    const trie = new Trie();
    const t0 = performance.now();
    for (const f of filters) trie.insert(f);
    const insertMs = performance.now() - t0;
    emit({ bench: 'trie', figure: 'inserts_per_s', impl: 'beamq', value: (n * 1000) / insertMs, unit: 'ops/s', filters: n });
    const r = rate((topic) => trie.match(topic).length, topics);
    emit({ bench: 'trie', figure: 'matches_per_s', impl: 'beamq', value: r.perS, unit: 'ops/s', filters: n, avgMatched: r.matched, trieNodes: trie.nodeCount });
    if (n === 10_000) {
      const distinct = [...trie];
      const b = rate((topic) => distinct.filter((f) => match(f, topic)).length, topics);
      emit({ bench: 'trie', figure: 'matches_per_s', impl: 'brute_force', value: b.perS, unit: 'ops/s', filters: n, avgMatched: b.matched });
    }
  }
  note('trie done');
  await Promise.resolve();
}
