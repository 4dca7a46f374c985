// The browser demo (examples/browser) in headless Chromium (Debian's chromium, driven by
// playwright-core): core, net, venet and virtio-compat bundled by esbuild, the bus in the page, two
// guests in Web Workers over SharedArrayBuffer. Frames move in every load step, the guests' own
// counts match the devices', nothing is lost or dropped, and the page shows the bus's counters.
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { serveBrowserDemo, type BrowserDemoServer } from '../examples/browser/server.js';
import type { DemoState } from '../examples/browser/view.js';
import { LINUX_IP, LINUX_MAC, linuxGuestScript, MAX_PAYLOAD } from '../examples/browser/v86-plan.js';
import { buildV86Initramfs, SEABIOS, VGABIOS, v86GuestAssets } from './v86/linux-image.js';

/** Debian's chromium (scripts/test-deps.mjs installs it). */
const CHROMIUM = '/usr/bin/chromium';

const WORKER_IPS = ['192.0.2.10', '192.0.2.11'];

/** The page's state, once `ready` holds of it (or it failed). */
async function stateWhen(page: Page, ready: 'phases' | 'done', timeout: number): Promise<DemoState> {
  await page.waitForFunction(
    (r) => {
      const s = (globalThis as unknown as { vbusDemo?: DemoState }).vbusDemo;
      return s !== undefined && (s.step === 'error' || s.step === 'done' || (r === 'phases' && s.phasesDone === true));
    },
    ready,
    { timeout, polling: 250 },
  );
  return page.evaluate(() => JSON.parse(JSON.stringify((globalThis as unknown as { vbusDemo: DemoState }).vbusDemo)) as DemoState);
}

describe('the browser demo in headless Chromium', { timeout: 300_000 }, () => {
  let server: BrowserDemoServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const assets = v86GuestAssets();
    const initrd = buildV86Initramfs(assets, { nic: 'ne2k', mac: LINUX_MAC, ip: `${LINUX_IP}/24`, script: linuxGuestScript(WORKER_IPS) });
    server = await serveBrowserDemo(0, { bios: readFileSync(SEABIOS), vgaBios: readFileSync(VGABIOS), bzimage: readFileSync(assets.vmlinuz), initrd });
    // as root Chromium refuses to start with its sandbox on
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1100, height: 1300 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(`${server.url}?v86`);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('runs cross-origin isolated, pings both ways, streams every load step with nothing lost, counters matching', async () => {
    expect(await page.evaluate(() => (globalThis as unknown as { crossOriginIsolated: boolean }).crossOriginIsolated)).toBe(true);
    const s = await stateWhen(page, 'phases', 200_000);
    expect(s.error).toBeUndefined();
    expect(s.phasesDone).toBe(true);
    expect(s.failures).toEqual([]);
    expect(pageErrors).toEqual([]);

    expect(s.pings.map((p) => [p.from, p.to, p.rtts.length])).toEqual([
      ['venet0', '192.0.2.11', 5],
      ['virtio1', '192.0.2.10', 5],
    ]);
    expect(s.phases.map((p) => p.window)).toEqual([1, 4, 16, 64, 128]);
    for (const p of s.phases) {
      const where = `window ${p.window}`;
      expect(p.sent, where).toBeGreaterThan(0);
      expect(p.echoed, where).toBe(p.sent);
      expect(p.lost, where).toBe(0);
      expect(p.drops, where).toBe(0);
      // each frame crosses venet0 out and virtio1 in, its echo virtio1 out and venet0 in
      expect(p.devices.venet0, where).toMatchObject({ txFrames: p.sent, rxFrames: p.sent, drops: 0 });
      expect(p.devices.virtio1, where).toMatchObject({ txFrames: p.sent, rxFrames: p.sent, drops: 0 });
      // the guests' drivers counted the same frames as the devices on the bus
      for (const dev of ['venet0', 'virtio1']) {
        expect(p.guestFrames[dev]!.tx, `${where} ${dev} tx`).toBe(p.devices[dev]!.txFrames);
        expect(p.guestFrames[dev]!.rx, `${where} ${dev} rx`).toBe(p.devices[dev]!.rxFrames);
        // signals crossed both ways (how many is the economy the chart shows, not an invariant)
        expect(p.guestFrames[dev]!.kicks, `${where} ${dev} kicks`).toBeGreaterThan(0);
        expect(p.devices[dev]!.interrupts, `${where} ${dev} interrupts`).toBeGreaterThan(0);
      }
    }
    for (const p of s.phases)
      process.stdout.write(
        `browser: window ${p.window}: ${p.sent} frames echoed in ${Math.round(p.ms)} ms (${Math.round((p.sent / p.ms) * 1000)} frames/s one way), ${p.signalsPerFrame.toFixed(4)} signals per device frame\n`,
      );
    // notification prevention: ping-pong costs about a signal per frame (a little less: a frame
    // that arrives while the device still polls its ring, pollTurns, needs no kick); a window
    // batches them away
    const spf = s.phases.map((p) => p.signalsPerFrame);
    expect(spf[0]).toBeGreaterThanOrEqual(0.5);
    expect(spf.at(-1)!).toBeLessThan(spf[0]! / 4);

    // the live table on the page shows the bus's counters
    const cells = await page.$$eval('#counters tr', (rows) =>
      rows.map((r) => Array.from(r.querySelectorAll('td,th')).map((c) => (c as { textContent: string | null }).textContent ?? '')),
    );
    const num = (t: string) => Number(t.replace(/,/g, ''));
    for (const dev of ['venet0', 'virtio1']) {
      const row = cells.find((r) => r[0] === dev)!;
      expect(row, dev).toBeDefined();
      const c = s.counters[dev]!;
      expect([num(row[1]!), num(row[2]!), num(row[3]!), num(row[4]!), num(row[5]!), num(row[6]!)], dev).toEqual([
        c.txFrames,
        c.rxFrames,
        c.drops,
        c.kicks,
        c.interrupts,
        c.suppressed,
      ]);
    }
    // the chart has a signals-per-frame line with a point per sample
    const points = await page.$eval('#chart polyline:last-of-type', (l) => (l.getAttribute('points') ?? '').trim().split(/\s+/).length);
    expect(points).toBe(s.samples.length);
    expect(points).toBeGreaterThan(5);
  });

  it('a real Linux in v86 in the same page pings both worker guests and echoes UDP at every size to 1472 off each; they ping it', async () => {
    const s = await stateWhen(page, 'done', 280_000);
    await page.screenshot({ path: join(tmpdir(), 'vbus-browser-demo.png'), fullPage: true });
    expect(s.error).toBeUndefined();
    expect(s.step).toBe('done');
    const v = s.v86!;
    const text = v.console;
    for (const ip of WORKER_IPS) {
      const pings = [...text.matchAll(new RegExp(`--- ${ip.replace(/\./g, '\\.')} ping statistics ---\\s+(\\d+) packets transmitted, (\\d+) packets received`, 'g'))].map((m) => [
        Number(m[1]),
        Number(m[2]),
      ]);
      expect(pings, `Linux pings ${ip}`).toEqual([
        [3, 3],
        [2, 2],
      ]);
      const echo = new RegExp(`VBUS-UDP-ECHO dest=${ip.replace(/\./g, '\\.')} sizes=(\\d+) ok=(\\d+) lost=(\\d+) bad=(\\d+)`).exec(text);
      expect(echo?.slice(1, 5).map(Number), `Linux echoes off ${ip}`).toEqual([MAX_PAYLOAD + 1, MAX_PAYLOAD + 1, 0, 0]);
    }
    expect(v.pingsToLinux.map((p) => [p.from, p.rtts.length])).toEqual([
      ['venet0', 3],
      ['virtio1', 3],
    ]);
    expect(v.port.txFrames).toBeGreaterThan(2 * (MAX_PAYLOAD + 1));
    expect(v.port.rxFrames).toBeGreaterThan(2 * (MAX_PAYLOAD + 1));
    expect(v.port.drops).toBe(0);
    expect(v.malformed).toBe(0);
    expect(s.failures).toEqual([]);
    expect(pageErrors).toEqual([]);
    process.stdout.write(
      `browser v86: boot to eth0 up ${(v.bootMs / 1000).toFixed(1)} s; workers -> Linux rtt ${v.pingsToLinux.map((p) => p.rtts.map((r) => r.toFixed(2)).join(', ')).join(' | ')} ms\n`,
    );
  });

  it('a page that is not cross-origin isolated gets a ConfigError naming crossOriginIsolated, not a hang', async () => {
    const plain = await browser.newPage();
    // the same server, its COOP/COEP headers taken off on the way
    await plain.route('**/*', async (route) => {
      const response = await route.fetch();
      const headers = Object.fromEntries(Object.entries(response.headers()).filter(([k]) => !k.toLowerCase().startsWith('cross-origin-')));
      await route.fulfill({ response, headers });
    });
    await plain.goto(server.url);
    expect(await plain.evaluate(() => (globalThis as unknown as { crossOriginIsolated: boolean }).crossOriginIsolated)).toBe(false);
    const s = await stateWhen(plain, 'done', 30_000);
    expect(s.step).toBe('error');
    expect(s.error).toMatch(/crossOriginIsolated.*Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp/);
    await plain.close();
  });
});
