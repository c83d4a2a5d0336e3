import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The console's pages: scripts and styles from its own origin only, nothing inline, no framing, no base. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
};

export interface ConsoleAsset {
  body: Buffer;
  type: string;
}

export interface ConsoleBundle {
  index: Buffer | null;
  assets: ReadonlyMap<string, ConsoleAsset>;
}

/**
 * `npm run build` writes the bundle to dist/console (scripts/build-console.mjs): found from the compiled service
 * (dist/apps/badge-service/...) and from the sources (tests run them with ts-jest) alike.
 */
export function findConsoleDir(from: string = __dirname): string | null {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const inDist = path.basename(dir) === 'dist' ? path.join(dir, 'console') : path.join(dir, 'dist', 'console');
    if (existsSync(path.join(inDist, 'index.html'))) return inDist;
    if (path.dirname(dir) === dir) return null;
  }
}

/** Read once at start: a fixed set of files, so no request path ever reaches the file system. */
export function loadConsoleBundle(dir: string | null = findConsoleDir()): ConsoleBundle {
  if (dir === null) return { index: null, assets: new Map() };
  const assets = new Map<string, ConsoleAsset>();
  const assetDir = path.join(dir, 'assets');
  if (existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      const type = TYPES[path.extname(name)];
      if (type) assets.set(name, { body: readFileSync(path.join(assetDir, name)), type });
    }
  }
  return { index: readFileSync(path.join(dir, 'index.html')), assets };
}
