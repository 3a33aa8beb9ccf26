/**
 * `npm run bench -- <family> [...]`: runs benchmark families and prints one JSON line
 * per figure. Families: cluster, dist, epmd, mqtt, runtime, trie. With no argument, every family runs.
 */
import { benchCluster } from './cluster.js';
import { benchDist } from './dist.js';
import { benchEpmd } from './epmd.js';
import { benchMqtt } from './mqtt.js';
import { benchRuntime } from './runtime.js';
import { benchTrie } from './trie.js';
import { note } from './report.js';

const FAMILIES: Record<string, () => Promise<void>> = {
  cluster: benchCluster,
  dist: benchDist,
  epmd: benchEpmd,
  runtime: benchRuntime,
  trie: benchTrie,
  mqtt: benchMqtt,
};

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const run = asked.length === 0 ? Object.keys(FAMILIES) : asked;
  for (const name of run) {
    const f = FAMILIES[name];
    if (f === undefined) {
      note(`unknown family '${name}'; known: ${Object.keys(FAMILIES).join(', ')}`);
      process.exitCode = 2;
      return;
    }
    note(`running ${name}`);
    await f();
  }
}

await main();
