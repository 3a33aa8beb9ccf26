/** Paths of the repository and its compiled entry points, from the compiled test files. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// This file compiles to build/test/helpers/paths.js.
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const script = (name: string): string => path.join(repoRoot, 'scripts', name);
export const builtScript = (name: string): string => path.join(repoRoot, 'build', 'scripts', `${name}.js`);
