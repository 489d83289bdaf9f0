// Shared by the page tests (page.test.mjs, demo.test.mjs) and the page benchmark
// (epoch-seconds.mjs): a static server for www/, Chromium through playwright-core, a page that
// records requests and errors, and what a chart's canvas holds.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The page served: www/, or $DA3D_WWW (e.g. a copy holding another build of the module). */
export const WWW = process.env.DA3D_WWW ? path.resolve(process.env.DA3D_WWW) : path.join(ROOT, 'www');
export const ARTIFACTS = path.join(ROOT, 'tests/artifacts');

/**
 * A page-test suite's fixture, as `before`/`after` hooks of the enclosing `describe`: checks that
 * the built files `needs` (paths under WWW) and Chromium are there, then makes a temporary folder
 * (`tmpPrefix`) and starts the server. The returned object holds `srv` and `tmp` once the hooks ran.
 */
export function pageSuite(needs, tmpPrefix) {
  const fixture = { srv: null, tmp: null };
  before(async () => {
    for (const need of needs) {
      assert.ok(fs.existsSync(path.join(WWW, need)), `www/${need} is missing: run scripts/build-web.sh first`);
    }
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium chromium-driver`);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    fixture.tmp = fs.mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
    fixture.srv = await startServer(WWW);
  });
  after(() => {
    fixture.srv && fixture.srv.server.close();
    fixture.tmp && fs.rmSync(fixture.tmp, { recursive: true, force: true });
  });
  return fixture;
}

// A static server for www/ with the right MIME types (application/wasm for streaming compile).

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.csv': 'text/csv; charset=utf-8',
  '.gz': 'application/gzip',
  '.ts': 'text/plain; charset=utf-8',
};

export function startServer(root) {
  const served = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    let rel = decodeURIComponent(url.pathname);
    if (rel.endsWith('/')) rel += 'index.html';
    const file = path.resolve(root, `.${rel}`);
    served.push(rel);
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': MIME[path.extname(file)] || 'application/octet-stream',
      'content-length': fs.statSync(file).size,
      'cache-control': 'no-store',
    });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, served, origin: `http://127.0.0.1:${server.address().port}` }));
  });
}

// ---------------------------------------------------------------------------------------------
// Browser helpers

export async function launch({ webgpu }) {
  const env = { ...process.env };
  delete env.VK_DRIVER_FILES; // with it set, Chromium loses its SwiftShader Vulkan driver
  delete env.VK_ICD_FILENAMES;
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    env,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-default-apps',
      '--disable-sync',
      '--disable-breakpad',
      '--no-first-run',
      '--no-default-browser-check',
      '--metrics-recording-only',
      '--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication',
      ...(webgpu ? ['--enable-unsafe-webgpu'] : []),
    ],
  });
}

/** A fresh context and page that record requests and console errors. */
export async function openPage(browser, origin) {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 1000 } });
  const requests = [];
  const errors = [];
  context.on('request', (r) => requests.push(r.url()));
  context.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
  context.on('weberror', (e) => errors.push(`uncaught: ${e.error().message}`));
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('worker', (w) => w.on('console', (m) => m.type() === 'error' && errors.push(`worker console: ${m.text()}`)));
  page.on('crash', () => errors.push('page crashed'));
  await page.goto(`${origin}/index.html`);
  // The module is ready when the backend line names a backend.
  await page.waitForFunction(() => document.getElementById('backend').dataset.backend !== '', null, { timeout: 120_000 });
  return { context, page, requests, errors };
}

export async function text(page, selector) {
  return (await page.textContent(selector)).trim();
}

/** Pixels of a chart: non-background ones and saturated (data-coloured) ones. */
export async function chartPixels(page, id) {
  return page.evaluate((id) => {
    const canvas = document.getElementById(id);
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let nonBackground = 0;
    let colored = 0;
    for (let i = 0; i < data.length; i += 4) {
      const r = data[i];
      const g = data[i + 1];
      const b = data[i + 2];
      if (r !== 255 || g !== 255 || b !== 255) nonBackground += 1;
      if (Math.max(r, g, b) - Math.min(r, g, b) > 60) colored += 1;
    }
    return {
      pixels: data.length / 4,
      nonBackground,
      colored,
      points: Number(canvas.dataset.points || 0),
      role: canvas.getAttribute('role'),
      label: canvas.getAttribute('aria-label') || '',
    };
  }, id);
}
