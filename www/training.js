// Training: the schedule fields and the plan (steps and expected time), Train / Pause / Stop,
// the progress line, the handlers of worker 0's training events, and the learning charts (the
// losses per network and the live held-out AUC per epoch). Ensemble members on several workers
// go through members.js; the DA³D demonstration member beside a run through demo.js.

import { COLORS, formatNumber, lineChart, lossChart, recordLosses } from './charts.js';
import {
  CORES, isParallel, memberDone, memberOf, parallelMembers, runProgress, stopHelpers, stopParallel, trainingWorkers, trainParallel, workerCount,
} from './members.js';
import { cancelDemo, modelDone, pauseDemo, startDemo, stopDemo } from './demo.js';
import { renderMetrics, renderResults, renderThreshold, viewOfLive, viewOfResults } from './results.js';
import { rpc } from './rpc.js';
import { $, PHASES, announce, guarded, lossSeries, showError, state, updateButtons } from './state.js';

// ---------------------------------------------------------------------------------------------
// The schedule and its plan

/** Fill the schedule fields from the preset's config for the loaded data. */
export async function fillConfig() {
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

// ---------------------------------------------------------------------------------------------
// Train, Pause, Stop

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
    const members = readInt('members', 1);
    if (members > 64) throw new Error('Models (ensemble members) must be at most 64.');
    // The schedule as set on the page: the preset's config with these values, made in the module.
    const settings = {
      preset: $('preset').value,
      members,
      aae_epochs: readInt('ep-aae', 0),
      pretrain_epochs: readInt('ep-pre', 0),
      da3d_epochs: readInt('ep-da3d', 0),
      batch_size: readInt('batch', 1),
      seed: readInt('seed', 0),
    };
    const rate = Number($('rate').value);
    if (!(rate >= 0 && rate <= 0.5)) throw new Error('The threshold share must be between 0 and 0.5.');
    resetTraining();
    state.trainStart = performance.now();
    // Members in parallel workers on the CPU (on WebGPU the one GPU is shared: one worker).
    const cpu = $('backend').dataset.backend === 'cpu';
    const n = cpu ? workerCount(members) : 1;
    const started = n > 1 ? await trainParallel(settings, rate, n, PARALLEL_HOOKS) : await rpc('train', { settings, thresholdRate: rate });
    if (!started) return; // the parallel run failed while starting: its message is shown
    state.training = true;
    state.paused = false;
    showProgress(started.progress);
    // The demonstration member starts once the model's workers have: it waits for nothing of theirs.
    startDemo(settings, rate, `${settings.preset}, ${members} model${members > 1 ? 's' : ''}`, CORES < n + 1);
    const demo = $('demo-on').checked ? ' A DA³D demonstration member trains beside the model on one more worker (section 3).' : '';
    $('workers').textContent = ((n > 1
      ? `Training ${members} models on ${n} parallel workers (this machine reports ${CORES} logical cores).`
      : members > 1 ? `Training ${members} models one after another on one worker${cpu ? ` (this machine reports ${CORES} logical core${CORES > 1 ? 's' : ''})` : ' (WebGPU: one GPU)'}.` : '') + demo).trim();
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

export function resetTraining() {
  cancelDemo();
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

async function togglePause() {
  try {
    if (state.paused) {
      await Promise.all(trainingWorkers().map((w) => w.rpc('resume')));
      pauseDemo(false);
      state.paused = false;
      announce('Training resumed.');
    } else {
      await Promise.all(trainingWorkers().map((w) => w.rpc('pause')));
      pauseDemo(true);
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
    stopDemo();
    stopParallel();
    await Promise.all(trainingWorkers().map((w) => w.rpc('stop')));
  } catch (e) {
    showError(e.message);
  }
}

// ---------------------------------------------------------------------------------------------
// Progress and worker 0's events

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

/**
 * The handlers of worker 0's training events (helper workers' progress and held-out events come
 * here too, through members.js); app.js routes the workers' events and adds 'renewed'.
 */
export const events = {
  progress({ progress, report, seconds, from }) {
    const parallel = isParallel();
    if (parallel) {
      const whole = runProgress(from, progress);
      if (from !== 0) {
        // a helper: its steps count; the text and the loss charts follow worker 0
        showProgress(whole);
        if (report) countEpoch(memberOf(from));
        return;
      }
      progress = whole;
    }
    showProgress(progress);
    state.lastProgress = progress;
    if (report) {
      countEpoch(parallel ? memberOf(from) : report.member);
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
    const member = isParallel() ? memberOf(from) : heldOut.member;
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
    modelDone(results);
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
    stopDemo();
    state.training = false;
    state.paused = false;
    showError(error);
    announce('Training failed.');
    updateButtons();
  },
};

// ---------------------------------------------------------------------------------------------
// Learning charts: losses per network, held-out AUC per epoch

function addReport(report) {
  drawLosses(recordLosses(state.losses, report, lossSeries));
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
  alarm: 'Not trained yet (quick and robust skip it; see section 3)',
  generator: 'Not trained yet (needs DA³D epochs; see section 3)',
  critic: 'Not trained yet (needs DA³D epochs; see section 3)',
};

export function drawLosses(networks = Object.keys(LOSS_CHARTS)) {
  for (const net of networks) {
    const [id, description] = LOSS_CHARTS[net];
    lossChart($(id), state.losses.get(net), { description, empty: net === 'aae' ? 'No epoch finished yet' : EMPTY_LOSSES[net] });
  }
}

function countEpoch(member) {
  state.memberEpochs.set(member, (state.memberEpochs.get(member) || 0) + 1);
}

/** The held-out ROC AUC (solid) and AP (dashed) after each epoch, one colour per model. */
export function drawLive() {
  const members = [...new Set(state.live.map((p) => p.member))].sort((a, b) => a - b);
  const several = members.length > 1 || parallelMembers() > 1;
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
// Wiring

/** What members.js calls during a parallel run. */
const PARALLEL_HOOKS = {
  progress: events.progress,
  heldout: events.heldout,
  finished: events.finished,
  error: events.error,
  assembling(count) {
    $('progress-text').textContent = `Training done: ${count} models. Computing scores…`;
  },
};

/** The schedule fields and the Train, Pause and Stop buttons. */
export function initTraining() {
  $('preset').addEventListener('change', () => {
    if (state.summary) guarded(fillConfig);
  });
  for (const id of ['members', 'ep-aae', 'ep-pre', 'ep-da3d', 'batch']) $(id).addEventListener('input', () => renderPlan());
  $('train').addEventListener('click', train);
  $('pause').addEventListener('click', togglePause);
  $('stop').addEventListener('click', stop);
}
