/**
 * `scripts/epmd`: the port-mapper daemon and its client commands, with the real
 * `epmd`'s flags, output and exit codes (shared/reference/erlang/epmd-reference.md §7).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AddressInUseError, defaultEpmdPort, dump, EpmdError, kill, names, startDaemon, stop } from '../epmd/index.js';
import { logger, setLogLevel } from '../runtime/index.js';
import { ArgError, parseArgs, portFlag, stringFlag, type ParsedArgs } from './args.js';

const USAGE = `usage: epmd [-d|-debug] [-port No] [-address Addresses] [-daemon]
            [-relaxed_command_check] [-packet_timeout Seconds]
       epmd [-port No] -names | -dump | -kill | -stop Name

  -port No        listen on / talk to this port (default $ERL_EPMD_PORT, else 4369)
  -address List   comma-separated addresses to listen on (loopback always added)
  -daemon         detach and run in the background
  -names          list the registered nodes
  -dump           dump the daemon's tables
  -kill           stop the daemon (refused while nodes are registered)
  -stop Name      unregister a node (needs -relaxed_command_check on the daemon)`;

const SPEC = {
  port: 'value',
  address: 'value',
  daemon: 'switch',
  names: 'switch',
  dump: 'switch',
  kill: 'switch',
  stop: 'value',
  relaxed_command_check: 'switch',
  packet_timeout: 'value',
  d: 'switch',
  debug: 'switch',
  help: 'switch',
  h: 'switch',
  // Internal: the detached child of -daemon reports readiness over IPC.
  detached_child: 'switch',
} as const;

async function main(argv: readonly string[]): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv, SPEC);
  } catch (err) {
    process.stderr.write(`epmd: ${(err as Error).message}\n${USAGE}\n`);
    return 1;
  }
  if (args.flags.has('help') || args.flags.has('h')) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const port = portFlag(args, 'port') ?? defaultEpmdPort();
  const client = { port, timeoutMs: 10_000 };
  try {
    if (args.flags.has('names') || args.flags.has('dump')) {
      const r = args.flags.has('names') ? await names(client) : await dump(client);
      process.stdout.write(`epmd: up and running on port ${r.epmdPort} with data:\n${r.text}`);
      return 0;
    }
    if (args.flags.has('kill')) {
      const r = await kill(client);
      if (r === 'OK') process.stdout.write('Killed\n');
      else if (r.length === 2) process.stdout.write('Killing not allowed - living nodes in database.\n');
      else process.stdout.write(`epmd: local epmd responded with <${r}>\n`);
      return r === 'OK' ? 0 : 1;
    }
    const name = stringFlag(args, 'stop');
    if (name !== undefined) {
      const r = await stop(name, client);
      if (r.length === 7) {
        process.stdout.write(`${r}\n`);
        return 0;
      }
      process.stdout.write(`epmd: local epmd responded with <${r}>\n`);
      return 1;
    }
  } catch (err) {
    if (err instanceof EpmdError && err.code === 'unreachable') {
      process.stderr.write('epmd: Cannot connect to local epmd\n');
      return 1;
    }
    if (err instanceof EpmdError && err.code === 'no_response') {
      process.stdout.write('epmd: no response from local epmd\n');
      return 1;
    }
    throw err;
  }
  return runDaemon(args, port);
}

async function runDaemon(args: ParsedArgs, port: number): Promise<number> {
  const debug = args.flags.has('d') || args.flags.has('debug');
  if (debug) setLogLevel('debug');
  if (args.flags.has('daemon')) return detach(argv.filter((a) => a !== '-daemon' && a !== '--daemon'));

  const addressList = stringFlag(args, 'address') ?? process.env['ERL_EPMD_ADDRESS'];
  const addresses = addressList?.split(/[,\s]+/).filter((a) => a !== '');
  const timeoutS = stringFlag(args, 'packet_timeout');
  const relaxed =
    args.flags.has('relaxed_command_check') || process.env['ERL_EPMD_RELAXED_COMMAND_CHECK'] !== undefined;
  const log = logger('epmd');
  try {
    const daemon = await startDaemon({
      port,
      relaxedCommandCheck: relaxed,
      logger: log,
      ...(addresses === undefined ? {} : { addresses }),
      ...(timeoutS === undefined ? {} : { packetTimeoutMs: Number(timeoutS) * 1000 }),
    });
    process.send?.({ epmd: 'ready', port: daemon.port });
    process.disconnect?.();
    const stopOn = (): void => void daemon.close();
    process.once('SIGTERM', stopOn);
    process.once('SIGINT', stopOn);
    await daemon.stopped;
    return 0;
  } catch (err) {
    if (err instanceof AddressInUseError) {
      // As the real epmd: a second daemon on a busy port exits quietly with 0.
      if (debug) process.stderr.write(`epmd: there is already a epmd running at port ${port}\n`);
      else log.info('epmd_already_running', { port });
      process.send?.({ epmd: 'in_use', port });
      return 0;
    }
    throw err;
  }
}

/**
 * `-daemon`: start a detached copy of ourselves and return once it listens (or found
 * the port taken), so a caller can use the daemon the moment we exit.
 */
function detach(childArgs: readonly string[]): Promise<number> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [self, ...childArgs], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(1), 10_000);
    child.once('message', () => {
      clearTimeout(timer);
      child.disconnect();
      child.unref();
      resolve(0);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code ?? 1);
    });
  });
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`epmd: ${err instanceof ArgError ? err.message : String((err as Error).stack ?? err)}\n`);
    process.exitCode = 1;
  },
);
