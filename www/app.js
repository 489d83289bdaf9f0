// The page's main thread: controls, messages and charts. All model work happens in
// worker.js (the WASM Session); this file only sends requests and draws the answers.

import { COLORS, formatNumber, histogram, lineChart, scatterChart } from './charts.js';

// The largest file the page reads (CSV or bundle). The whole file is held in memory (in the
// page, then parsed in the WebAssembly module, whose memory cannot exceed 4 GB): 512 MB leaves
// room for the parsed table and training. Larger files: the CLI (`da3d score` streams).
const MAX_FILE_BYTES = 512 * 1024 * 1024;
const MB = 1024 * 1024;
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------------
// Worker requests

/**
 * A module Web Worker running worker.js (its own WASM instance and Session). Worker 0 holds the
 * page's data and model; helpers (1, 2, …) train ensemble members in parallel on the CPU.
 */
function startWorker(index) {
  const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  const pending = new Map();
  let nextId = 1;
  const handle = {
    index,
    inited: false,
    dataVersion: -1, // state.dataVersion of the data loaded into this worker
    /** Send a request; resolves with its result or rejects with its error message. */
    rpc(type, args = {}, transfer = []) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        w.postMessage({ id, type, ...args }, transfer);
      });
    },
  };
  w.onmessage = (e) => {
    const msg = e.data;
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(msg.error));
    } else if (index === 0 && events[msg.event]) {
      events[msg.event]({ ...msg, from: 0 });
    } else if (index > 0) {
      helperEvent({ ...msg, from: index });
    }
  };
  w.onerror = (e) => {
    e.preventDefault();
    showError(`The worker could not start (${e.message || 'script error'}). Was the module built? Run scripts/build-web.sh.`);
    if (index === 0) setBackendText('Module unavailable.', '');
  };
  return handle;
}

const workers = [startWorker(0)];
/** A request to worker 0 (the page's session). */
const rpc = (type, args = {}, transfer = []) => workers[0].rpc(type, args, transfer);

// Parallel workers: at most this many, and never more than the machine's logical cores.
const MAX_WORKERS = 8;
const CORES = Math.max(1, Number(navigator.hardwareConcurrency) || 1);

/** Workers 1..n-1 started, on the CPU, holding the loaded data. */
async function helpers(n) {
  while (workers.length < n) workers.push(startWorker(workers.length));
  let copy = null;
  for (const h of workers.slice(1, n)) {
    if (!h.inited) {
      await h.rpc('init', { preferGpu: false });
      h.inited = true;
    }
    if (h.dataVersion !== state.dataVersion) {
      copy ||= await rpc('dataCopy');
      const bytes = copy.bytes.slice(0);
      await h.rpc('load', { bytes, options: copy.options }, [bytes]);
      h.dataVersion = state.dataVersion;
    }
  }
  return workers.slice(0, n);
}

// ---------------------------------------------------------------------------------------------
// State

const state = {
  busy: false, // a request that changes the session is running (load, score, import...)
  training: false,
  paused: false,
  gpuLost: false, // the WebGPU device was lost: the CPU until the page is reloaded
  summary: null, // the load_csv summary of the loaded data
  sourceName: '', // file or data-set name of the loaded data
  dataset: null, // the bundled data set's name when one is loaded
  losses: new Map(), // network → {epochs: n, series: Map(name → [[x, y], ..])}
  epochSeconds: { aae: [], pretrain: [], da3d: [] },
  results: null, // finish() results
  model: null, // {kind: 'trained' | 'imported', header?}
  scored: null, // score_loaded() answer for the current model and data
  view: null, // what the histogram shows: {values, labels, lines, threshold, modelThreshold, source}
  trainRows: null, // training rows of the loaded data (the plan's steps per epoch)
  live: [], // held-out points while training: {x, member, score, roc_auc, average_precision}
  memberEpochs: new Map(), // member → its epochs reported so far (the live curve's x)
  msPerStep: null, // measured: the last run's wall time per optimiser step on this machine
  trainStart: 0,
  dataVersion: 0, // bumped whenever the loaded data changes (helpers reload it)
  parallel: null, // a run over several workers: see trainParallel
};

// ---------------------------------------------------------------------------------------------
// Messages

function showError(text) {
  $('error-text').textContent = text;
  $('error').hidden = false;
}
function clearError() {
  $('error').hidden = true;
  $('error-text').textContent = '';
}
$('error-close').addEventListener('click', clearError);

/** The polite live region: short news for screen readers (epochs, results), not every batch. */
function announce(text) {
  $('live').textContent = text;
}

function setBackendText(text, name) {
  $('backend').textContent = text;
  $('backend').dataset.backend = name;
}

const PHASES = { aae: 'AAE', pretrain: 'pretraining', da3d: 'DA³D', done: 'done' };

// ---------------------------------------------------------------------------------------------
// Buttons: enabled according to the state

function updateButtons() {
  const loaded = Boolean(state.summary);
  const idle = !state.busy && !state.training;
  $('load-dataset').disabled = !idle || !$('dataset').value;
  $('csv-file').disabled = !idle;
  $('label-col').disabled = !idle || !loaded;
  $('use-gpu').disabled = !idle || state.gpuLost;
  $('train').disabled = !idle || !loaded;
  $('pause').disabled = !state.training;
  $('stop').disabled = !state.training;
  $('pause').textContent = state.paused ? 'Resume' : 'Pause';
  $('pause').setAttribute('aria-pressed', String(state.paused));
  $('score').disabled = !idle || !loaded || !state.model;
  $('download-scores').disabled = !idle || !loaded || !state.model;
  $('download-model').disabled = !idle || !state.model;
  $('bundle-file').disabled = !idle;
  for (const id of ['preset', 'members', 'ep-aae', 'ep-pre', 'ep-da3d', 'batch', 'seed', 'rate']) $(id).disabled = state.training;
}

/** Run `fn` with the controls locked; its errors become the visible message. */
async function guarded(fn) {
  clearError();
  state.busy = true;
  updateButtons();
  try {
    return await fn();
  } catch (e) {
    showError(e.message || String(e));
    return undefined;
  } finally {
    state.busy = false;
    updateButtons();
  }
}

// ---------------------------------------------------------------------------------------------
// Backend

function showBackend(backend, preferGpu) {
  const why = preferGpu ? backend.reason : 'the “Use WebGPU” box is off (the default: networks this small train faster on the CPU)';
  const text = backend.gpu ? `Backend: WebGPU (${backend.reason}).` : `Backend: CPU (WebAssembly). Why: ${why}.`;
  setBackendText(text, backend.name);
}

async function startSession() {
  const preferGpu = $('use-gpu').checked;
  setBackendText(preferGpu ? 'Looking for a WebGPU adapter…' : 'Starting on the CPU…', '');
  await guarded(async () => {
    const { backend, summary } = await rpc('init', { preferGpu });
    showBackend(backend, preferGpu);
    if (summary) showSummary(summary);
  });
}
$('use-gpu').addEventListener('change', () => {
  resetTraining(); // a new session holds no model
  startSession();
});

// ---------------------------------------------------------------------------------------------
// Data

async function listDatasets() {
  try {
    const res = await fetch('data/index.json');
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const { datasets } = await res.json();
    const select = $('dataset');
    select.replaceChildren();
    for (const d of datasets) {
      const size = d.bytes ? ` — ${(d.bytes / 1e6).toFixed(1)} MB` : '';
      select.append(new Option(`${d.title}${size}`, d.file));
      select.lastChild.dataset.name = d.name;
    }
    if (!datasets.length) select.append(new Option('(none found)', ''));
  } catch (e) {
    showError(`The list of bundled data sets (data/index.json) could not be read: ${e.message}. Build the page with scripts/build-web.sh.`);
  }
  updateButtons();
}

const megabytes = (bytes) => `${(bytes / MB).toFixed(bytes < 10 * MB ? 1 : 0)} MB`;

/** Refuse a file larger than the page can hold, before reading it (`file.size` only). */
function checkSize(file, what) {
  if (file.size > MAX_FILE_BYTES) {
    throw new Error(`“${file.name}” is ${megabytes(file.size)}: too large for this page, which reads ${what} of up to ` +
      `${MAX_FILE_BYTES / MB} MB (it holds the whole file in memory). For larger files use the command line: ` +
      '“da3d score” streams a CSV of any size.');
  }
}

/**
 * What the first 64 KB say about a file that is not gzip: `utf8` false when they are not UTF-8
 * text; `binary` when they hold control bytes no text file has (a picture, an archive, random
 * bytes); `nul` the line of the first NUL byte.
 */
function sniff(bytes) {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return { utf8: true, binary: false, nul: null };
  const head = bytes.subarray(0, 65536);
  let utf8 = true;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true }); // a character cut at the end is fine
  } catch {
    utf8 = false;
  }
  const binary = head.some((b) => (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0c && b !== 0x0d) || b === 0x7f);
  const at = head.indexOf(0);
  const nul = at < 0 ? null : head.subarray(0, at).reduce((n, b) => n + (b === 0x0a), 1);
  return { utf8, binary, nul };
}

async function loadFile(file) {
  await guarded(async () => {
    checkSize(file, 'CSV files');
    if (file.size === 0) throw new Error(`“${file.name}” is empty: a CSV file needs a header row and data rows.`);
    let bytes;
    try {
      bytes = new Uint8Array(await file.arrayBuffer());
    } catch (e) {
      throw new Error(`“${file.name}” could not be read (${e.message}).`);
    }
    const { utf8, binary, nul } = sniff(bytes);
    // NUL bytes in what is otherwise UTF-8: the CSV reader would take them as text.
    if (utf8 && nul) throw new Error(`“${file.name}” is not a CSV file: line ${nul} holds a NUL byte (binary data, not text).`);
    // Otherwise the CSV reader decides; its error names the line and column. A picture or
    // random bytes fail on the first bytes that are not UTF-8.
    const why = binary ? 'is not a CSV file (it holds binary data, not text)' : !utf8 ? 'is not UTF-8 text (save it as UTF-8 CSV)' : null;
    await loadBytes(bytes, file.name, null, why);
  });
}

async function loadDataset() {
  const option = $('dataset').selectedOptions[0];
  if (!option || !option.value) return;
  await guarded(async () => {
    const res = await fetch(option.value);
    if (!res.ok) throw new Error(`The data set ${option.value} could not be fetched (HTTP ${res.status}).`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    await loadBytes(bytes, option.textContent.replace(/ — .*$/, ''), option.dataset.name);
  });
}

async function loadBytes(bytes, name, dataset, notCsv = null) {
  const options = { label: 'label', ignore: [], dataset };
  let summary;
  try {
    summary = await rpc('load', { bytes: bytes.buffer, options }, [bytes.buffer]);
  } catch (e) {
    throw new Error(notCsv ? `“${name}” ${notCsv}: ${e.message}` : `Could not read “${name}”: ${e.message}`);
  }
  state.sourceName = name;
  state.dataset = dataset;
  state.scored = null;
  await fillConfig();
  showSummary(summary);
  announce(`Loaded ${name}: ${summary.rows} rows.`);
}

/** Reload the same bytes with another label column. */
async function changeLabel() {
  // '' = no label column: a name that matches no column (null would keep the default "label").
  const label = $('label-col').value;
  await guarded(async () => {
    const summary = await rpc('load', { options: { label, ignore: [], dataset: state.dataset } });
    state.scored = null;
    showSummary(summary);
  });
}

function showSummary(summary) {
  state.summary = summary;
  state.dataVersion += 1;
  const select = $('label-col');
  select.replaceChildren(new Option('(no label column)', ''));
  for (const h of summary.headers) select.append(new Option(h, h));
  select.value = summary.label || '';
  const parts = [`${state.sourceName}: ${summary.rows.toLocaleString('en')} rows`, `${summary.columns.length} feature columns`];
  if (summary.anomalies !== null) parts.push(`${summary.anomalies.toLocaleString('en')} anomalies (label “${summary.label}”)`);
  else parts.push('no labels: every row trains, no ROC/PR curves');
  if (summary.dropped) parts.push(`${summary.dropped} rows with missing values dropped`);
  if (summary.ignored && summary.ignored.length) parts.push(`ignored: ${summary.ignored.join(', ')}`);
  $('data-summary').textContent = parts.join(' · ');
  renderPreview(summary);
  updateButtons();
}

function renderPreview(summary) {
  const head = document.createElement('tr');
  for (const h of summary.headers) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = h;
    if (h === summary.label) th.className = 'label-col';
    head.append(th);
  }
  $('preview').tHead.replaceChildren(head);
  const rows = summary.preview.map((fields) => {
    const tr = document.createElement('tr');
    fields.forEach((f, i) => {
      const td = document.createElement('td');
      td.textContent = f;
      if (summary.headers[i] === summary.label) td.className = 'label-col';
      tr.append(td);
    });
    return tr;
  });
  $('preview').tBodies[0].replaceChildren(...rows);
  $('preview').caption.textContent = `First ${summary.preview.length} rows of ${state.sourceName}`;
}

$('dataset').addEventListener('change', updateButtons);
$('load-dataset').addEventListener('click', loadDataset);
$('csv-file').addEventListener('change', () => {
  const file = $('csv-file').files[0];
  if (file) loadFile(file);
});
$('label-col').addEventListener('change', changeLabel);

// The drop zone: the file input inside it is the keyboard path.
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const file = e.dataTransfer.files[0];
  if (!file) return;
  if (state.busy || state.training) showError('Wait until the current work ends before loading another file.');
  else loadFile(file);
});

// ---------------------------------------------------------------------------------------------
// Training

/** Fill the schedule fields from the preset's config for the loaded data. */
async function fillConfig() {
  const { config, train_rows: trainRows } = await rpc('config', { preset: $('preset').value });
  state.trainRows = trainRows;
  $('members').value = config.ensemble ? config.ensemble.members : 1;
  $('ep-aae').value = config.schedule.aae_epochs;
  $('ep-pre').value = config.schedule.pretrain_epochs;
  $('ep-da3d').value = config.schedule.da3d_epochs;
  $('batch').value = config.schedule.batch_size;
  $('seed').value = config.seed;
  renderPlan();
}
$('preset').addEventListener('change', () => {
  if (state.summary) guarded(fillConfig);
});
for (const id of ['members', 'ep-aae', 'ep-pre', 'ep-da3d', 'batch']) $(id).addEventListener('input', () => renderPlan());

// Milliseconds per optimiser step before this page has measured its own (Mammography's `quick`
// networks on the CPU fallback, docs/performance.md): the first estimate only.
const DEFAULT_MS_PER_STEP = 4;

/** The schedule's size and expected time, shown before Train. */
function renderPlan() {
  const plan = $('plan');
  const n = (id) => Number($(id).value);
  if (!state.trainRows || ![n('members'), n('batch')].every((v) => Number.isInteger(v) && v >= 1)) {
    plan.textContent = '';
    return;
  }
  const perEpoch = Math.ceil(state.trainRows / n('batch'));
  const epochs = n('ep-aae') + n('ep-pre') + n('ep-da3d');
  const steps = n('members') * epochs * perEpoch;
  const ms = state.msPerStep || DEFAULT_MS_PER_STEP;
  const seconds = (steps * ms) / 1000;
  const time = seconds < 90 ? `${Math.max(1, Math.round(seconds))} s` : `${(seconds / 60).toFixed(seconds < 600 ? 1 : 0)} min`;
  plan.textContent = `${n('members')} model${n('members') > 1 ? 's' : ''} × ${epochs} epochs × ${perEpoch} batches = ` +
    `${steps.toLocaleString('en')} steps: about ${time}` +
    (state.msPerStep ? ' at the speed measured here in the last run.' : ' (a first estimate; the page measures this machine as it trains).');
  plan.dataset.steps = String(steps);
}

function readInt(id, min) {
  const input = $(id);
  const v = Number(input.value);
  if (!Number.isInteger(v) || v < min) {
    input.focus();
    throw new Error(`${input.labels[0].textContent} must be a whole number of at least ${min}.`);
  }
  return v;
}

async function train() {
  await guarded(async () => {
    const { config } = await rpc('config', { preset: $('preset').value });
    const members = readInt('members', 1);
    if (members > 64) throw new Error('Models (ensemble members) must be at most 64.');
    config.ensemble = { ...(config.ensemble || {}), members };
    config.schedule.aae_epochs = readInt('ep-aae', 0);
    config.schedule.pretrain_epochs = readInt('ep-pre', 0);
    config.schedule.da3d_epochs = readInt('ep-da3d', 0);
    config.schedule.batch_size = readInt('batch', 1);
    config.seed = readInt('seed', 0);
    const rate = Number($('rate').value);
    if (!(rate >= 0 && rate <= 0.5)) throw new Error('The threshold share must be between 0 and 0.5.');
    resetTraining();
    state.trainStart = performance.now();
    // Members in parallel workers on the CPU (on WebGPU the one GPU is shared: one worker).
    const cpu = $('backend').dataset.backend === 'cpu';
    const n = cpu ? Math.min(members, CORES, MAX_WORKERS) : 1;
    const started = n > 1 ? await trainParallel(config, rate, n) : await rpc('train', { config, thresholdRate: rate });
    state.training = true;
    state.paused = false;
    showProgress(started.progress);
    $('workers').textContent = n > 1
      ? `Training ${members} models on ${n} parallel workers (this machine reports ${CORES} logical cores).`
      : members > 1 ? `Training ${members} models one after another on one worker${cpu ? ` (this machine reports ${CORES} logical core${CORES > 1 ? 's' : ''})` : ' (WebGPU: one GPU)'}.` : '';
    const d = started.data;
    $('split').textContent = d.test_rows !== undefined
      ? `Paper protocol: training on ${d.train_rows.toLocaleString('en')} normal rows; ` +
        `held-out test: ${d.test_rows.toLocaleString('en')} rows with ${d.test_anomalies} anomalies; ${d.input_width} inputs.`
      : `Training on all ${d.train_rows.toLocaleString('en')} rows; ${d.input_width} inputs.` +
        // the pipeline's notes: no label column, or a label column of normal rows only
        (started.notes && started.notes.length ? ` (${started.notes.join('; ')})` : '');
    announce(`Training started on ${d.train_rows} rows: ${started.progress.steps_total} steps.`);
  });
}

/**
 * Train the ensemble's members on `n` workers: worker j starts with member j, then takes the next
 * member not yet started; each member comes back as its weights ('member' event), and worker 0
 * makes the model of them all (`assemble`) — the same model as training them one after another.
 */
async function trainParallel(config, thresholdRate, n) {
  const pool = await helpers(n);
  const members = config.ensemble.members;
  const run = {
    config,
    thresholdRate,
    members,
    next: n,
    weights: new Array(members).fill(null),
    running: new Map(), // worker index → member
    steps: new Map(), // worker index → steps done in its current member
    stepsPerMember: 0,
    doneMembers: 0,
    stopping: false,
    failed: false,
    pool,
  };
  state.parallel = run;
  const answers = await Promise.all(pool.map((w, j) => {
    run.running.set(w.index, j);
    return w.rpc('train', { config, thresholdRate, member: j });
  }));
  run.stepsPerMember = answers[0].progress.steps_total;
  return { ...answers[0], progress: parallelProgress(answers[0].progress) };
}

/** One progress for the whole parallel run (the phase and epoch shown are worker 0's). */
function parallelProgress(p) {
  const run = state.parallel;
  let done = run.doneMembers * run.stepsPerMember;
  for (const v of run.steps.values()) done += v;
  const training = [...run.running.values()].map((m) => m + 1).sort((a, b) => a - b);
  return { ...p, steps_done: done, steps_total: run.members * run.stepsPerMember, members: run.members, training };
}

/** Events of helper workers (1, 2, …); worker 0's go through `events` too. */
function helperEvent(msg) {
  const run = state.parallel;
  if (!run) return; // an answer of a run that ended
  if (msg.event === 'progress') events.progress(msg);
  else if (msg.event === 'heldout') events.heldout(msg);
  else if (msg.event === 'member') memberDone(msg);
  else if (msg.event === 'error' || msg.event === 'renewed') {
    // A helper's session failed: the run stops; the message says why.
    if (msg.event === 'renewed') workers[msg.from].dataVersion = -1;
    parallelFailed(msg.error);
  }
}

/** End a parallel run without a model (worker 0 failed): the helpers stop, their members are dropped. */
function stopHelpers() {
  const run = state.parallel;
  if (!run) return;
  state.parallel = null;
  for (const w of run.pool.slice(1)) w.rpc('stop').catch(() => {});
}

function parallelFailed(error) {
  const run = state.parallel;
  if (!run || run.failed) return;
  run.failed = true;
  state.parallel = null;
  for (const w of run.pool) w.rpc('stop').catch(() => {});
  events.error({ error: `A training worker failed: ${error}` });
}

/** A worker's member is trained: keep its weights, give the worker the next member, or assemble. */
async function memberDone({ from, member, bytes }) {
  const run = state.parallel;
  if (!run) return;
  run.weights[member] = bytes;
  run.running.delete(from);
  run.steps.delete(from);
  run.doneMembers += 1;
  const worker = workers[from];
  if (!run.stopping && run.next < run.members) {
    const next = run.next++;
    run.running.set(from, next);
    try {
      await worker.rpc('train', { config: run.config, thresholdRate: run.thresholdRate, member: next });
      if (state.paused) await worker.rpc('pause');
    } catch (e) {
      parallelFailed(e.message);
    }
    return;
  }
  if (run.running.size > 0) return;
  // Every started member is back: the model of them, in member order.
  const weights = run.weights.filter(Boolean);
  const config = { ...run.config, ensemble: { ...run.config.ensemble, members: weights.length } };
  $('progress-text').textContent = `Training done: ${weights.length} models. Computing scores…`;
  try {
    const { results, seconds } = await rpc('assemble', { config, thresholdRate: run.thresholdRate, members: weights }, weights);
    state.parallel = null;
    events.finished({ results, stopped: run.stopping, seconds });
  } catch (e) {
    state.parallel = null;
    events.error({ error: `Making the model failed: ${e.message}` });
  }
}

function resetTraining() {
  state.losses = new Map();
  state.epochSeconds = { aae: [], pretrain: [], da3d: [] };
  state.results = null;
  state.model = null;
  state.scored = null;
  state.view = null;
  state.live = [];
  state.memberEpochs = new Map();
  drawLosses();
  drawLive();
  renderEpochTimes();
  renderResults();
}

/** The workers training now (worker 0 alone, or the parallel run's). */
function trainingWorkers() {
  const run = state.parallel;
  return run ? run.pool.filter((w) => run.running.has(w.index)) : [workers[0]];
}

async function togglePause() {
  try {
    if (state.paused) {
      await Promise.all(trainingWorkers().map((w) => w.rpc('resume')));
      state.paused = false;
      announce('Training resumed.');
    } else {
      await Promise.all(trainingWorkers().map((w) => w.rpc('pause')));
      state.paused = true;
      announce('Pausing after the current step.');
    }
  } catch (e) {
    showError(e.message);
  }
  updateButtons();
}

async function stop() {
  announce('Stopping: the model is finished as it is now…');
  $('stop').disabled = true;
  try {
    if (state.parallel) state.parallel.stopping = true;
    await Promise.all(trainingWorkers().map((w) => w.rpc('stop')));
  } catch (e) {
    showError(e.message);
  }
}

$('train').addEventListener('click', train);
$('pause').addEventListener('click', togglePause);
$('stop').addEventListener('click', stop);

function showProgress(p) {
  const fraction = p.steps_total ? p.steps_done / p.steps_total : 1;
  $('progress').value = fraction;
  if (p.phase === 'done') {
    $('progress-text').textContent = `Training done: ${p.steps_done} steps. Computing scores…`;
    return;
  }
  const epoch = Math.min(p.epoch + 1, p.epochs_in_phase);
  const member = p.training
    ? `models ${p.training.join(', ')} of ${p.members} training · `
    : p.members > 1 ? `model ${p.member + 1}/${p.members} · ` : '';
  let eta = '';
  if (state.training && p.steps_done > 0 && !state.paused) {
    const left = ((performance.now() - state.trainStart) / p.steps_done) * (p.steps_total - p.steps_done) / 1000;
    eta = ` · about ${left < 90 ? `${Math.round(left)} s` : `${(left / 60).toFixed(1)} min`} left`;
  }
  $('progress-text').textContent =
    `${Math.round(fraction * 100)} % · ${member}${PHASES[p.phase]} epoch ${epoch}/${p.epochs_in_phase}, ` +
    `batch ${p.batch}/${p.batches_per_epoch} · step ${p.steps_done}/${p.steps_total}${eta}`;
}

const events = {
  progress({ progress, report, seconds, from }) {
    const run = state.parallel;
    if (run) {
      run.steps.set(from, progress.steps_done);
      if (from !== 0) {
        // a helper: its steps count; the text and the loss charts follow worker 0
        showProgress(parallelProgress(state.lastWorkerProgress || progress));
        if (report) countEpoch(run.running.get(from));
        return;
      }
      state.lastWorkerProgress = progress;
      progress = parallelProgress(progress);
    }
    showProgress(progress);
    state.lastProgress = progress;
    if (report) {
      countEpoch(run ? run.running.get(from) : report.member);
      addReport(report);
      state.epochSeconds[report.phase].push(seconds);
      renderEpochTimes();
      const first = report.names.map((n, i) => `${n} ${formatNumber(report.values[i])}`).slice(0, 2).join(', ');
      announce(`${PHASES[report.phase]} epoch ${report.epoch} of ${report.epochs_in_phase} done (${first}).`);
    }
  },
  /** The held-out rows scored after an epoch: a point of the live curve, and now and then the histogram and ROC. */
  heldout({ heldOut, from }) {
    // (a parallel worker trains its member as a model of one: its number comes from the run)
    const member = state.parallel ? state.parallel.running.get(from) : heldOut.member;
    const x = state.memberEpochs.get(member) || 0;
    state.live.push({ x, member, score: heldOut.score, roc_auc: heldOut.roc_auc, average_precision: heldOut.average_precision });
    drawLive();
    const points = state.live.length;
    if (heldOut.score === 'model' || points <= 3 || points % 5 === 0) {
      state.view = viewOfLive(heldOut);
      renderMetrics();
      renderThreshold();
    }
  },
  paused({ from }) {
    if (from !== 0 && from !== undefined) return;
    $('progress-text').textContent += ' · paused';
    announce('Training paused.');
  },
  finished({ results, stopped }) {
    const p = state.lastProgress;
    if (!stopped && p && p.steps_total > 0) {
      state.msPerStep = (performance.now() - state.trainStart) / p.steps_total;
      renderPlan();
    }
    state.training = false;
    state.paused = false;
    state.results = results;
    state.model = { kind: 'trained' };
    state.scored = null;
    $('progress').value = stopped ? $('progress').value : 1;
    $('progress-text').textContent = stopped ? 'Stopped; the model was finished as it was.' : 'Training done.';
    state.view = viewOfResults(results);
    renderResults();
    $('model-info').textContent = 'Model trained in this page. Score the loaded data, or download the scores or the bundle.';
    const auc = results.metrics && results.metrics.roc_auc;
    announce(`Training ${stopped ? 'stopped' : 'finished'}.${auc != null ? ` Test ROC AUC ${auc.toFixed(3)}.` : ''}`);
    updateButtons();
  },
  /** Worker 0's member of a parallel run. */
  member(msg) {
    memberDone(msg);
  },
  error({ error }) {
    stopHelpers();
    state.training = false;
    state.paused = false;
    showError(error);
    announce('Training failed.');
    updateButtons();
  },
  /** The worker replaced its session (GPU device lost, module crashed): the model is gone, the data reloaded. */
  renewed({ error, backend, summary, gpuLost }) {
    stopHelpers();
    const wasTraining = state.training;
    state.training = false;
    state.paused = false;
    resetTraining();
    $('model-info').textContent = 'No model yet.';
    if (gpuLost) {
      state.gpuLost = true;
      $('use-gpu').checked = false;
    }
    showBackend(backend, gpuLost || $('use-gpu').checked);
    if (wasTraining) $('progress-text').textContent = gpuLost ? 'Stopped: the GPU device was lost.' : 'Stopped: the module crashed.';
    if (summary) showSummary(summary);
    else if (state.summary) {
      state.summary = null;
      $('data-summary').textContent = 'No data loaded: load the file again.';
    }
    // A request that failed with the crash may have shown its own message: keep both.
    const box = $('error');
    showError(!box.hidden && $('error-text').textContent ? `${$('error-text').textContent}\n${error}` : error);
    announce(error);
    updateButtons();
  },
};

// ---------------------------------------------------------------------------------------------
// Loss curves

function addReport(report) {
  const touched = new Set();
  report.names.forEach((name, i) => {
    const net = report.networks[i]; // the trainer says which network each loss belongs to
    if (!state.losses.has(net)) state.losses.set(net, { epochs: 0, series: new Map(), seen: new Set() });
    const entry = state.losses.get(net);
    if (!touched.has(net)) {
      entry.epochs += 1; // one x step per epoch report for this network
      touched.add(net);
    }
    // The alarm trains in two phases with different losses: one line per phase.
    const key = net === 'alarm' ? `${name} · ${PHASES[report.phase]}` : name;
    if (!entry.series.has(key)) entry.series.set(key, []);
    entry.series.get(key).push([entry.epochs, report.values[i]]);
  });
  drawLosses([...touched]);
}

const LOSS_CHARTS = {
  aae: ['loss-aae', 'Losses of the adversarial autoencoder per epoch'],
  alarm: ['loss-alarm', 'Loss of the alarm network per epoch'],
  generator: ['loss-generator', 'Losses of the generator per epoch'],
  critic: ['loss-critic', 'Losses of the critic per epoch'],
};

// What an empty chart says: `quick` and `robust` train no alarm (their score reads the
// autoencoder's residuals, as residual tails, and the neighbours term)
// and no DA³D stage unless their epochs are set.
const EMPTY_LOSSES = {
  alarm: 'Not trained yet (quick and robust skip it)',
  generator: 'Not trained yet (needs DA³D epochs)',
  critic: 'Not trained yet (needs DA³D epochs)',
};

function drawLosses(networks = Object.keys(LOSS_CHARTS)) {
  for (const net of networks) {
    const [id, description] = LOSS_CHARTS[net];
    const entry = state.losses.get(net);
    const series = entry ? [...entry.series].map(([name, points], i) => ({ name, points, color: COLORS[i % COLORS.length] })) : [];
    const epochs = entry ? entry.epochs : 1;
    lineChart($(id), series, {
      xDomain: [0.5, epochs + 0.5], // half an epoch of margin: the first and last points stay clear of the frame
      xLabel: 'epoch',
      yLabel: 'loss',
      description,
      legend: true,
      xFormat: (t) => (Number.isInteger(t) ? String(t) : ''),
      empty: net === 'aae' ? 'No epoch finished yet' : EMPTY_LOSSES[net],
    });
  }
}

function countEpoch(member) {
  state.memberEpochs.set(member, (state.memberEpochs.get(member) || 0) + 1);
}

/** The held-out ROC AUC (solid) and AP (dashed) after each epoch, one colour per model. */
function drawLive() {
  const members = [...new Set(state.live.map((p) => p.member))].sort((a, b) => a - b);
  const several = members.length > 1 || (state.parallel && state.parallel.members > 1);
  const series = members.flatMap((m) => {
    const points = state.live.filter((p) => p.member === m);
    const color = COLORS[m % COLORS.length];
    const name = several ? `model ${m + 1} ` : '';
    return [
      { name: `${name}ROC AUC`, points: points.map((p) => [p.x, p.roc_auc]), color },
      { name: `${name}AP`, points: points.map((p) => [p.x, p.average_precision]), color, dash: [5, 3] },
    ];
  });
  const last = state.live[state.live.length - 1];
  const epochs = Math.max(1, ...state.live.map((p) => p.x));
  lineChart($('live-auc'), series, {
    xDomain: [0.5, epochs + 0.5],
    yDomain: [0, 1],
    xLabel: several ? 'epoch of each model' : 'epoch',
    yLabel: 'held-out',
    legend: true,
    description: 'Held-out ROC AUC (solid) and average precision (dashed) after each epoch',
    xFormat: (t) => (Number.isInteger(t) ? String(t) : ''),
    empty: 'Appears after the first epoch (needs a label column)',
  });
  $('live-caption').textContent = last
    ? `Held-out test rows${several ? `, model ${last.member + 1}` : ''} after its epoch ${last.x}: ROC AUC ${last.roc_auc.toFixed(3)}, ` +
      `AP ${last.average_precision.toFixed(3)} (${LIVE_SCORES[last.score]})`
    : 'Held-out ROC AUC and average precision per epoch';
  $('live-auc').dataset.last = last ? JSON.stringify({ x: last.x, member: last.member, roc_auc: last.roc_auc, average_precision: last.average_precision, score: last.score }) : '';
}
const LIVE_SCORES = {
  reconstruction: "by its autoencoder's reconstruction error, while that trains",
  alarm: 'by its alarm, while that trains',
  model: 'the models finished so far in this worker, scored as the final model scores',
};

function renderEpochTimes() {
  const parts = Object.entries(state.epochSeconds)
    .filter(([, s]) => s.length)
    .map(([phase, s]) => `${PHASES[phase]} ${(s.reduce((a, b) => a + b, 0) / s.length).toFixed(2)} s (${s.length} epoch${s.length > 1 ? 's' : ''})`);
  $('epoch-times').textContent = parts.length ? `Seconds per epoch: ${parts.join(' · ')}` : '';
  $('epoch-times').dataset.seconds = JSON.stringify(state.epochSeconds);
}

// ---------------------------------------------------------------------------------------------
// Results: latent codes, score histogram with threshold, ROC/PR, most anomalous rows

function viewOfResults(results) {
  if (results.test) {
    return {
      values: results.test.scores,
      labels: results.test.labels,
      lines: null,
      top: results.test.top,
      threshold: results.threshold,
      modelThreshold: results.threshold,
      source: 'held-out test rows',
      metrics: results.metrics,
    };
  }
  return {
    values: results.train_scores,
    labels: null,
    lines: null,
    top: null,
    threshold: results.threshold,
    modelThreshold: results.threshold,
    source: 'training rows (sample)',
    metrics: null,
  };
}

/** The live view while training: held-out scores; the threshold flags 1 % of the held-out normal rows. */
function viewOfLive(h) {
  const normal = h.scores.filter((_, i) => h.labels[i] === 0).sort((a, b) => a - b);
  const threshold = normal.length ? normal[Math.min(normal.length - 1, Math.floor(0.99 * normal.length))] : 0;
  return {
    values: h.scores,
    labels: h.labels,
    lines: null,
    top: null,
    threshold,
    modelThreshold: threshold,
    source: 'held-out test rows, live',
    metrics: { roc_auc: h.roc_auc, average_precision: h.average_precision, roc: h.roc, pr: h.pr },
  };
}

function viewOfScored(scored) {
  return {
    values: scored.scores,
    labels: scored.labels,
    lines: scored.lines,
    top: scored.top,
    threshold: scored.threshold,
    modelThreshold: scored.threshold,
    source: `all rows of ${state.sourceName}`,
    metrics: scored.metrics,
  };
}

function renderResults() {
  renderLatent();
  renderMetrics();
  renderThreshold();
}

function renderLatent() {
  const latent = state.results && state.results.latent;
  const groups = latent ? [{ name: 'normal codes', points: latent.normal, color: COLORS[0], marker: 'circle', alpha: 0.45 }] : [];
  // (a model without a DA³D stage has no trained generator: no generated codes)
  const generated = latent && latent.generated.length > 0;
  if (generated) groups.push({ name: 'generated anomalies', points: latent.generated, color: COLORS[2], marker: 'cross', alpha: 0.8 });
  if (latent && latent.anomalies) groups.push({ name: 'real anomalies', points: latent.anomalies, color: COLORS[1], marker: 'triangle', alpha: 0.85 });
  const axis = latent && latent.projected ? 'principal direction' : 'code dimension';
  scatterChart($('latent'), groups, {
    xLabel: `${axis} 1`,
    yLabel: `${axis} 2`,
    description: `Latent codes${latent && latent.projected ? ' projected on the two leading principal directions of the normal codes' : ''}`,
    empty: state.model && state.model.kind === 'imported' ? 'Not available for an imported model' : 'Train a model to see its codes',
  });
  const shown = `normal codes${generated ? ', generated anomalies' : ''}, real anomalies`;
  $('latent-caption').textContent = latent && latent.projected
    ? `Latent space (projected on the first two principal directions): ${shown}`
    : `Latent space: ${shown}`;
}

function renderMetrics() {
  const m = state.view && state.view.metrics;
  const has = m && m.roc_auc != null;
  lineChart($('roc'), has ? [{ name: 'ROC', points: m.roc, color: COLORS[0] }, { name: 'chance', points: [[0, 0], [1, 1]], color: '#9aa3ad', dash: [4, 4] }] : [], {
    xLabel: 'false positive rate', yLabel: 'true positive rate', xDomain: [0, 1], yDomain: [0, 1],
    description: has ? `ROC curve, area under the curve ${m.roc_auc.toFixed(3)}` : 'ROC curve',
    empty: 'Needs labelled data',
  });
  const prevalence = state.view && state.view.labels ? state.view.labels.filter((l) => l === 1).length / state.view.labels.length : 0;
  lineChart($('pr'), has ? [{ name: 'precision–recall', points: m.pr, color: COLORS[4] }, { name: 'chance', points: [[0, prevalence], [1, prevalence]], color: '#9aa3ad', dash: [4, 4] }] : [], {
    xLabel: 'recall', yLabel: 'precision', xDomain: [0, 1], yDomain: [0, 1],
    description: has ? `Precision-recall curve, average precision ${m.average_precision.toFixed(3)}` : 'Precision-recall curve',
    empty: 'Needs labelled data',
  });
  $('auc').textContent = has ? `ROC AUC ${m.roc_auc.toFixed(3)}` : 'ROC AUC –';
  $('ap').textContent = has && m.average_precision != null ? `Average precision ${m.average_precision.toFixed(3)}` : 'Average precision –';
  $('metric-source').textContent = has ? `(${state.view.source})` : '';
}

/** Histogram, slider, flagged count and top rows for the current threshold. */
function renderThreshold() {
  const v = state.view;
  const slider = $('threshold');
  if (!v) {
    histX = histogram($('hist'), [], null, 0);
    slider.disabled = true;
    $('threshold-value').textContent = '';
    $('flagged').textContent = '';
    $('hist-caption').textContent = 'Anomaly scores';
    renderTop();
    return;
  }
  // The slider spans the scores (and the model's threshold, wherever it lies).
  const [lo, hi] = minMax(v.values.concat([v.modelThreshold]));
  slider.min = lo;
  slider.max = hi;
  slider.step = (hi - lo) / 1000 || 0.001;
  slider.value = v.threshold;
  slider.disabled = false;
  slider.setAttribute('aria-valuetext', `${formatNumber(v.threshold)}`);
  $('threshold-value').textContent = formatNumber(v.threshold);
  histX = histogram($('hist'), v.values, v.labels, v.threshold, { xLabel: `score (${v.source})`, domain: [lo, hi] });
  $('hist-caption').textContent = `Anomaly scores: ${v.source}`;
  const flagged = v.values.filter((s) => s > v.threshold).length;
  let text = `${flagged.toLocaleString('en')} of ${v.values.length.toLocaleString('en')} rows flagged (score > ${formatNumber(v.threshold)})`;
  if (v.labels) {
    const hits = v.values.filter((s, i) => s > v.threshold && v.labels[i] === 1).length;
    const positives = v.labels.filter((l) => l === 1).length;
    text += `; ${hits} of ${positives} labelled anomalies caught`;
  }
  if (v.threshold !== v.modelThreshold) text += ` — the model's threshold is ${formatNumber(v.modelThreshold)}`;
  $('flagged').textContent = text;
  renderTop();
}

/** Smallest and largest value without spreading a large array into arguments. */
function minMax(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of values) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return [lo, hi];
}

function setThreshold(value) {
  if (!state.view) return;
  state.view.threshold = value;
  renderThreshold();
}
$('threshold').addEventListener('input', () => {
  // The slider's values lie on a step grid that may miss its ends by a rounding error: snap to
  // them, so that End really means "flag nothing" and Home "flag all but the lowest".
  const slider = $('threshold');
  const [v, lo, hi, step] = ['value', 'min', 'max', 'step'].map((k) => Number(slider[k]));
  setThreshold(v + step / 2 >= hi ? hi : v - step / 2 <= lo ? lo : v);
});

// Drag the threshold on the histogram with a mouse, pen or finger (the slider is the keyboard path).
let histX = null; // the histogram's x scale (score → CSS pixel), from charts.js
let dragging = false;
function thresholdFromPointer(e) {
  if (!state.view || !histX) return;
  const rect = $('hist').getBoundingClientRect();
  const t = histX.invert(e.clientX - rect.left);
  setThreshold(Math.min(Number($('threshold').max), Math.max(Number($('threshold').min), t)));
}
$('hist').addEventListener('pointerdown', (e) => {
  if (!state.view) return;
  dragging = true;
  $('hist').setPointerCapture(e.pointerId);
  thresholdFromPointer(e);
});
$('hist').addEventListener('pointermove', (e) => dragging && thresholdFromPointer(e));
$('hist').addEventListener('pointerup', () => (dragging = false));
$('hist').addEventListener('pointercancel', () => (dragging = false));

function renderTop() {
  const v = state.view;
  const body = $('top').tBodies[0];
  if (!v) {
    body.replaceChildren();
    $('top-caption').textContent = 'Most anomalous rows';
    return;
  }
  let top = v.top;
  if (!top && v.lines) {
    const order = v.values.map((_, i) => i).sort((a, b) => v.values[b] - v.values[a]).slice(0, 20);
    top = order.map((i) => ({ line: v.lines[i], score: v.values[i], label: v.labels ? v.labels[i] : null }));
  }
  $('top-caption').textContent = top ? `The ${top.length} most anomalous rows (${v.source})` : 'Most anomalous rows: score the loaded data to list them';
  body.replaceChildren(
    ...(top || []).map((r, i) => {
      const tr = document.createElement('tr');
      if (r.label === 1) tr.className = 'anomaly';
      const cells = [i + 1, r.line, r.score.toFixed(5), r.label == null ? '–' : r.label === 1 ? 'anomaly' : 'normal', r.score > v.threshold ? 'yes' : 'no', whyText(r.why)];
      cells.forEach((text, c) => {
        const td = document.createElement('td');
        td.textContent = String(text);
        if (c === cells.length - 1) td.className = 'why';
        tr.append(td);
      });
      return tr;
    }),
  );
}

/**
 * The columns that push a row's score up: `name = value (share; where the value lies against
 * training)`, the largest share first.
 */
function whyText(why) {
  if (!why || !why.length) return '–';
  return why
    .map((a) => {
      let where = '';
      if (a.training_range) {
        const [lo, hi] = a.training_range;
        const v = Number(a.value);
        if (a.outside_training && v > hi) where = `; training max ${formatNumber(hi)}`;
        else if (a.outside_training && v < lo) where = `; training min ${formatNumber(lo)}`;
      } else if (a.outside_training) where = '; not seen in training';
      return `${a.column} = ${a.value} (${Math.round(a.share * 100)} %${where})`;
    })
    .join(' · ');
}

// ---------------------------------------------------------------------------------------------
// Scoring, downloads and bundles

async function scoreLoaded() {
  const scored = await rpc('score');
  state.scored = scored;
  state.view = viewOfScored(scored);
  renderMetrics();
  renderThreshold();
  const auc = scored.metrics && scored.metrics.roc_auc;
  announce(`Scored ${scored.rows.toLocaleString('en')} rows: ${scored.flagged.toLocaleString('en')} flagged.${auc != null ? ` ROC AUC ${auc.toFixed(3)}.` : ''}`);
  return scored;
}

$('score').addEventListener('click', () =>
  guarded(async () => {
    try {
      await scoreLoaded();
    } catch (e) {
      throw new Error(`Scoring failed: ${e.message}`);
    }
  }),
);

function download(bytes, name, type) {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** The scores CSV; the anomaly column follows the threshold on the page when it was moved. */
function scoresCsv(scored, threshold) {
  if (threshold === scored.threshold) return scored.csv;
  const lines = scored.csv.trimEnd().split('\n');
  const out = [lines[0]];
  for (const line of lines.slice(1)) {
    const [n, score] = line.split(',');
    out.push(`${n},${score},${Number(score) > threshold ? 1 : 0}`);
  }
  return `${out.join('\n')}\n`;
}

$('download-scores').addEventListener('click', () =>
  guarded(async () => {
    const scored = state.scored || (await scoreLoaded());
    const threshold = state.view && state.view.lines ? state.view.threshold : scored.threshold;
    const base = state.sourceName.replace(/\.(csv|txt)(\.gz)?$/i, '') || 'data';
    download(scoresCsv(scored, threshold), `${base}-scores.csv`, 'text/csv');
  }),
);

$('download-model').addEventListener('click', () =>
  guarded(async () => {
    const bytes = await rpc('exportBundle');
    download(bytes, 'model.da3d', 'application/octet-stream');
  }),
);

function describeHeader(h) {
  const names = (h.preprocessor.columns || []).map((c) => c.name || (Object.values(c)[0] || {}).name).filter(Boolean);
  const cfg = h.config || {};
  return `Imported bundle: ${cfg.method || ''} model, preset ${cfg.preset || '?'}, trained on ${h.training_rows} rows` +
    ` (${h.backend}), threshold ${formatNumber(h.threshold)}; columns ${names.join(', ')}. It scores on the CPU.`;
}

$('bundle-file').addEventListener('change', () => {
  const file = $('bundle-file').files[0];
  if (!file) return;
  guarded(async () => {
    checkSize(file, 'model bundles');
    const bytes = await file.arrayBuffer();
    let header;
    try {
      header = await rpc('importBundle', { bytes }, [bytes]);
    } catch (e) {
      throw new Error(`“${file.name}” is not a usable model bundle: ${e.message}`);
    }
    state.model = { kind: 'imported', header };
    state.results = null;
    state.scored = null;
    state.view = null;
    $('model-info').textContent = describeHeader(header);
    renderResults();
    if (state.summary) {
      try {
        await scoreLoaded();
      } catch (e) {
        // the module's message says "the model does not fit this data: …" when it is so
        const problem = e.message.replace(/^the model does not fit this data: /, '');
        throw new Error(`The model bundle “${file.name}” does not fit the loaded data (${state.sourceName}): ${problem}. ` +
          'Load a CSV with the columns the model was trained on (listed below), then press “Score the loaded data”.');
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Start

let resizeTimer = null;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    drawLosses();
    drawLive();
    renderResults();
  }, 150);
});

drawLosses();
drawLive();
renderResults();
updateButtons();
listDatasets();
startSession();
