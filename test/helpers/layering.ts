/**
 * The import rules of DESIGN.md's layers, as a pure function over (file, specifier).
 * Used by test/layering.test.ts on every .ts file in the tree.
 */
import path from 'node:path';

export type Layer = 'epmd' | 'runtime' | 'broker' | 'scripts' | 'test';

/** Third-party packages each layer may import (node: builtins are allowed everywhere). */
const PACKAGES: Record<Layer, readonly string[] | 'any'> = {
  epmd: [],
  runtime: ['cbor-x', 'winston'],
  broker: ['mqtt-packet', 'ws'],
  scripts: 'any',
  test: 'any',
};

/** Files of another layer a layer may import (paths from the repo root, .ts). */
const CROSS: Record<Layer, readonly string[] | 'any'> = {
  epmd: [],
  runtime: ['epmd/client.ts', 'epmd/protocol.ts'],
  broker: ['runtime/index.ts'],
  scripts: ['epmd/index.ts', 'runtime/index.ts', 'broker/index.ts'],
  test: 'any',
};

/** Benchmarks measure every layer from outside, so they may import any of them (STYLE §2.2). */
const IMPORTS_ANYTHING = ['scripts/bench/'];

export function layerOf(file: string): Layer | undefined {
  const top = file.split('/')[0];
  return top === 'epmd' || top === 'runtime' || top === 'broker' || top === 'scripts' || top === 'test'
    ? top
    : undefined;
}

/** Why `spec` imported from `file` breaks the layering, or undefined when it is allowed. */
export function importViolation(file: string, spec: string): string | undefined {
  const layer = layerOf(file);
  if (layer === undefined) return undefined;
  if (spec.startsWith('node:')) return undefined;
  if (IMPORTS_ANYTHING.some((p) => file.startsWith(p))) return undefined;
  if (!spec.startsWith('.')) {
    const allowed = PACKAGES[layer];
    const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec);
    if (allowed === 'any' || allowed.includes(pkg)) return undefined;
    return `${layer}/ may not import package '${pkg}'`;
  }
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '.ts');
  const targetLayer = layerOf(target);
  if (targetLayer === undefined) return `import leaves the source tree: ${target}`;
  if (targetLayer === layer) return undefined;
  const cross = CROSS[layer];
  if (cross === 'any' || cross.includes(target)) return undefined;
  return `${layer}/ may not import ${target}`;
}

/** Every module specifier in a TypeScript source (static, re-export, side-effect and dynamic imports). */
export function importSpecifiers(source: string): string[] {
  const out: string[] = [];
  const re = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const m of source.matchAll(re)) {
    const s = m[1] ?? m[2] ?? m[3];
    if (s !== undefined) out.push(s);
  }
  return out;
}
