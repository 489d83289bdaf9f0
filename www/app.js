// The page's main thread, the entry point (index.html loads it as a module): it wires the parts
// and starts the page. All model work happens in worker.js (a WASM Workbench per worker); the
// main thread only sends requests and draws the answers. The parts, each of which imports only
// parts listed above it (no import cycles; tests/page/modules.test.mjs checks):
//   state.js     shared state, `$`, the message box, the buttons, `guarded`
//   rpc.js       the workers and the request/answer protocol; worker 0 starts with the page
//   members.js   the ensemble's members trained in parallel over helper workers
//   charts.js    canvas charts
//   results.js   latent picture, ROC/PR, score histogram and threshold, top rows and why
//   demo.js      the DA³D demonstration member beside a run: code plane, alarm map, its losses
//   training.js  schedule, plan, Train/Pause/Stop, progress, training events, learning charts
//   data.js      data sets and files: checks, load, label column, summary and preview
//   bundle.js    scoring, downloads, model bundles
// This file: the backend (the "Use WebGPU" box), the workers' events, the 'renewed' event,
// redrawing on resize, and the start.

import { initBundle } from './bundle.js';
import { initData, listDatasets, showSummary } from './data.js';
import { DEMO, demoEvent, drawDemo, initDemo } from './demo.js';
import { helperEvent, stopHelpers } from './members.js';
import { initResults, renderResults } from './results.js';
import { onWorkerEvent, rpc } from './rpc.js';
import { $, announce, clearError, guarded, setBackendText, showError, state, updateButtons } from './state.js';
import { drawLive, drawLosses, events, initTraining, resetTraining } from './training.js';

// ---------------------------------------------------------------------------------------------
// Backend

function showBackend(backend, preferGpu) {
  const why = preferGpu ? backend.reason : 'the “Use WebGPU” box is off (the default: networks this small train faster on the CPU)';
  const text = backend.gpu ? `Backend: WebGPU (${backend.reason}).` : `Backend: CPU (WebAssembly). Why: ${why}.`;
  setBackendText(text, backend.name);
}

/** Start worker 0's workbench on the backend the box asks for (it reloads the data already loaded). */
async function startBackend() {
  const preferGpu = $('use-gpu').checked;
  setBackendText(preferGpu ? 'Looking for a WebGPU adapter…' : 'Starting on the CPU…', '');
  await guarded(async () => {
    const { backend, summary } = await rpc('init', { preferGpu });
    showBackend(backend, preferGpu);
    if (summary) showSummary(summary);
  });
}

// ---------------------------------------------------------------------------------------------
// The workers' events: worker 0's to training.js's handlers (and 'renewed' here), the helpers' to
// members.js, the demonstration worker's to demo.js.

/** Worker 0 replaced its workbench (GPU device lost, module crashed): the model is gone, the data reloaded. */
function renewed({ error, backend, summary, gpuLost }) {
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
}

onWorkerEvent((msg) => {
  if (msg.from === DEMO) demoEvent(msg);
  else if (msg.from > 0) helperEvent(msg);
  else if (msg.event === 'renewed') renewed(msg);
  else if (events[msg.event]) events[msg.event](msg);
});

// ---------------------------------------------------------------------------------------------
// Start

$('error-close').addEventListener('click', clearError);
$('use-gpu').addEventListener('change', () => {
  resetTraining(); // a new workbench holds no model
  startBackend();
});
initData();
initTraining();
initDemo();
initResults();
initBundle();

let resizeTimer = null;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    drawLosses();
    drawLive();
    drawDemo();
    renderResults();
  }, 150);
});

drawLosses();
drawLive();
drawDemo();
renderResults();
updateButtons();
listDatasets();
startBackend();
