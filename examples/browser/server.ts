// Builds the browser demo with esbuild (the page and the guest worker, each one ES module bundle)
// and serves it on loopback with the headers that make the page cross-origin isolated, without
// which a browser gives it no SharedArrayBuffer.
//
//   npx tsx examples/browser/server.ts [PORT]     then open http://127.0.0.1:PORT/
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const HERE = fileURLToPath(new URL('.', import.meta.url));

// #region headers
/** The headers of cross-origin isolation (COOP and COEP), on every response. */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
} as const;
// #endregion headers

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.map': 'application/json', '.wasm': 'application/wasm' };

/** The files of the Linux machine in v86 (the page's `?v86` guest): SeaBIOS, a 32-bit kernel, its initramfs. */
export interface V86MachineFiles {
  bios: Uint8Array;
  vgaBios: Uint8Array;
  bzimage: Uint8Array;
  initrd: Uint8Array;
}

/** Bundle page.ts, guest-worker.ts and v86-worker.ts into `outDir` (page.js, guest-worker.js, v86-worker.js). */
export async function buildBrowserDemo(outDir: string): Promise<void> {
  // #region bundle
  await build({
    entryPoints: { page: join(HERE, 'page.ts'), 'guest-worker': join(HERE, 'guest-worker.ts'), 'v86-worker': join(HERE, 'v86-worker.ts') },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    // the repository's tsconfig: experimentalDecorators for the bus's inversify classes
    tsconfig: join(HERE, '..', '..', 'tsconfig.json'),
    logLevel: 'warning',
    // v86's module reaches for Node's modules only when it runs under Node
    external: ['node:*', 'crypto', 'fs', 'perf_hooks'],
    // in this repository the @vbus packages resolve to their TypeScript sources (an installed copy: dist/)
    conditions: ['@vbus/source'],
  });
  // #endregion bundle
}

/** A running demo server. */
export interface BrowserDemoServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Build the demo and serve it on 127.0.0.1 (`port` 0 picks a free one). With `v86`, the page's
 * `?v86` guest boots those files (v86.wasm comes from the v86 package).
 */
export async function serveBrowserDemo(port = 0, v86?: V86MachineFiles): Promise<BrowserDemoServer> {
  const out = mkdtempSync(join(tmpdir(), 'vbus-browser-'));
  await buildBrowserDemo(out);
  const files: Record<string, string> = {
    '/': join(HERE, 'index.html'),
    '/index.html': join(HERE, 'index.html'),
    '/page.js': join(out, 'page.js'),
    '/page.js.map': join(out, 'page.js.map'),
    '/guest-worker.js': join(out, 'guest-worker.js'),
    '/guest-worker.js.map': join(out, 'guest-worker.js.map'),
    '/v86-worker.js': join(out, 'v86-worker.js'),
    '/v86-worker.js.map': join(out, 'v86-worker.js.map'),
  };
  const machine: Record<string, Uint8Array> = v86
    ? {
        '/v86/bios.bin': v86.bios,
        '/v86/vgabios.bin': v86.vgaBios,
        '/v86/vmlinuz': v86.bzimage,
        '/v86/initrd': v86.initrd,
        '/v86/v86.wasm': readFileSync(fileURLToPath(new URL('v86.wasm', import.meta.resolve('v86')))),
      }
    : {};
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const blob = machine[path];
    if (blob !== undefined) {
      res.writeHead(200, { ...ISOLATION_HEADERS, 'Content-Type': path.endsWith('.wasm') ? TYPES['.wasm']! : 'application/octet-stream' });
      res.end(blob);
      return;
    }
    const file = files[path];
    if (path === '/favicon.ico') {
      res.writeHead(204, ISOLATION_HEADERS).end();
      return;
    }
    if (file === undefined) {
      res.writeHead(404, ISOLATION_HEADERS).end('not found');
      return;
    }
    res.writeHead(200, { ...ISOLATION_HEADERS, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-store' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(out, { recursive: true, force: true });
    },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const s = await serveBrowserDemo(Number(process.argv[2] ?? 8086));
  process.stdout.write(`vbus browser demo: ${s.url} (Ctrl-C stops)\n`);
}
