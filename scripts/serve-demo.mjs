#!/usr/bin/env node
// A tiny static server for the demo page: serves the repository's demo/ and dist/ folders on
// 127.0.0.1 (port 0 = a free one, or --port N). `/` redirects to /demo/index.html.
// Build first (`node build.mjs`). Usable as a module: `const { url, close } = await serveDemo()`.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const SERVED = ['demo', 'dist'];
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.css': 'text/css',
  '.png': 'image/png',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.wasm': 'application/wasm',
};

/** Starts the server; resolves with its base URL and a close function. */
export function serveDemo({ port = 0, root = ROOT } = {}) {
  const server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      if (path === '/' || path === '/demo' || path === '/demo/') {
        res.writeHead(302, { location: '/demo/index.html' }).end();
        return;
      }
      const file = normalize(join(root, path));
      const top = path.split('/')[1];
      if (!SERVED.includes(top) || !file.startsWith(join(root, top) + sep)) {
        res.writeHead(404).end('not found');
        return;
      }
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      const { port: p } = server.address();
      ok({ url: `http://127.0.0.1:${p}/demo/index.html`, port: p, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const i = process.argv.indexOf('--port');
  const { url } = await serveDemo({ port: i > 0 ? Number(process.argv[i + 1]) : 0 });
  console.log(`demo: ${url}  (Ctrl-C to stop)`);
}
