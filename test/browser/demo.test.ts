/**
 * The demo page (demo/index.html) in headless Chromium: it loads without console errors, a render
 * appears (the canvas is not blank), a slider changes the pixels, and a few GAN steps on a
 * dropped PNG complete in the worker with the loss / parameter readout updating. The page's
 * scripts are bundled here with esbuild into a temporary folder (not dist/, which other tests
 * build concurrently) and served by scripts/serve-demo.mjs on 127.0.0.1.
 *
 * Needs Debian's `chromium` (/usr/bin/chromium, or CHROMIUM_PATH); skips with a message without it.
 */
import { build } from 'esbuild';
import { existsSync, mkdirSync, mkdtempSync, copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { Rng } from '../../src/autodiff/rng.js';
import { noGrad } from '../../src/autodiff/tape.js';
import { sampleScene, renderScene } from '../../src/render/scene.js';
import { presetConfig, defaultParams } from '../../src/render/presets/index.js';
import { PARAMETER_TABLE } from '../../src/render/params.js';
import { DEMO_HIDDEN } from '../../src/gan/demo.js';
import { encodePngGrey8 } from '../../src/io/png.js';
// @ts-expect-error: a plain .mjs script without declarations
import { serveDemo } from '../../scripts/serve-demo.mjs';
import { requireInput } from '../required-input.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = requireInput(`Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`, existsSync(CHROMIUM), 'test/browser/demo.test.ts');

/** Pixel statistics of a canvas, read in the page. */
async function canvasStats(page: Page, id: string): Promise<{ w: number; h: number; variance: number; sum: number; hash: number }> {
  return page.evaluate((cid) => {
    const c = document.getElementById(cid) as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let s = 0, s2 = 0, hash = 0;
    const n = d.length / 4;
    for (let i = 0; i < d.length; i += 4) {
      s += d[i];
      s2 += d[i] * d[i];
      hash = (hash * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) >>> 0;
    }
    const mean = s / n;
    return { w: c.width, h: c.height, variance: s2 / n - mean * mean, sum: s, hash };
  }, id);
}

describe.skipIf(!haveChromium)('demo page in headless Chromium', () => {
  let site: string;
  let profile: string;
  let server: { url: string; close: () => Promise<void> };
  let browser: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    site = mkdtempSync(join(tmpdir(), 'drg-demo-'));
    profile = mkdtempSync(join(tmpdir(), 'drg-chromium-'));
    mkdirSync(join(site, 'demo'));
    copyFileSync(join(ROOT, 'demo/index.html'), join(site, 'demo/index.html'));
    await build({
      entryPoints: [join(ROOT, 'demo/app.ts'), join(ROOT, 'demo/worker.ts')],
      outdir: join(site, 'dist/demo'),
      bundle: true, platform: 'browser', format: 'esm', target: 'es2022', minify: true, logLevel: 'silent',
    });
    server = await serveDemo({ root: site });
    const { chromium } = await import('playwright-core');
    // A fresh profile folder (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1120, height: 900 },
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync',
      ],
    });
    page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (site) rmSync(site, { recursive: true, force: true });
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('loads, renders a micrograph and its mask, and re-renders when a slider moves', async () => {
    await page.goto(server.url);
    await page.waitForFunction(() => Number(document.body.dataset.renders ?? 0) >= 1, null, { timeout: 60_000 });
    const img = await canvasStats(page, 'image');
    const mask = await canvasStats(page, 'mask');
    expect(img.w).toBe(128);
    expect(img.variance).toBeGreaterThan(0);
    expect(mask.variance).toBeGreaterThan(0);

    const renders = Number(await page.evaluate(() => document.body.dataset.renders));
    await page.locator('input[data-param="particleBrightness"]').fill('0.95');
    await page.waitForFunction((n) => Number(document.body.dataset.renders) > n, renders, { timeout: 60_000 });
    // Coalesced renders: wait until no render is pending.
    await page.waitForTimeout(300);
    const after = await canvasStats(page, 'image');
    expect(after.hash).not.toBe(img.hash);
    expect(after.sum).toBeGreaterThan(img.sum);
    expect(consoleErrors).toEqual([]);
  });

  it('decodes a dropped PNG, tiles it, and runs GAN steps in the worker with the readout updating', async () => {
    // A "real" micrograph: a 256 px render with the demo's hidden parameters, as a PNG file.
    const params = defaultParams('tio2-sem');
    PARAMETER_TABLE.forEach((p, i) => (params[i] = DEMO_HIDDEN[p.name] ?? params[i]));
    const s = sampleScene(presetConfig('tio2-sem'), new Rng(42));
    const r = noGrad(() => renderScene(s, params, { masks: false }));
    const png = join(site, 'real.png');
    writeFileSync(png, encodePngGrey8(256, 256, Float32Array.from(r.image.data)));

    await page.locator('#file').setInputFiles(png);
    await page.waitForFunction(() => Number(document.body.dataset.patches ?? 0) > 0, null, { timeout: 60_000 });
    expect(await page.locator('#image-info').textContent()).toMatch(/256 x 256 px, \d+ patches of 64 px/);
    expect((await canvasStats(page, 'real')).variance).toBeGreaterThan(0);

    await page.locator('#steps').fill('3');
    await page.locator('#train').click();
    await page.waitForFunction(() => Number(document.body.dataset.steps ?? 0) >= 3, null, { timeout: 120_000 });
    await page.waitForFunction(() => (document.getElementById('status')?.textContent ?? '').includes('training done'), null, { timeout: 60_000 });
    expect(await page.locator('#r-step').textContent()).toBe('3 / 3');
    const lossG = Number(await page.locator('#r-lossG').textContent());
    const lossD = Number(await page.locator('#r-lossD').textContent());
    expect(Number.isFinite(lossG) && lossG >= 0).toBe(true);
    expect(Number.isFinite(lossD) && lossD >= 0).toBe(true);
    const learned = await page.locator('#learned tbody tr').count();
    expect(learned).toBeGreaterThan(3);
    expect((await canvasStats(page, 'fake')).variance).toBeGreaterThan(0);
    expect(await page.locator('#error').textContent()).toBe('');
    expect(consoleErrors).toEqual([]);

    // The committed screenshot is refreshed on request only (it is a doc asset).
    if (process.env.DEMO_SCREENSHOT) await page.screenshot({ path: join(ROOT, 'docs/demo-screenshot.png'), fullPage: true });
  });
});
