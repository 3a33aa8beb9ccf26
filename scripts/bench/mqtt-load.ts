/**
 * The MQTT load generator, alone in this OS process (forked by mqtt.ts for each
 * scenario and broker): receives {t:'run', scenario, port, cfg} over IPC, runs the
 * scenario against the broker on that port, and answers {t:'result', figures}. Asks
 * the parent to sample the broker's memory with {t:'measure'} (memory scenario).
 */
import type { LoadConfig, LoadFigure, ParentMsg, Scenario, Target } from './mqtt-common.js';
import { connStorm, idleMemory } from './mqtt-conns.js';
import { fanIn, fanOut, latency } from './mqtt-flow.js';

function run(scenario: Scenario, t: Target, cfg: LoadConfig): Promise<LoadFigure[]> {
  switch (scenario) {
    case 'fanin_qos0':
      return fanIn(t, cfg, 0);
    case 'fanin_qos1':
      return fanIn(t, cfg, 1);
    case 'fanout':
      return fanOut(t, cfg);
    case 'latency':
      return latency(t, cfg);
    case 'storm':
      return connStorm(t, cfg);
    case 'memory':
      return idleMemory(t, cfg);
  }
}

process.on('disconnect', () => process.exit(0)); // the bench is gone
process.on('message', (m: ParentMsg) => {
  if (m.t !== 'run') return;
  run(m.scenario, { port: m.port, brokerPid: m.brokerPid }, m.cfg).then(
    (figures) => process.send!({ t: 'result', figures }, () => process.exit(0)),
    (err: unknown) => {
      process.stderr.write(`mqtt-load ${m.scenario}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
});
