/**
 * `scripts/node`: start a named node, as `erl` does: start epmd if none answers,
 * register, listen, then either a REPL with the shell's bindings (prompt
 * `(n1@127.0.0.1)1>`), or with `--noshell` run until SIGTERM/SIGINT. Standard input may
 * be piped: one expression per line, each result printed, exit at end of input.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import repl from 'node:repl';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';
import { defaultEpmdPort, EpmdError } from '../epmd/index.js';
import { BUSY_WAIT_LEVELS, CookieError, formatShell, isBusyWait, logger, NodeNameError, rpc, setLogLevel, shellBindings, startNode, tierUpEarly, type LocalNode } from '../runtime/index.js';
import { ConfigError, CTL_MODULE, loadConfig, startBroker, type Config } from '../broker/index.js';
import fs from 'node:fs';
import { ArgError, parseArgs, portFlag, stringFlag, type ParsedArgs } from './args.js';

const USAGE = `usage: node (--name NAME | --sname NAME) [--cookie C] [--hidden] [--eval EXPR]
            [--noshell] [--dist-min P --dist-max P] [--epmd-port P] [--tick-time S]
            [--busy-wait LEVEL] [--broker] [--config FILE]

  --name NAME      long name: alive@host (IP or FQDN), or alive (this host's FQDN)
  --sname NAME     short name: alive or alive@host without dots
  --cookie C       the cookie (also --setcookie); default $HOME/.erlang.cookie
  --hidden         a hidden node: not in others' nodes(), not meshed
  --eval EXPR      evaluate EXPR (with the shell's bindings) after start
  --noshell        no REPL: run until SIGTERM/SIGINT, then stop in order
  --dist-min/max   the distribution port range (default: any free port)
  --epmd-port P    epmd's port (default $ERL_EPMD_PORT or 4369)
  --tick-time S    net_ticktime in seconds (default 60)
  --busy-wait L    how long the event loop polls before sleeping, as erl's +sbwt:
                   none, very_short, short, medium (default), long, very_long
  --broker         run the MQTT broker on this node (TCP 1883, WebSocket 8083 /mqtt)
  --config FILE    broker configuration (JSON); BEAMQ_* environment variables override it
  --KEY.PATH V     one broker setting, over the file and the environment, e.g.
                   --listeners.tcp.bind 127.0.0.1:1884 --mqtt.max_packet_size=64KB`;

const SPEC = {
  name: 'value',
  sname: 'value',
  cookie: 'value',
  setcookie: 'value',
  hidden: 'switch',
  eval: 'value',
  noshell: 'switch',
  'dist-min': 'value',
  'dist-max': 'value',
  'epmd-port': 'value',
  'tick-time': 'value',
  'busy-wait': 'value',
  'log-level': 'value',
  broker: 'switch',
  config: 'value',
  help: 'switch',
} as const;

const log = logger('scripts:node');

/**
 * Take the broker settings (`--a.b.c V` or `--a.b.c=V`) out of argv: they are config
 * keys, checked by loadConfig, not launcher flags.
 */
function configFlags(argv: readonly string[]): { rest: string[]; settings: Record<string, unknown> } {
  const rest: string[] = [];
  const settings: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z_]+(?:\.[a-z_]+)+)(?:=(.*))?$/.exec(argv[i]!);
    if (m === null) {
      rest.push(argv[i]!);
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new ArgError(`option --${m[1]} needs a value`);
    const keys = m[1]!.split('.');
    let at = settings;
    for (const k of keys.slice(0, -1)) at = (at[k] ??= {}) as Record<string, unknown>;
    at[keys.at(-1)!] = value;
  }
  return { rest, settings };
}

async function main(argv0: readonly string[]): Promise<number> {
  let args: ParsedArgs;
  let settings: Record<string, unknown>;
  try {
    const split = configFlags(argv0);
    settings = split.settings;
    args = parseArgs(split.rest, SPEC);
  } catch (err) {
    process.stderr.write(`node: ${(err as Error).message}\n${USAGE}\n`);
    return 1;
  }
  if (args.flags.has('help')) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const level = stringFlag(args, 'log-level');
  if (level !== undefined) setLogLevel(level as Parameters<typeof setLogLevel>[0]);
  // Defaults, then the config file, then BEAMQ_* variables, then these flags.
  let cfg: Config | undefined;
  const configFile = stringFlag(args, 'config');
  if (args.flags.has('broker') || configFile !== undefined || Object.keys(settings).length > 0) {
    try {
      const file: unknown = configFile === undefined ? {} : readConfigFile(configFile);
      cfg = loadConfig(file, process.env, settings);
    } catch (err) {
      process.stderr.write(`node: ${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    }
  }
  const sname = stringFlag(args, 'sname');
  const name = stringFlag(args, 'name') ?? (sname === undefined ? cfg?.node.name : undefined);
  if ((name === undefined) === (sname === undefined)) {
    process.stderr.write(`node: give exactly one of --name or --sname\n${USAGE}\n`);
    return 1;
  }
  const epmdPort = portFlag(args, 'epmd-port') ?? defaultEpmdPort();
  const cookie = stringFlag(args, 'cookie') ?? stringFlag(args, 'setcookie') ?? (cfg?.node.cookie === '' ? undefined : cfg?.node.cookie);
  const tick = stringFlag(args, 'tick-time');
  const distMin = portFlag(args, 'dist-min');
  const distMax = portFlag(args, 'dist-max');
  const busy = stringFlag(args, 'busy-wait') ?? cfg?.node.busy_wait;
  if (busy !== undefined && !isBusyWait(busy)) {
    process.stderr.write(`node: --busy-wait: one of ${BUSY_WAIT_LEVELS.join(', ')}, got ${busy}\n`);
    return 1;
  }

  tierUpEarly();
  let node: LocalNode;
  try {
    node = await startNode({
      ...(name !== undefined ? { name } : {}),
      ...(sname !== undefined ? { sname } : {}),
      ...(cookie !== undefined ? { cookie } : {}),
      ...(distMin !== undefined ? { listenMin: distMin } : {}),
      ...(distMax !== undefined ? { listenMax: distMax } : {}),
      ...(tick !== undefined ? { tickTimeMs: Number(tick) * 1000 } : {}),
      ...(busy !== undefined ? { busyWait: busy } : {}),
      hidden: args.flags.has('hidden'),
      epmdPort,
      handleSignals: true,
      ensureEpmd: () => startEpmd(epmdPort),
    });
  } catch (err) {
    if (err instanceof NodeNameError || err instanceof CookieError || err instanceof EpmdError) {
      process.stderr.write(`node: ${err.message}\n`);
      return 1;
    }
    throw err;
  }

  if (args.flags.has('broker') && cfg !== undefined) {
    try {
      const b = await startBroker(node, cfg);
      const ports = b.ports();
      log.info('broker_started', { node: node.name, tcp: ports.tcp, ws: ports.ws });
    } catch (err) {
      process.stderr.write(`node: cannot start the broker: ${err instanceof ConfigError || err instanceof Error ? err.message : String(err)}\n`);
      await node.stop();
      return 1;
    }
  }

  const shell = shellBindings(node, (line) => process.stdout.write(line + '\n'), () => void halt(node));
  const brokerBindings = args.flags.has('broker') && node.name.includes('@') ? ctlBindings(node) : {};
  const context = vm.createContext({ ...shell.bindings, ...brokerBindings, console });
  const expr = stringFlag(args, 'eval');
  if (expr !== undefined) {
    try {
      await evaluate(expr, context);
    } catch (err) {
      process.stderr.write(`node: --eval failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
  if (args.flags.has('noshell')) return -1; // keep running until a signal stops the node
  startRepl(node, context);
  return -1;
}

/**
 * `scripts/ctl`'s commands in the REPL, as EMQX's remote console has them:
 * `cluster_join('n1@127.0.0.1')`, `cluster_status()`, `routes_list()`, `clients_show('id')`…
 * Each is an rpc to this node's own `beamq_ctl` functions, so both ways run the same code.
 */
function ctlBindings(node: LocalNode): Record<string, (...a: unknown[]) => Promise<unknown>> {
  const ctl = (fn: string, ...a: unknown[]): Promise<unknown> => node.run(() => rpc.call(node.name, CTL_MODULE, fn, a, 60_000));
  return {
    cluster_join: (seed) => ctl('cluster_join', seed),
    cluster_leave: () => ctl('cluster_leave'),
    cluster_force_leave: (n) => ctl('cluster_force_leave', n),
    cluster_status: () => ctl('cluster_status'),
    routes_list: () => ctl('routes_list'),
    clients_show: (...ids) => ctl('client_lookup', ids),
    clients_local: () => ctl('clients_local'),
    forwarded: () => ctl('forwarded'),
  };
}

function readConfigFile(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  } catch (err) {
    throw new Error(`config file ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Run a line in the shell's context; a promise result is awaited (so connect_node prints true). */
async function evaluate(code: string, context: vm.Context): Promise<unknown> {
  const v: unknown = vm.runInContext(code, context, { filename: 'shell' });
  // Code from the vm context makes that realm's promises: test for a thenable.
  return typeof (v as PromiseLike<unknown> | undefined)?.then === 'function' ? await (v) : v;
}

function startRepl(node: LocalNode, context: vm.Context): void {
  let n = 1;
  const prompt = (): string => `(${node.name})${n}> `;
  // Lines are evaluated one after another, even when piped in faster than they finish:
  // each waits for the previous result (a connect_node must print before nodes() runs).
  let chain: Promise<unknown> = Promise.resolve();
  const server = repl.start({
    prompt: prompt(),
    input: process.stdin,
    output: process.stdout,
    terminal: process.stdin.isTTY,
    ignoreUndefined: false,
    writer: (v: unknown) => (v instanceof Error ? `** exception error: ${v.message}` : formatShell(v, node.name)),
    eval: (code, _ctx, _file, cb) => {
      const line = code.trim();
      chain = chain.then(async () => {
        if (line === '') return cb(null, undefined);
        let result: unknown;
        try {
          result = await evaluate(line, context);
        } catch (err) {
          result = err instanceof Error ? err : new Error(String(err));
        }
        n++;
        server.setPrompt(prompt());
        cb(null, result);
      });
    },
  });
  if (process.stdin.isTTY) server.setupHistory(path.join(os.homedir(), '.beamq_history'), () => undefined);
  // End of input: finish what is running, then stop the node.
  server.on('exit', () => void chain.then(() => halt(node)));
}

async function halt(node: LocalNode): Promise<void> {
  await node.stop();
  // Let stdout drain before the process goes.
  process.stdout.write('', () => process.exit(0));
}

/** Start our epmd daemon detached, as erl does when none answers. */
function startEpmd(port: number): Promise<void> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  log.info('starting_epmd', { port });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, 'epmd.js'), '-daemon', '-port', String(port)], { stdio: 'ignore' });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`epmd -daemon exited with ${String(code)}`))));
    child.once('error', reject);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`node: ${err instanceof ArgError ? err.message : String((err as Error).stack ?? err)}\n`);
    process.exit(1);
  },
);
