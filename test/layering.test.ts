import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { importSpecifiers, importViolation } from './helpers/layering.js';

// build/test/layering.test.js → repo root
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(rel));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

test('layering: every import in the tree respects the layers', (t) => {
  const bad: string[] = [];
  let files = 0;
  for (const top of ['epmd', 'runtime', 'broker', 'scripts']) {
    if (!fs.existsSync(path.join(root, top))) continue;
    for (const f of tsFiles(top)) {
      files++;
      for (const spec of importSpecifiers(fs.readFileSync(path.join(root, f), 'utf8'))) {
        const why = importViolation(f, spec);
        if (why !== undefined) bad.push(`${f}: '${spec}': ${why}`);
      }
    }
  }
  t.true(files > 0, 'found source files');
  t.deepEqual(bad, []);
});

test('layering: the rules reject what the design forbids', (t) => {
  const rows: [string, string, boolean][] = [
    ['epmd/daemon.ts', './framer.js', true],
    ['epmd/daemon.ts', 'node:net', true],
    ['epmd/daemon.ts', '../runtime/log.js', false],
    ['epmd/daemon.ts', 'winston', false],
    ['runtime/dist/net-kernel.ts', '../../epmd/client.js', true],
    ['runtime/dist/net-kernel.ts', '../../epmd/daemon.js', false],
    ['runtime/dist/net-kernel.ts', '../../broker/index.js', false],
    ['runtime/dist/codec.ts', 'cbor-x', true],
    ['runtime/dist/codec.ts', 'mqtt-packet', false],
    ['broker/routing/router.ts', '../../runtime/index.js', true],
    ['broker/routing/router.ts', '../../runtime/process/process.js', false],
    ['broker/routing/router.ts', '../../epmd/client.js', false],
    ['broker/mqtt/packet.ts', 'mqtt-packet', true],
    ['scripts/node.ts', '../broker/index.js', true],
    ['scripts/node.ts', '../broker/app.js', false],
    ['scripts/bench/trie.ts', '../../broker/mqtt/trie.js', true],
    ['test/epmd/daemon.test.ts', '../../epmd/daemon.js', true],
  ];
  for (const [file, spec, ok] of rows) {
    t.is(importViolation(file, spec) === undefined, ok, `${file} imports ${spec}`);
  }
});

test('layering: import specifiers are all found', (t) => {
  const src = [
    "import a from './a.js';",
    "import type { B } from '../b.js';",
    "export { c } from './c.js';",
    "export * from './d.js';",
    "import './e.js';",
    "const f = await import('./f.js');",
    "import {\n  g,\n  h,\n} from './gh.js';",
  ].join('\n');
  t.deepEqual(importSpecifiers(src), ['./a.js', '../b.js', './c.js', './d.js', './e.js', './f.js', './gh.js']);
});
