/**
 * Configuration: defaults < config file < BEAMQ_* environment < command-line
 * settings, and every invalid value stopping start-up with a message naming its key;
 * in-process through loadConfig, and through `scripts/node --broker --noshell` as an
 * OS process (listening where the command line said, with the file's and the
 * environment's settings in its CONNACK).
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDaemon } from '../../../epmd/index.js';
import { DEFAULTS, loadConfig } from '../../../broker/index.js';
import { connectAndWaitConnack } from '../../helpers/mqtt.js';
import { script } from '../../helpers/paths.js';
import { freePort } from '../../helpers/ports.js';
import { runCommand, startChild } from '../../helpers/procs.js';

test('config: defaults, then the file, then the environment, then the command line', (t) => {
  t.is(loadConfig({}, {}).mqtt.max_packet_size, DEFAULTS.mqtt.max_packet_size);
  const file = { mqtt: { max_packet_size: 1000, max_topic_alias: 7 }, listeners: { tcp: { bind: '127.0.0.1:1001' } } };
  const env = { BEAMQ_MQTT__MAX_PACKET_SIZE: '2KB', BEAMQ_LISTENERS__TCP__BIND: '127.0.0.1:1002', BEAMQ_LOG_LEVEL: 'debug', HOME: '/x' };
  const cli = { listeners: { tcp: { bind: '127.0.0.1:1003' } } };
  const c = loadConfig(file, env, cli);
  t.is(c.mqtt.max_topic_alias, 7, 'the file over the defaults');
  t.is(c.mqtt.max_packet_size, 2048, 'the environment over the file, with units');
  t.is(c.listeners.tcp.bind, '127.0.0.1:1003', 'the command line over the environment');
  t.is(loadConfig({}, { BEAMQ_MQTT__RETAIN_AVAILABLE: 'false', BEAMQ_SYS__INTERVAL_MS: '2s' }).sys.interval_ms, 2000);
  t.false(loadConfig({}, { BEAMQ_MQTT__RETAIN_AVAILABLE: 'off' }).mqtt.retain_available);
});

const invalid: [string, () => unknown, RegExp][] = [
  ['an unknown key in the file', () => loadConfig({ mqtt: { max_packet_sise: 1 } }), /unknown key mqtt\.max_packet_sise/],
  ['an unknown key in the environment', () => loadConfig({}, { BEAMQ_MQTT__NOPE: '1' }), /BEAMQ_MQTT__NOPE.*mqtt\.nope/],
  ['a word for a number', () => loadConfig({}, { BEAMQ_MQTT__MAX_PACKET_SIZE: 'lots' }), /mqtt\.max_packet_size \(from BEAMQ_MQTT__MAX_PACKET_SIZE\): expected a number/],
  ['a negative number', () => loadConfig({ mqtt: { max_mqueue_len: -5 } }), /mqtt\.max_mqueue_len: must be a whole number/],
  ['a fraction', () => loadConfig({ mqtt: { max_inflight: 2.5 } }), /mqtt\.max_inflight/],
  ['out of range', () => loadConfig({}, {}, { mqtt: { max_inflight: '70000' } }), /mqtt\.max_inflight: must be a whole number in 1\.\.65535/],
  ['a zero packet size', () => loadConfig({ mqtt: { max_packet_size: 0 } }), /mqtt\.max_packet_size/],
  ['a bad bind', () => loadConfig({ listeners: { tcp: { bind: 'localhost' } } }), /listeners\.tcp\.bind/],
  ['a bad boolean', () => loadConfig({}, { BEAMQ_MQTT__RETAIN_AVAILABLE: 'maybe' }), /mqtt\.retain_available.*true or false/],
  ['a bad strategy', () => loadConfig({ mqtt: { shared_subscription_strategy: 'sticky' } }), /mqtt\.shared_subscription_strategy/],
  ['a bad tcp backend', () => loadConfig({}, { BEAMQ_LISTENERS__TCP__BACKEND: 'epoll' }), /listeners\.tcp\.backend/],
  ['a bad ws path', () => loadConfig({ listeners: { ws: { path: 'mqtt' } } }), /listeners\.ws\.path/],
];
for (const [what, f, message] of invalid) {
  test(`config: ${what} is refused, naming the key`, (t) => {
    t.throws(f, { name: 'ConfigError', message });
  });
}

function tmpFile(t: ExecutionContext, name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'beamq-config-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, name), text);
  return path.join(dir, name);
}

test('config: scripts/node stops before starting with an invalid file, environment or flag, naming the key', async (t) => {
  const env = { ...process.env, BEAMQ_LOG_LEVEL: 'warn' };
  const good = tmpFile(t, 'ok.json', JSON.stringify({ mqtt: { max_inflight: 5 } }));
  const runs: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [['--config', tmpFile(t, 'bad.json', JSON.stringify({ mqtt: { max_inflight: 0 } }))], env, /mqtt\.max_inflight/],
    [['--config', tmpFile(t, 'broken.json', '{ "mqtt": ')], env, /config file .*broken\.json/],
    [['--config', good], { ...env, BEAMQ_MQTT__MAX_PACKET_SIZE: 'huge' }, /mqtt\.max_packet_size \(from BEAMQ_MQTT__MAX_PACKET_SIZE\)/],
    [['--config', good, '--listeners.tcp.bind', 'nowhere'], env, /listeners\.tcp\.bind/],
    [['--mqtt.no_such_key=1'], env, /unknown key mqtt\.no_such_key/],
    [[], { ...env, BEAMQ_NODE__BUSY_WAIT: 'forever' }, /node\.busy_wait: one of none, .*got forever/],
  ];
  for (const [args, e, message] of runs) {
    const r = await runCommand(script('node'), ['--name', `cfg_${process.pid}@127.0.0.1`, '--broker', '--noshell', ...args], { env: e });
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr, message);
  }
});

test('config: scripts/node --broker listens where the command line says, with the file and environment settings', async (t) => {
  const d = await startDaemon({ port: 0, addresses: ['127.0.0.1'] });
  t.teardown(() => d.close());
  const [fromFile, fromEnv, fromCli, ws] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const file = tmpFile(
    t,
    'broker.json',
    JSON.stringify({ listeners: { tcp: { bind: `127.0.0.1:${fromFile}` }, ws: { bind: `127.0.0.1:${ws}` } }, mqtt: { max_packet_size: 1000, max_topic_alias: 7 } }),
  );
  const env = { ...process.env, ERL_EPMD_PORT: String(d.port), BEAMQ_LOG_LEVEL: 'info', BEAMQ_LISTENERS__TCP__BIND: `127.0.0.1:${fromEnv}`, BEAMQ_MQTT__MAX_PACKET_SIZE: '2KB' };
  const child = startChild(script('node'), ['--name', `cfgok_${process.pid}@127.0.0.1`, '--broker', '--noshell', '--config', file, `--listeners.tcp.bind=127.0.0.1:${fromCli}`], { env });
  t.teardown(() => child.kill());
  await child.waitOutput(/broker_started/, 'the broker to start', 20_000);
  const { client, connack } = await connectAndWaitConnack(fromCli, { protocolVersion: 5 });
  t.is(connack.reasonCode, 0);
  t.is(connack.properties?.maximumPacketSize, 2048, 'from the environment, over the file');
  t.is(connack.properties?.topicAliasMaximum, 7, 'from the file');
  await client.close();
  child.kill('SIGTERM');
  t.is(await child.exited(), 0);
});
