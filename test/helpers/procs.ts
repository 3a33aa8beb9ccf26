/**
 * Child OS processes for tests: started with output captured, awaited on output
 * lines or exit, and always killed in teardown.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { WaitTimeout } from './wait.js';

export interface Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolve when the output matches `re`. */
  waitOutput(re: RegExp, what: string, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolve with the exit code (or signal name) once the process ends. */
  exited(timeoutMs?: number): Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

export function hasBinary(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

export function startChild(cmd: string, args: readonly string[], opts: SpawnOptions = {}): Child {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (b: Buffer): void => {
    out += b.toString('utf8');
    for (const l of listeners) l();
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  let exitValue: number | string | undefined;
  const exit = new Promise<number | string>((resolve) =>
    proc.once('exit', (code, signal) => {
      exitValue = code ?? signal ?? -1;
      for (const l of listeners) l();
      resolve(exitValue);
    }),
  );
  return {
    proc,
    pid: proc.pid ?? -1,
    output: () => out,
    waitOutput(re, what, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = re.exec(out);
          if (m !== null) {
            done();
            resolve(m);
          } else if (exitValue !== undefined) {
            done();
            reject(new Error(`process exited (${exitValue}) before ${what}; output:\n${out}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new WaitTimeout(`timed out after ${timeoutMs} ms waiting for ${what}; output:\n${out}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    exited(timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new WaitTimeout(`timed out after ${timeoutMs} ms waiting for exit; output:\n${out}`)), timeoutMs);
        void exit.then((v) => {
          clearTimeout(timer);
          resolve(v);
        });
      });
    },
    kill(signal = 'SIGKILL') {
      if (exitValue === undefined) proc.kill(signal);
    },
  };
}

/** Run a command to completion; returns its exit code and output. */
export function runCommand(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    proc.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new WaitTimeout(`${cmd} ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 20_000} ms`));
    }, opts.timeoutMs ?? 20_000);
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? -1, stdout, stderr });
    });
  });
}
