/**
 * Benchmark output: one JSON line per figure on stdout, so runs can be diffed and
 * collected. Progress and notes go to stderr.
 */
import { spawnSync } from 'node:child_process';

export interface Figure {
  readonly bench: string;
  readonly figure: string;
  readonly impl: string;
  readonly value: number;
  readonly unit: string;
  readonly [extra: string]: unknown;
}

export function emit(f: Figure): void {
  process.stdout.write(JSON.stringify({ ...f, value: round(f.value) }) + '\n');
}

/** Emit `ours / reference` for a figure, when both were measured. */
export function emitRatio(bench: string, figure: string, ours: number | undefined, ref: number | undefined, refImpl: string): void {
  if (ours === undefined || ref === undefined || ref === 0) return;
  emit({ bench, figure: `${figure}_ratio`, impl: `beamq/${refImpl}`, value: ours / ref, unit: 'x' });
}

export function note(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

export function hasBinary(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function round(v: number): number {
  return v >= 100 ? Math.round(v) : Math.round(v * 1000) / 1000;
}
