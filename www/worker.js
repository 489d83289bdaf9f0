// The module Web Worker that owns a da3d Workbench (the WASM module's object that holds the
// loaded data, the model and its training). The page never runs model code: it sends requests
// here and draws what comes back.
//
// Protocol. Page → worker: {id, type, ...args}; the worker answers {id, ok: true, result} or
// {id, ok: false, error}. Training runs as a loop of `bench.step` calls in this worker; it
// reports with messages without id: {event: 'progress' | 'heldout' | 'plane' | 'paused' |
// 'finished' | 'member' | 'error' | 'renewed', ...}.
//
// Failures that leave the Workbench unusable get a new Workbench (see `renew`), with the loaded
// data read into it again, and a 'renewed' event that says what happened:
// - the WebGPU device is lost (driver reset, GPU removed, ...): training stops at once and the
//   new Workbench runs on the CPU (WebGPU stays off until the page is reloaded: the module keeps
//   one WebGPU device per page);
// - the module traps (a Rust panic, or running out of memory: WebAssembly.RuntimeError).

// Two builds of the module: pkg/ holds the WebGPU and the CPU backends, pkg-cpu/ the CPU backend
// alone (a fraction of the size). A workbench on the CPU loads only pkg-cpu/ (pkg/ when pkg-cpu/ is
// missing: a `--debug` build); pkg/ is fetched when WebGPU is wanted and an adapter exists.
const MODULES = { gpu: './pkg/da3d_web.js', cpu: './pkg-cpu/da3d_web.js' };
const loaded = {}; // kind → the promise of the initialised module
function loadModule(kind) {
  loaded[kind] ||= (async () => {
    let module;
    try {
      module = await import(MODULES[kind]);
    } catch (e) {
      if (kind !== 'cpu') throw e;
      return loadModule('gpu');
    }
    await module.default();
    return module;
  })();
  return loaded[kind];
}

/**
 * A new Workbench: on WebGPU when `preferGpu`, the device was not lost and the browser gives an
 * adapter; else on the CPU, with the reason in `backend.reason`.
 */
async function createWorkbench(preferGpu) {
  let reason = null;
  if (preferGpu && !gpu.lost) {
    let adapter = null;
    try {
      adapter = self.navigator.gpu ? await self.navigator.gpu.requestAdapter() : null;
      if (!self.navigator.gpu) reason = 'WebGPU unavailable: this browser has no WebGPU (navigator.gpu)';
      else if (!adapter) reason = 'WebGPU unavailable: the browser gives no WebGPU adapter';
    } catch (e) {
      reason = `WebGPU unavailable: ${message(e)}`;
    }
    if (adapter) {
      const module = await loadModule('gpu');
      const created = await module.Workbench.create(true);
      return { bench: created, backend: parse(created.backend()) };
    }
  }
  const module = await loadModule('cpu');
  const created = await module.Workbench.create(false);
  const backend = parse(created.backend());
  if (reason) backend.reason = reason;
  return { bench: created, backend };
}
let bench = null; // the current Workbench
let csv = null; // {bytes: Uint8Array, options} of the data loaded into the workbench
let generation = 0; // bumped when the workbench is replaced: answers of older workbenches are dropped
let renewing = null; // the promise of a workbench being replaced; requests wait for it
let backendInfo = null; // bench.backend() of the current workbench, kept: a broken workbench cannot answer

const training = {
  active: false, // a trainer exists (between start and finish)
  paused: false,
  stopping: false,
  looping: false, // the step loop is running
  batches: 1, // batches per step call, adapted so that one call takes about STEP_MS
  thresholdRate: 0.01,
  epochStart: 0, // performance.now() when the current epoch began
  trainMs: 0, // time spent in step calls, and in held-out evaluations (kept below EVAL_SHARE of it)
  evalMs: 0,
  labelled: false, // the fit has labelled held-out rows (a live AUC curve)
  plane: null, // {grid, generated}: the code plane instead of held-out scores (the demonstration member)
  planeMs: 0, // time spent drawing up the code plane, and when it was last sent
  planeAt: 0,
  pace: 1, // the share of the time the loop trains; it rests the rest (the demonstration member beside a run)
};
const EVAL_SHARE = 0.15;
const STEP_MS = 250;
// The code plane of the demonstration member: about every PLANE_MS while it costs at most
// PLANE_SHARE of the training time, and always at the end of a phase and of training.
const PLANE_MS = 700;
const PLANE_SHARE = 0.2;

// Every call on the Workbench goes through this queue: the Workbench refuses concurrent calls.
let queue = Promise.resolve();
function exclusive(fn) {
  const run = queue.then(fn);
  queue = run.catch(() => {});
  return run;
}

const parse = (json) => JSON.parse(json);
const message = (e) => (e && e.message) || String(e);
/** A promise to reject when the workbench is replaced: requests waiting on the old one end with it. */
function signal() {
  let reject;
  const promise = new Promise((_, r) => (reject = r));
  promise.catch(() => {});
  return { promise, reject };
}
let replaced = signal();

/** A trap of the WebAssembly module (a Rust panic, out of memory): the Workbench is unusable. */
const isTrap = (e) => e instanceof WebAssembly.RuntimeError;

// ---------------------------------------------------------------------------------------------
// The WebGPU device. burn creates it inside the module; wrapping requestDevice lets this worker
// see it and hear when it is lost (`device.lost` resolves; reason 'destroyed' or 'unknown').

const gpu = { device: null, lost: null }; // lost: {reason, message} once the device is gone
if (self.GPUAdapter) {
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function (...args) {
    const device = await requestDevice.apply(this, args);
    gpu.device = device;
    device.lost.then((info) => deviceLost({ reason: info.reason, message: info.message }));
    return device;
  };
}

/** Test hook (tests/page): destroy the WebGPU device, as a driver reset would lose it. */
self.da3dTestHooks = {
  loseGpuDevice() {
    if (!gpu.device) return false;
    gpu.device.destroy();
    return true;
  },
};

function lostText(lost) {
  const detail = [lost.reason, lost.message].filter(Boolean).join(': ').replace(/\.$/, '');
  return `The GPU device was lost (${detail || 'no reason given'})`;
}

/**
 * The device is gone: stop training now (a step on a lost device may never end) and go on on the
 * CPU. Returns false when the current workbench does not run on the GPU (nothing to do).
 */
function deviceLost(lost) {
  gpu.lost ||= lost;
  lost = gpu.lost;
  if (!bench || !backendInfo || !backendInfo.gpu) return false; // a workbench on the CPU never used the device
  const wasTraining = training.active;
  const what = lostText(lost);
  renew(false, `${what.replace(/^The/, 'the')}; reload the page to use WebGPU again`, what).then(
    (r) => {
      const next = wasTraining
        ? 'training stopped. The page now runs on the CPU: press Train to train again on the CPU.'
        : 'the page now runs on the CPU. A model trained or loaded before is gone: train again, or load its bundle.';
      self.postMessage({ event: 'renewed', error: `${what}; ${next} (Reload the page to try WebGPU again.)`, gpuLost: true, ...r });
    },
    (e) => self.postMessage({ event: 'error', error: `${what}, and the module could not start again on the CPU: ${message(e)}. Reload the page.` }),
  );
  return true;
}

const lostDevice = (e) => gpu.lost || (/device (is|was) (lost|poisoned|destroyed)/i.test(message(e)) ? { reason: 'unknown', message: message(e) } : null);

/**
 * Replace the Workbench: a new one (on the CPU unless `preferGpu` and the GPU is not lost), with
 * the loaded data read into it again. The old Workbench is dropped, not freed: a call may still
 * hold it (a step on a lost device), and its answers are ignored (`generation`).
 */
function renew(preferGpu, cpuReason, why) {
  generation += 1;
  Object.assign(training, { active: false, paused: false, stopping: false, looping: false });
  bench = null;
  backendInfo = null;
  queue = Promise.resolve(); // the old workbench's calls may never end: do not wait behind them
  replaced.reject(new Error(why)); // requests still waiting on the old workbench fail now
  replaced = signal();
  renewing = exclusive(async () => {
    const next = await createWorkbench(Boolean(preferGpu));
    bench = next.bench;
    const backend = next.backend;
    if (!backend.gpu && cpuReason) backend.reason = cpuReason;
    backendInfo = backend;
    let summary = null;
    if (csv) {
      try {
        summary = parse(bench.load_csv(csv.bytes, JSON.stringify(csv.options)));
      } catch (e) {
        csv = null;
      }
    }
    return { backend, summary };
  });
  const done = renewing;
  done.finally(() => {
    if (renewing === done) renewing = null;
  }).catch(() => {});
  return done;
}

/** After a trap: a new Workbench on the same backend; the page hears of it with a 'renewed' event. */
function recoverFromTrap(e, doing) {
  const preferGpu = Boolean(backendInfo && backendInfo.gpu);
  renew(preferGpu, null, `the WebAssembly module crashed (${message(e)})`).then(
    (r) => self.postMessage({
      event: 'renewed',
      error: `${doing} crashed the WebAssembly module (${message(e)}; perhaps out of memory). ` +
        'The module was started again with the loaded data: train or load the model again.',
      ...r,
    }),
    (e2) => self.postMessage({ event: 'error', error: `The WebAssembly module crashed (${message(e)}) and could not restart (${message(e2)}). Reload the page.` }),
  );
}

const handlers = {
  /** Load the module and create a workbench; reloads the current data into the new workbench. */
  async init({ preferGpu }) {
    if (training.active) throw new Error('stop training before changing the backend');
    return exclusive(async () => {
      if (bench) bench.free();
      bench = null;
      backendInfo = null;
      const next = await createWorkbench(Boolean(preferGpu));
      bench = next.bench;
      const backend = next.backend;
      if (preferGpu && gpu.lost) backend.reason = `${lostText(gpu.lost).replace(/^The/, 'the')}; reload the page to use WebGPU again`;
      backendInfo = backend;
      const summary = csv ? parse(bench.load_csv(csv.bytes, JSON.stringify(csv.options))) : null;
      return { backend, summary };
    });
  },

  /** Load CSV bytes (plain or gzip). Keeps the previous data when the new one fails to parse. */
  async load({ bytes, options }) {
    const data = bytes ? new Uint8Array(bytes) : csv && csv.bytes;
    if (!data) throw new Error('no data loaded');
    return exclusive(() => {
      const summary = parse(bench.load_csv(data, JSON.stringify(options)));
      csv = { bytes: data, options };
      return summary;
    });
  },

  /** A copy of the loaded CSV bytes and options (helper workers load the same data). */
  async dataCopy() {
    if (!csv) throw new Error('no data loaded');
    return { bytes: csv.bytes.slice().buffer, options: csv.options };
  },

  async config({ preset }) {
    return exclusive(() => parse(bench.default_config(preset)));
  },

  /**
   * Start training with the page's schedule (`settings`: preset, members, epochs, batch size,
   * seed); the step loop then runs on its own. With `member`, only that ensemble member trains
   * (parallel workers): it ends with a 'member' event carrying its weights instead of 'finished'.
   * With `plane` ({grid, generated}: the demonstration member), 'plane' events carry the code
   * plane (`Workbench.code_plane`) now and then, in place of the held-out scores.
   */
  async train({ settings, thresholdRate, member, plane }) {
    if (training.active) throw new Error('training is already running');
    const json = JSON.stringify(settings);
    const started = await exclusive(() => parse(member === undefined ? bench.start(json, thresholdRate) : bench.start_member(json, thresholdRate, member)));
    const labelled = started.data.test_rows !== undefined && !plane;
    Object.assign(training, {
      active: true, paused: false, stopping: false, batches: 1, thresholdRate, trainMs: 0, evalMs: 0, labelled, member,
      plane: plane || null, planeMs: 0, planeAt: 0, pace: 1,
    });
    training.epochStart = performance.now();
    loop();
    return started;
  },

  /** Train only `share` (0 < share ≤ 1) of the time, resting after each step call in proportion. */
  async pace({ share }) {
    training.pace = paceOf(share);
    return { pace: training.pace };
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

  /** The model of members trained in any worker (`members`: their weights, in member order). */
  async assemble({ settings, thresholdRate, members }) {
    if (training.active) throw new Error('training is running');
    const arrays = members.map((b) => new Uint8Array(b));
    const t0 = performance.now();
    const results = parse(await exclusive(() => bench.assemble(JSON.stringify(settings), thresholdRate, arrays)));
    return { results, seconds: (performance.now() - t0) / 1000 };
  },

  async score() {
    return exclusive(async () => parse(await bench.score_loaded()));
  },

  async exportBundle() {
    const bytes = await exclusive(() => bench.export_bundle());
    // Transfer a buffer that holds exactly the bundle.
    return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
  },

  async importBundle({ bytes }) {
    return exclusive(() => parse(bench.import_bundle(new Uint8Array(bytes))));
  },
};

/** Yield to the event loop so that pause/stop messages are handled between steps. */
const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));
const paceOf = (share) => Math.min(1, Math.max(0.05, Number(share) || 1));

async function loop() {
  if (training.looping) return;
  training.looping = true;
  const gen = generation;
  let done = false;
  try {
    while (!training.paused && !training.stopping) {
      const t0 = performance.now();
      const r = parse(await exclusive(() => bench.step(training.batches)));
      if (gen !== generation) return; // the workbench was replaced meanwhile (device lost)
      const now = performance.now();
      training.trainMs += now - t0;
      adapt(now - t0, r.report !== null);
      let seconds = null;
      if (r.report) {
        seconds = (now - training.epochStart) / 1000;
        training.epochStart = now;
      }
      self.postMessage({ event: 'progress', progress: r.progress, report: r.report, seconds });
      if (r.report && wantHeldOut(r.report)) {
        const e0 = performance.now();
        const heldOut = parse(await exclusive(() => bench.held_out()));
        if (gen !== generation) return;
        training.evalMs += performance.now() - e0;
        if (heldOut) self.postMessage({ event: 'heldout', heldOut });
        training.epochStart = performance.now(); // the evaluation is not the epoch's time
      }
      if (training.plane && wantPlane(r)) {
        const p0 = performance.now();
        const plane = parse(await exclusive(() => bench.code_plane(training.plane.grid, training.plane.generated)));
        if (gen !== generation) return;
        training.planeAt = performance.now();
        training.planeMs += training.planeAt - p0;
        training.epochStart += training.planeAt - p0; // nor is the code plane
        self.postMessage({ event: 'plane', plane, progress: r.progress, seconds: (training.planeAt - p0) / 1000 });
      }
      if (r.done) {
        done = true;
        break;
      }
      // (resting at a pace below 1 leaves the cores to the page's model beside this worker)
      await tick(training.pace < 1 ? ((now - t0) * (1 - training.pace)) / training.pace : 0);
    }
  } catch (e) {
    if (gen !== generation) return; // the workbench was replaced meanwhile (device lost)
    training.active = false;
    training.looping = false;
    if (lostDevice(e) && deviceLost(lostDevice(e))) return;
    if (isTrap(e)) recoverFromTrap(e, 'Training');
    else self.postMessage({ event: 'error', error: `Training failed: ${message(e)}` });
    return;
  } finally {
    if (gen === generation) training.looping = false;
  }
  if (done || training.stopping) await finish();
  else self.postMessage({ event: 'paused' });
}

/**
 * Score the held-out rows after this epoch? Always at the end of a phase (the end of a member
 * gives the model's own score), else while evaluations stay below EVAL_SHARE of training time.
 */
function wantHeldOut(report) {
  if (!training.labelled) return false;
  if (report.epoch >= report.epochs_in_phase) return true;
  return training.evalMs <= EVAL_SHARE * training.trainMs;
}

/** Draw up the code plane after this step call? See PLANE_MS. */
function wantPlane(r) {
  if (r.done || (r.report && r.report.epoch >= r.report.epochs_in_phase)) return true;
  return performance.now() - training.planeAt >= PLANE_MS && training.planeMs <= PLANE_SHARE * training.trainMs;
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
  const gen = generation;
  try {
    const t0 = performance.now();
    if (training.member !== undefined) {
      const bytes = await exclusive(() => bench.finish_member());
      if (gen !== generation) return;
      const buffer = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
      self.postMessage({ event: 'member', member: training.member, bytes: buffer, stopped: training.stopping }, [buffer]);
      return;
    }
    const results = parse(await exclusive(() => bench.finish()));
    if (gen !== generation) return;
    self.postMessage({ event: 'finished', results, stopped: training.stopping, seconds: (performance.now() - t0) / 1000 });
  } catch (e) {
    if (gen !== generation) return;
    if (lostDevice(e) && deviceLost(lostDevice(e))) return;
    if (isTrap(e)) recoverFromTrap(e, 'Finishing the model');
    else self.postMessage({ event: 'error', error: `Finishing the model failed: ${message(e)}` });
  }
}

const DOING = {
  load: 'Reading the CSV',
  config: 'Reading the preset',
  train: 'Starting training',
  score: 'Scoring',
  exportBundle: 'Exporting the bundle',
  importBundle: 'Loading the bundle',
  assemble: 'Making the model of the trained members',
};

self.onmessage = async (e) => {
  const { id, type, ...args } = e.data;
  try {
    const handler = handlers[type];
    if (!handler) throw new Error(`unknown request '${type}'`);
    if (renewing) await renewing.catch(() => {});
    if (type !== 'init' && !bench) throw new Error('the module is not ready yet');
    const result = await Promise.race([handler(args), replaced.promise]);
    const transfer = result instanceof ArrayBuffer ? [result] : result && result.bytes instanceof ArrayBuffer ? [result.bytes] : [];
    self.postMessage({ id, ok: true, result }, transfer);
  } catch (err) {
    if (isTrap(err) && bench) {
      // The request fails with its message; the page then hears of the new workbench.
      recoverFromTrap(err, DOING[type] || `The request '${type}'`);
    }
    self.postMessage({ id, ok: false, error: isTrap(err) ? `the WebAssembly module crashed (${message(err)}; perhaps out of memory)` : message(err) });
  }
};
