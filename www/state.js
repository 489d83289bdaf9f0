// The page's shared state and the small DOM helpers every part uses: `$`, the message box, the
// polite live region, the backend line, the buttons enabled according to the state, and
// `guarded` (a request run with the controls locked). Imports nothing: every module may use it.

export const $ = (id) => document.getElementById(id);

export const state = {
  busy: false, // a request that changes the worker's data or model is running (load, score, import...)
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
  dataVersion: 0, // bumped whenever the loaded data changes (helper workers reload it)
  lastProgress: null, // the progress shown last (the measured speed when training ends)
};

export const PHASES = { aae: 'AAE', pretrain: 'pretraining', da3d: 'DA³D', done: 'done' };

/** The series a loss is drawn in: the alarm trains in two phases with different losses, a line each. */
export const lossSeries = (name, net, phase) => (net === 'alarm' ? `${name} · ${PHASES[phase]}` : name);

// ---------------------------------------------------------------------------------------------
// Messages

export function showError(text) {
  $('error-text').textContent = text;
  $('error').hidden = false;
}

export function clearError() {
  $('error').hidden = true;
  $('error-text').textContent = '';
}

/** The polite live region: short news for screen readers (epochs, results), not every batch. */
export function announce(text) {
  $('live').textContent = text;
}

/** The backend line; `name` ('cpu', 'webgpu', '' while starting) goes to its data-backend. */
export function setBackendText(text, name) {
  $('backend').textContent = text;
  $('backend').dataset.backend = name;
}

// ---------------------------------------------------------------------------------------------
// Buttons: enabled according to the state

export function updateButtons() {
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
  for (const id of ['preset', 'members', 'ep-aae', 'ep-pre', 'ep-da3d', 'batch', 'seed', 'rate', 'demo-on']) $(id).disabled = state.training;
}

/** Run `fn` with the controls locked; its errors become the visible message. */
export async function guarded(fn) {
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
