// The module Web Worker that owns the da3d Session (WASM). The page never runs model code:
// it sends requests here and draws what comes back.
//
// Protocol. Page → worker: {id, type, ...args}; the worker answers {id, ok: true, result} or
// {id, ok: false, error}. Training runs as a loop of `session.step` calls in this worker; it
// reports with messages without id: {event: 'progress' | 'epoch' | 'finished' | 'error', ...}.

import init, { Session } from './pkg/da3d_web.js';

let ready = null; // the promise of the WASM module's initialisation
let session = null;
let csv = null; // {bytes: Uint8Array, options} of the data loaded into the session

const training = {
  active: false, // a trainer exists (between start and finish)
  paused: false,
  stopping: false,
  looping: false, // the step loop is running
  batches: 1, // batches per step call, adapted so that one call takes about STEP_MS
  thresholdRate: 0.01,
  epochStart: 0, // performance.now() when the current epoch began
};
const STEP_MS = 250;

// Every call on the Session goes through this queue: the Session refuses concurrent calls.
let queue = Promise.resolve();
function exclusive(fn) {
  const run = queue.then(fn);
  queue = run.catch(() => {});
  return run;
}

const parse = (json) => JSON.parse(json);
const message = (e) => (e && e.message) || String(e);

const handlers = {
  /** Load the module and create a session; reloads the current data into a new session. */
  async init({ preferGpu }) {
    if (training.active) throw new Error('stop training before changing the backend');
    ready ||= init();
    await ready;
    return exclusive(async () => {
      if (session) session.free();
      session = null;
      session = await Session.create(Boolean(preferGpu));
      const backend = parse(session.backend());
      const summary = csv ? parse(session.load_csv(csv.bytes, JSON.stringify(csv.options))) : null;
      return { backend, summary };
    });
  },

  /** Load CSV bytes (plain or gzip). Keeps the previous data when the new one fails to parse. */
  async load({ bytes, options }) {
    const data = bytes ? new Uint8Array(bytes) : csv && csv.bytes;
    if (!data) throw new Error('no data loaded');
    return exclusive(() => {
      const summary = parse(session.load_csv(data, JSON.stringify(options)));
      csv = { bytes: data, options };
      return summary;
    });
  },

  async config({ preset }) {
    return exclusive(() => parse(session.default_config(preset)));
  },

  /** Start training with a full config; the step loop then runs on its own. */
  async train({ config, thresholdRate }) {
    if (training.active) throw new Error('training is already running');
    const started = await exclusive(() => parse(session.start(JSON.stringify(config))));
    Object.assign(training, { active: true, paused: false, stopping: false, batches: 1, thresholdRate });
    training.epochStart = performance.now();
    loop();
    return started;
  },

  async pause() {
    training.paused = true;
    return { paused: true };
  },

  async resume() {
    if (!training.active) throw new Error('nothing to resume');
    if (training.paused) {
      training.paused = false;
      training.epochStart = performance.now(); // time paused does not count
      loop();
    }
    return { paused: false };
  },

  /** Stop: the loop ends after the current step and the model is finished as it is. */
  async stop() {
    if (!training.active) return { stopped: false };
    training.stopping = true;
    if (!training.looping) finish();
    return { stopped: true };
  },

  async score() {
    return exclusive(async () => parse(await session.score_loaded()));
  },

  async exportBundle() {
    const bytes = await exclusive(() => session.export_bundle());
    // Transfer a buffer that holds exactly the bundle.
    return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
  },

  async importBundle({ bytes }) {
    return exclusive(() => parse(session.import_bundle(new Uint8Array(bytes))));
  },
};

/** Yield to the event loop so that pause/stop messages are handled between steps. */
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

async function loop() {
  if (training.looping) return;
  training.looping = true;
  let done = false;
  try {
    while (!training.paused && !training.stopping) {
      const t0 = performance.now();
      const r = parse(await exclusive(() => session.step(training.batches)));
      const now = performance.now();
      adapt(now - t0, r.report !== null);
      let seconds = null;
      if (r.report) {
        seconds = (now - training.epochStart) / 1000;
        training.epochStart = now;
      }
      self.postMessage({ event: 'progress', progress: r.progress, report: r.report, seconds });
      if (r.done) {
        done = true;
        break;
      }
      await tick();
    }
  } catch (e) {
    training.active = false;
    self.postMessage({ event: 'error', error: `Training failed: ${message(e)}` });
    return;
  } finally {
    training.looping = false;
  }
  if (done || training.stopping) await finish();
  else self.postMessage({ event: 'paused' });
}

/** Keep one step call near STEP_MS: responsive pause/stop and frequent progress updates. */
function adapt(ms, epochEnded) {
  if (epochEnded) return; // a short call that ended an epoch says nothing about batch cost
  if (ms < STEP_MS / 2) training.batches = Math.min(training.batches * 2, 512);
  else if (ms > STEP_MS * 2 && training.batches > 1) training.batches = Math.max(1, Math.floor(training.batches / 2));
}

async function finish() {
  if (!training.active) return;
  training.active = false;
  try {
    const t0 = performance.now();
    const results = parse(await exclusive(() => session.finish(training.thresholdRate)));
    self.postMessage({ event: 'finished', results, stopped: training.stopping, seconds: (performance.now() - t0) / 1000 });
  } catch (e) {
    self.postMessage({ event: 'error', error: `Finishing the model failed: ${message(e)}` });
  }
}

self.onmessage = async (e) => {
  const { id, type, ...args } = e.data;
  try {
    const handler = handlers[type];
    if (!handler) throw new Error(`unknown request '${type}'`);
    if (type !== 'init' && !session) throw new Error('the module is not ready yet');
    const result = await handler(args);
    const transfer = result instanceof ArrayBuffer ? [result] : [];
    self.postMessage({ id, ok: true, result }, transfer);
  } catch (err) {
    self.postMessage({ id, ok: false, error: message(err) });
  }
};
