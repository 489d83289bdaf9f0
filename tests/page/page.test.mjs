// Headless-browser tests of the da3d page (www/): `node --test tests/page/`.
//
// Needs: the page built (scripts/build-web.sh: www/pkg/ and www/data/), /usr/bin/chromium
// (apt-get install -y chromium chromium-driver), `npm ci` in tests/page, and for the bundle
// test the CLI ($CARGO_TARGET_DIR/debug/da3d, `cargo build -p da3d-cli`).
//
// The test serves www/ itself on 127.0.0.1 (a free port), drives Chromium with playwright-core,
// records every request and console error, and trains a short schedule on Mammography on
// WebGPU (SwiftShader, software) and on the CPU fallback.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WWW = process.env.DA3D_WWW ? path.resolve(process.env.DA3D_WWW) : path.join(ROOT, 'www');
const ARTIFACTS = path.join(ROOT, 'tests/artifacts');
const TARGET = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache/da3d-target');
const CLI = process.env.DA3D_CLI || path.join(TARGET, 'debug/da3d');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const DATA_DIR = process.env.DA3D_DATA_DIR || path.join(ROOT, '../shared/datasets');

// The short schedule trained in the browser. SwiftShader WebGPU needs about 10-20 s per
// training step (5 steps per epoch at batch 2048), so one epoch per phase. With the reference
// preset and seed 0 this reaches a test ROC AUC of about 0.88 on Mammography (the CLI on the CPU:
// 0.885; seeds 1-3 give 0.75-0.88). Every value can be overridden from the environment.
const SCHEDULE = {
  preset: process.env.PAGE_PRESET || 'reference',
  aae: process.env.PAGE_EPOCHS_AAE || '1',
  pretrain: process.env.PAGE_EPOCHS_PRETRAIN || '1',
  da3d: process.env.PAGE_EPOCHS_DA3D || '1',
  batch: process.env.PAGE_BATCH || '2048',
  seed: process.env.PAGE_SEED || '0',
};
const TRAIN_TIMEOUT_MS = Number(process.env.PAGE_TRAIN_TIMEOUT_S || 1500) * 1000;
const CHARTS = ['loss-aae', 'loss-alarm', 'loss-generator', 'loss-critic', 'latent', 'hist', 'roc', 'pr'];

// ---------------------------------------------------------------------------------------------
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

function startServer(root) {
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

async function launch({ webgpu }) {
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
async function openPage(browser, origin) {
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

/** Every request stayed on the test server (blob: URLs are the page's own downloads). */
function assertLocalRequests(requests, origin) {
  const outside = requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith(`blob:${origin}/`) && !u.startsWith('data:'));
  assert.deepEqual(outside, [], `requests left 127.0.0.1: ${outside.join(', ')}`);
  assert.ok(requests.some((u) => u.endsWith('/pkg/da3d_web_bg.wasm')), `the worker's module request was not recorded: ${requests.join(', ')}`);
}

async function text(page, selector) {
  return (await page.textContent(selector)).trim();
}

/** Wait until the visible error message matches `pattern`; returns its text. */
async function expectError(page, pattern, what) {
  try {
    await page.waitForFunction(
      (source) => {
        const box = document.getElementById('error');
        return !box.hidden && new RegExp(source).test(box.textContent);
      },
      pattern.source,
      { timeout: 30_000 },
    );
  } catch (e) {
    const shown = await page.evaluate(() => ({ hidden: document.getElementById('error').hidden, text: document.getElementById('error').textContent }));
    assert.fail(`${what}: expected a visible message matching ${pattern}, page shows ${JSON.stringify(shown)}`);
  }
  assert.ok(await page.isVisible('#error'), `${what}: the message is not visible`);
  return text(page, '#error-text');
}

/** Pixels of a chart: non-background ones and saturated (data-coloured) ones. */
async function chartPixels(page, id) {
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
      nonBackground,
      colored,
      points: Number(canvas.dataset.points || 0),
      role: canvas.getAttribute('role'),
      label: canvas.getAttribute('aria-label') || '',
    };
  }, id);
}

async function assertChartsDrawn(page, ids) {
  for (const id of ids) {
    const px = await chartPixels(page, id);
    assert.equal(px.role, 'img', `#${id} has role=img`);
    assert.ok(px.points > 0, `#${id} drew no data points (${JSON.stringify(px)})`);
    // a one-epoch loss curve is a few dots: some dozens of coloured pixels
    assert.ok(px.colored > 20, `#${id} looks blank: ${px.colored} coloured pixels`);
    assert.ok(!/no data yet|no scores yet|needs labels/i.test(px.label), `#${id} aria-label does not describe data: ${px.label}`);
  }
}

async function loadBundledMammography(page) {
  await page.selectOption('#dataset', { value: 'data/mammography.csv' });
  await page.click('#load-dataset');
  await page.waitForFunction(() => /11,183 rows/.test(document.getElementById('data-summary').textContent), null, { timeout: 60_000 });
  await page.waitForSelector('#train:not([disabled])');
  const summary = await text(page, '#data-summary');
  assert.match(summary, /260 anomalies/);
  assert.equal(await page.$$eval('#preview tbody tr', (rows) => rows.length), 8, 'preview shows the first 8 rows');
  assert.equal(await page.inputValue('#label-col'), 'label');
}

async function setSchedule(page, s = SCHEDULE) {
  await page.selectOption('#preset', s.preset);
  // changing the preset refills the fields from the config: wait for it before editing
  await page.waitForSelector('#train:not([disabled])');
  await page.fill('#ep-aae', s.aae);
  await page.fill('#ep-pre', s.pretrain);
  await page.fill('#ep-da3d', s.da3d);
  await page.fill('#batch', s.batch);
  await page.fill('#seed', s.seed);
}

/** Train with the schedule on the page and wait for the results; returns timings. */
async function trainAndWait(page) {
  const t0 = Date.now();
  await page.click('#train');
  await page.waitForSelector('#pause:not([disabled])', { timeout: 60_000 });
  // The progress region announces politely; the bar moves.
  assert.equal(await page.getAttribute('#live', 'aria-live'), 'polite');
  // Training on SwiftShader takes minutes: say where it stands once a minute.
  const ticker = setInterval(() => text(page, '#progress-text').then((t) => console.log(`  … ${t}`), () => {}), 60_000);
  try {
    await page.waitForFunction(
      () => /ROC AUC \d/.test(document.getElementById('auc').textContent) || !document.getElementById('error').hidden,
      null,
      { timeout: TRAIN_TIMEOUT_MS, polling: 1000 },
    );
  } finally {
    clearInterval(ticker);
  }
  if (await page.isVisible('#error')) assert.fail(`training failed: ${await text(page, '#error-text')}`);
  const seconds = JSON.parse(await page.getAttribute('#epoch-times', 'data-seconds'));
  return { wall: (Date.now() - t0) / 1000, seconds };
}

function meanSeconds(seconds) {
  const mean = (s) => (s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN);
  return Object.fromEntries(Object.entries(seconds).map(([k, v]) => [k, mean(v)]));
}

function reportTiming(backend, timing) {
  const m = meanSeconds(timing.seconds);
  const each = Object.entries(timing.seconds).map(([k, v]) => `${k} [${v.map((x) => x.toFixed(1)).join(', ')}]`).join(' ');
  // The first epoch of each phase includes compiling that phase's shaders (WebGPU).
  const line = `browser seconds per epoch: ${backend} aae ${m.aae.toFixed(2)} pretrain ${m.pretrain.toFixed(2)} da3d ${m.da3d.toFixed(2)}` +
    ` (Mammography, ${SCHEDULE.preset} preset, batch ${SCHEDULE.batch}; each epoch: ${each}; Train click to AUC shown ${timing.wall.toFixed(1)} s)`;
  console.log(line);
  return m;
}

async function aucShown(page) {
  const auc = await text(page, '#auc');
  const m = auc.match(/ROC AUC (\d\.\d+)/);
  assert.ok(m, `no AUC shown: '${auc}'`);
  return Number(m[1]);
}

async function downloadText(page, selector) {
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), page.click(selector)]);
  const file = await download.path();
  return { name: download.suggestedFilename(), bytes: fs.readFileSync(file) };
}

function parseScores(csv) {
  const lines = csv.toString('utf8').trim().split('\n');
  assert.equal(lines[0], 'line,score,anomaly');
  return lines.slice(1).map((l) => {
    const [line, score, anomaly] = l.split(',');
    return { line: Number(line), score: Number(score), anomaly: Number(anomaly) };
  });
}

// ---------------------------------------------------------------------------------------------

describe('da3d page', () => {
  let srv;
  let tmp;
  const timings = {};

  before(async () => {
    for (const need of ['index.html', 'pkg/da3d_web.js', 'pkg/da3d_web_bg.wasm', 'data/index.json']) {
      assert.ok(fs.existsSync(path.join(WWW, need)), `www/${need} is missing: run scripts/build-web.sh first`);
    }
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium chromium-driver`);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'da3d-page-'));
    srv = await startServer(WWW);
  });

  after(() => {
    srv && srv.server.close();
    tmp && fs.rmSync(tmp, { recursive: true, force: true });
    if (Object.keys(timings).length) console.log(`page test timings: ${JSON.stringify(timings)}`);
  });

  test('the server serves the www/ folder', async () => {
    const res = await fetch(`${srv.origin}/index.html`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), fs.readFileSync(path.join(WWW, 'index.html'), 'utf8'));
    const wasm = await fetch(`${srv.origin}/pkg/da3d_web_bg.wasm`);
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
    const index = await (await fetch(`${srv.origin}/data/index.json`)).json();
    assert.ok(index.datasets.some((d) => d.name === 'mammography'), 'data/index.json lists Mammography');
  });

  test('WebGPU: trains Mammography, shows AUC > 0.7 and draws every chart', { timeout: TRAIN_TIMEOUT_MS + 300_000 }, async () => {
    const browser = await launch({ webgpu: true });
    let page;
    try {
      const opened = await openPage(browser, srv.origin);
      page = opened.page;
      const backend = await page.getAttribute('#backend', 'data-backend');
      assert.equal(backend, 'webgpu', `expected WebGPU, page says: ${await text(page, '#backend')}`);
      assert.equal(await page.isChecked('#use-gpu'), true, '"Use WebGPU" is on by default');
      await loadBundledMammography(page);
      await setSchedule(page);
      const timing = await trainAndWait(page);
      timings.webgpu = reportTiming('webgpu', timing);
      const auc = await aucShown(page);
      console.log(`webgpu: test ROC AUC ${auc}`);
      assert.ok(auc > 0.7, `AUC ${auc} ≤ 0.7`);
      await assertChartsDrawn(page, CHARTS);
      assert.ok((await page.$$('#top tbody tr')).length > 0, 'the most anomalous rows are listed');

      // The threshold: keyboard on the slider, then dragging on the histogram.
      await page.focus('#threshold');
      await page.keyboard.press('End');
      const atMax = await text(page, '#flagged');
      assert.match(atMax, /^0 of /, `at the highest threshold nothing is flagged: ${atMax}`);
      await page.keyboard.press('Home');
      assert.notEqual(await text(page, '#flagged'), atMax, 'Home lowers the threshold');
      await page.keyboard.press('End');
      const max = Number(await page.inputValue('#threshold'));
      const min = Number(await page.getAttribute('#threshold', 'min'));
      const box = await page.locator('#hist').boundingBox();
      await page.mouse.move(box.x + box.width * 0.8, box.y + box.height / 2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 4 });
      await page.mouse.up();
      const dragged = Number(await page.inputValue('#threshold'));
      assert.ok(dragged > min && dragged < max, `dragging on the histogram moves the threshold (${min} < ${dragged} < ${max})`);
      assert.match(await text(page, '#flagged'), /rows flagged/);

      // Score the whole file on the GPU model and download the scores.
      const scores = await downloadText(page, '#download-scores');
      assert.equal(parseScores(scores.bytes).length, 11183);

      await page.screenshot({ path: path.join(ARTIFACTS, 'page.png'), fullPage: true });
      assert.deepEqual(opened.errors, [], 'no console errors');
      assertLocalRequests(opened.requests, srv.origin);
    } catch (e) {
      if (page) await page.screenshot({ path: path.join(ARTIFACTS, 'page-failed-webgpu.png'), fullPage: true }).catch(() => {});
      throw e;
    } finally {
      await browser.close();
    }
  });

  test('CPU fallback: says why, trains Mammography, AUC > 0.7, exports and re-imports the bundle', { timeout: TRAIN_TIMEOUT_MS }, async () => {
    const browser = await launch({ webgpu: false });
    let page;
    try {
      const opened = await openPage(browser, srv.origin);
      page = opened.page;
      assert.equal(await page.getAttribute('#backend', 'data-backend'), 'cpu');
      const backendText = await text(page, '#backend');
      assert.match(backendText, /CPU/);
      assert.match(backendText, /Why: WebGPU unavailable/, `the page says why the CPU is used: ${backendText}`);
      await loadBundledMammography(page);
      await setSchedule(page);
      const timing = await trainAndWait(page);
      timings.cpu = reportTiming('cpu', timing);
      const auc = await aucShown(page);
      console.log(`cpu: test ROC AUC ${auc}`);
      assert.ok(auc > 0.7, `AUC ${auc} ≤ 0.7`);
      await assertChartsDrawn(page, CHARTS);

      // Scores and model bundle downloads; the bundle re-imported gives the same scores.
      const scores = parseScores((await downloadText(page, '#download-scores')).bytes);
      assert.equal(scores.length, 11183);
      const bundle = await downloadText(page, '#download-model');
      assert.ok(bundle.bytes.length > 1000, `bundle of ${bundle.bytes.length} bytes`);
      const bundlePath = path.join(tmp, 'page-model.da3d');
      fs.writeFileSync(bundlePath, bundle.bytes);
      await page.setInputFiles('#bundle-file', bundlePath);
      await page.waitForFunction(() => /Imported bundle/.test(document.getElementById('model-info').textContent));
      await page.waitForFunction(() => /all rows of/.test(document.getElementById('hist-caption').textContent));
      const again = parseScores((await downloadText(page, '#download-scores')).bytes);
      assert.equal(again.length, scores.length);
      const worst = Math.max(...again.map((r, i) => Math.abs(r.score - scores[i].score)));
      assert.ok(worst <= 1e-5, `re-imported bundle scores differ by up to ${worst}`);

      assert.deepEqual(opened.errors, [], 'no console errors');
      assertLocalRequests(opened.requests, srv.origin);
    } catch (e) {
      if (page) await page.screenshot({ path: path.join(ARTIFACTS, 'page-failed-cpu.png'), fullPage: true }).catch(() => {});
      throw e;
    } finally {
      await browser.close();
    }
  });

  test('CPU: Pause holds training, Resume goes on, Stop finishes the model as it is', { timeout: 300_000 }, async () => {
    const browser = await launch({ webgpu: false });
    try {
      const { page, errors } = await openPage(browser, srv.origin);
      await loadBundledMammography(page);
      await setSchedule(page, { ...SCHEDULE, aae: '50', pretrain: '5', da3d: '50', batch: '256' });
      const step = async () => Number((await text(page, '#progress-text')).match(/step (\d+)\//)?.[1] ?? -1);
      await page.click('#train');
      await page.waitForFunction(() => /step ([3-9]|\d\d+)\//.test(document.getElementById('progress-text').textContent));
      await page.click('#pause');
      await page.waitForFunction(() => /paused/.test(document.getElementById('progress-text').textContent));
      assert.equal(await text(page, '#pause'), 'Resume');
      assert.equal(await page.getAttribute('#pause', 'aria-pressed'), 'true');
      const held = await step();
      await page.waitForTimeout(1500);
      assert.equal(await step(), held, 'no step while paused');
      await page.click('#pause');
      await page.waitForFunction((n) => Number(document.getElementById('progress-text').textContent.match(/step (\d+)\//)?.[1]) > n, held);
      await page.click('#stop');
      await page.waitForFunction(() => /Stopped/.test(document.getElementById('progress-text').textContent), null, { timeout: 120_000 });
      await page.waitForFunction(() => /ROC AUC \d/.test(document.getElementById('auc').textContent));
      assert.match(await text(page, '#live'), /Training stopped/);
      assert.equal(await page.isDisabled('#download-model'), false, 'the stopped model can be downloaded');
      assert.deepEqual(errors, [], 'no console errors');
    } finally {
      await browser.close();
    }
  });

  test('a bundle trained by the CLI scores the same in the page (CPU, ±1e-5)', { timeout: 600_000 }, async (t) => {
    if (!fs.existsSync(CLI)) {
      t.skip(`${CLI} is missing: cargo build -p da3d-cli`);
      return;
    }
    // A small labelled CSV: every 7th row of Mammography (about 1,600 rows, 36 anomalies).
    const source = fs.readFileSync(path.join(DATA_DIR, 'mammography.csv'), 'utf8').trim().split('\n');
    const small = [source[0], ...source.slice(1).filter((_, i) => i % 7 === 6)];
    const csvPath = path.join(tmp, 'small.csv');
    fs.writeFileSync(csvPath, `${small.join('\n')}\n`);
    const model = path.join(tmp, 'm.da3d');
    const cliScores = path.join(tmp, 's.csv');
    // (stdout and stderr are kept: execFileSync's error shows them when the CLI fails)
    execFileSync(CLI, ['train', csvPath, '-o', model, '--epochs-aae', '3', '--epochs-pretrain', '1', '--epochs', '2', '--quiet'], { stdio: 'pipe' });
    execFileSync(CLI, ['score', model, csvPath, '-o', cliScores], { stdio: 'pipe' });
    const expected = parseScores(fs.readFileSync(cliScores));

    const browser = await launch({ webgpu: false });
    let page;
    try {
      const opened = await openPage(browser, srv.origin);
      page = opened.page;
      await page.setInputFiles('#csv-file', csvPath);
      await page.waitForFunction((n) => document.getElementById('data-summary').textContent.includes(`${n.toLocaleString('en')} rows`), small.length - 1);
      await page.setInputFiles('#bundle-file', model);
      await page.waitForFunction(() => /all rows of/.test(document.getElementById('hist-caption').textContent) || !document.getElementById('error').hidden);
      if (await page.isVisible('#error')) assert.fail(`scoring failed: ${await text(page, '#error-text')}`);
      assert.match(await text(page, '#model-info'), /Imported bundle/);
      const got = parseScores((await downloadText(page, '#download-scores')).bytes);
      assert.equal(got.length, expected.length, 'same number of rows');
      let worst = 0;
      got.forEach((r, i) => {
        const e = expected[i];
        assert.equal(r.line, e.line, `row ${i}: line`);
        worst = Math.max(worst, Math.abs(r.score - e.score));
        assert.ok(Math.abs(r.score - e.score) <= 1e-5, `line ${r.line}: page ${r.score} vs CLI ${e.score}`);
        assert.equal(r.anomaly, e.anomaly, `line ${r.line}: anomaly flag`);
      });
      console.log(`CLI bundle: ${got.length} rows, largest score difference page vs CLI ${worst.toExponential(2)}`);
      assert.deepEqual(opened.errors, [], 'no console errors');
      assertLocalRequests(opened.requests, srv.origin);
    } finally {
      await browser.close();
    }
  });

  test('bad input shows a message on the page', { timeout: 300_000 }, async () => {
    const browser = await launch({ webgpu: false });
    try {
      const { page, errors, requests } = await openPage(browser, srv.origin);
      const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
      await page.setInputFiles('#csv-file', { name: 'picture.png', mimeType: 'image/png', buffer: png });
      await expectError(page, /picture\.png.*not a CSV file/, 'a PNG file');

      await page.setInputFiles('#csv-file', { name: 'binary.csv', mimeType: 'text/csv', buffer: Buffer.concat([png, Buffer.alloc(64)]) });
      await expectError(page, /binary\.csv.*not a CSV file/, 'binary data named .csv');

      const ragged = 'f1,f2,label\n1.0,2.0,0\n3.0,0\n5.0,6.0,1\n';
      await page.setInputFiles('#csv-file', { name: 'ragged.csv', mimeType: 'text/csv', buffer: Buffer.from(ragged) });
      const raggedText = await expectError(page, /ragged\.csv.*line 3/, 'a ragged row');
      console.log(`ragged CSV message: ${raggedText}`);

      // The drop zone takes files too.
      const dropped = await page.evaluateHandle(() => {
        const dt = new DataTransfer();
        dt.items.add(new File(['f1,f2,label\n1.0,2.0\n'], 'dropped.csv', { type: 'text/csv' }));
        return dt;
      });
      await page.dispatchEvent('#drop', 'drop', { dataTransfer: dropped });
      await expectError(page, /dropped\.csv.*line 2/, 'a ragged CSV dropped on the drop zone');

      // Over 200 MB: a sparse file, refused before it is read.
      const huge = path.join(tmp, 'huge.csv');
      fs.closeSync(fs.openSync(huge, 'w'));
      fs.truncateSync(huge, 201 * 1024 * 1024);
      await page.setInputFiles('#csv-file', huge);
      await expectError(page, /huge\.csv.*over 200 MB/, 'a file over 200 MB');

      await page.setInputFiles('#bundle-file', { name: 'junk.da3d', mimeType: 'application/octet-stream', buffer: Buffer.from('not a bundle at all') });
      await expectError(page, /junk\.da3d.*not a usable model bundle/, 'a file that is no bundle');

      // A bundle that does not fit the data: the CLI's model (f1..f6) on a CSV with other columns.
      const model = path.join(tmp, 'm.da3d');
      if (fs.existsSync(model)) {
        await page.setInputFiles('#csv-file', { name: 'other.csv', mimeType: 'text/csv', buffer: Buffer.from('a,b,label\n1,2,0\n3,4,0\n5,6,1\n') });
        await page.waitForFunction(() => /other\.csv: 3 rows/.test(document.getElementById('data-summary').textContent));
        await page.setInputFiles('#bundle-file', model);
        const msg = await expectError(page, /does not fit/, 'a bundle that does not fit the data');
        console.log(`bundle mismatch message: ${msg}`);
      }
      assert.deepEqual(errors, [], 'errors are shown on the page, not in the console');
      assertLocalRequests(requests, srv.origin);
    } finally {
      await browser.close();
    }
  });
});
