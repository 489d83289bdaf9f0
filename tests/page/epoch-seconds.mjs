// The page's speed, as a visitor's browser runs it: seconds per epoch on the CPU fallback with 1
// and with 2 parallel workers, and the seconds from the Train click to the finished model.
// A benchmark that prints figures (docs/performance.md), not a test.
//
//   node tests/page/epoch-seconds.mjs [--workers 1,2] [--epochs-aae 10] [--epochs-pretrain 5] [--rounds 1]
//
// Serves www/ (or $DA3D_WWW: e.g. a copy holding another build of the module), loads the bundled
// Mammography, trains the `quick` preset's networks with as many models as workers (each worker
// one model: one worker alone, or N side by side) and reads the page's own per-epoch timings.

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { WWW, launch, openPage, startServer, text } from './harness.mjs';

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const WORKERS = option('workers', '1,2').split(',').map(Number);
const EPOCHS_AAE = option('epochs-aae', '10');
const EPOCHS_PRETRAIN = option('epochs-pretrain', '5');
const ROUNDS = Number(option('rounds', '1'));

const mean = (v) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);

async function run(origin, workers) {
  const browser = await launch({ webgpu: false });
  try {
    const { page, errors } = await openPage(browser, origin);
    await page.selectOption('#dataset', { value: 'data/mammography.csv' });
    await page.click('#load-dataset');
    await page.waitForFunction(() => /11,183 rows/.test(document.getElementById('data-summary').textContent), null, { timeout: 60_000 });
    await page.waitForSelector('#train:not([disabled])');
    await page.selectOption('#preset', 'quick');
    await page.waitForSelector('#train:not([disabled])');
    await page.fill('#members', String(workers));
    await page.uncheck('#demo-on'); // the model's workers alone: no demonstration member beside them
    await page.fill('#ep-aae', EPOCHS_AAE);
    await page.fill('#ep-pre', EPOCHS_PRETRAIN);
    const t0 = Date.now();
    await page.click('#train');
    await page.waitForFunction(
      () => /Model trained in this page/.test(document.getElementById('model-info').textContent) || !document.getElementById('error').hidden,
      null,
      { timeout: 900_000, polling: 200 },
    );
    const wall = (Date.now() - t0) / 1000;
    if (await page.isVisible('#error')) throw new Error(await text(page, '#error-text'));
    const seconds = JSON.parse(await page.getAttribute('#epoch-times', 'data-seconds'));
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    if (errors.length) throw new Error(errors.join('; '));
    // The first epoch of a phase includes its warm-up: the mean of the others.
    const steady = (v) => mean(v.length > 1 ? v.slice(1) : v);
    return { workers, cores, aae: steady(seconds.aae), pretrain: steady(seconds.pretrain), wall };
  } finally {
    await browser.close();
  }
}

// The module a worker on the CPU loads: pkg-cpu/ when built, else pkg/.
const modules = {};
for (const dir of ['pkg-cpu', 'pkg']) {
  const wasm = path.join(WWW, dir, 'da3d_web_bg.wasm');
  if (!fs.existsSync(wasm)) continue;
  const bytes = fs.readFileSync(wasm);
  modules[dir] = { raw: bytes.length, gzip: zlib.gzipSync(bytes, { level: 9 }).length };
  console.log(`module ${wasm}: ${(modules[dir].raw / 2 ** 20).toFixed(1)} MiB raw, ${(modules[dir].gzip / 2 ** 20).toFixed(2)} MiB gzip`);
}
const module = modules['pkg-cpu'] || modules.pkg;
const srv = await startServer(WWW);
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const workers of WORKERS) {
      const r = await run(srv.origin, workers);
      console.log(
        `${workers} worker(s) (${r.cores} cores reported), quick networks, ${EPOCHS_AAE} + ${EPOCHS_PRETRAIN} epochs per model: ` +
          `s/epoch AAE ${r.aae.toFixed(3)} pretrain ${r.pretrain.toFixed(3)} (worker 0); Train click to model ${r.wall.toFixed(1)} s`,
      );
      console.log(JSON.stringify({ module, ...r, epochs: [Number(EPOCHS_AAE), Number(EPOCHS_PRETRAIN)] }));
    }
  }
} finally {
  srv.server.close();
}
