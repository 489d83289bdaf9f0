// The DA³D demonstration member: the paper's DA³D trained beside the page's model, in one more
// worker (on the CPU whatever the page's backend), on the same rows and seed, for a short schedule,
// to show its four networks at work. Its panel: the code plane (normal codes, real held-out
// anomalies, the generator's anomalies) over the alarm's probability, the four networks' losses,
// the alarm's held-out ROC AUC live, and at the end the alarm's figures beside the page's model's.
// The page scores with its own model; this member is for watching.
//
// Interface (training.js starts, pauses and stops it; app.js routes its worker's events):
//   DEMO                    the demonstration worker's index (`from` of its events)
//   startDemo(settings, rate, model, crowded)
//                           start for a run of `settings` (when the box is ticked); `model`
//                           names the page's model in the comparison; `crowded`: the model's
//                           workers take every core (see PACE)
//   pauseDemo(paused)       pause or resume it with the run
//   stopDemo()              Stop: the member is finished as it is, its figures shown
//   cancelDemo()            a new run, other data, a new workbench: end it, clear the panel
//   modelDone(results)      the page's model is finished: its figures in the comparison
//   demoEvent(msg)          the demonstration worker's events
//   drawDemo()              redraw everything (resize)

import { COLORS, lineChart, lossChart, mapChart, recordLosses } from './charts.js';
import { withData } from './members.js';
import { startWorker } from './rpc.js';
import { $, lossSeries, state } from './state.js';

export const DEMO = 'demo';

// The schedule: step budgets, the same training on every table whatever its rows (a table's
// epochs are its budget over its batches, at least one each). Measured on Mammography (8,746
// training rows, 35 batches an epoch: 29 / 3 / 43 epochs) on 2 cores beside the default ensemble:
// the DA³D phase starts 7 s after Train and the member ends at 23 s (the ensemble at 18 s, still
// ROC AUC .953), its alarm at ROC AUC .88 (the paper's full 500 / 50 / 500 epochs: .84,
// docs/results.md). Twice the steps gave .89 in twice the time: a longer wait for little.
const STEPS = { aae: 1000, pretrain: 100, da3d: 1500 };
const BATCH = 256;
// The code plane: a 64 × 64 grid of the alarm's probability and 200 generated codes cost the
// worker about 9 ms (Mammography); it draws one up about every 0.7 s of training (worker.js).
const PLANE = { grid: 64, generated: 200 };
// When the page's model trains on every core, the demonstration trains at full speed until the
// generated anomalies are on the plane, then only this share of the time (resting the rest:
// worker.js's pace) until the model is made: the first sight comes soon, and then the model.
// Measured on Mammography on 2 cores under other jobs' load (load average 15-17), alternating,
// two rounds: the model alone in 24-25 s; beside the demonstration paced so in 30-33 s (the
// generated anomalies shown at 13-16 s), beside it at full speed throughout in 30-38 s (13-17 s).
const PACE = 0.5;

/** The demonstration's settings for a table of `rows` training rows (see STEPS). */
export function demoSettings(rows, seed) {
  const batches = Math.max(1, Math.ceil(rows / BATCH));
  const epochs = (steps) => Math.max(1, Math.ceil(steps / batches));
  return {
    preset: 'paper', members: 1, aae_epochs: epochs(STEPS.aae), pretrain_epochs: epochs(STEPS.pretrain),
    da3d_epochs: epochs(STEPS.da3d), batch_size: BATCH, seed,
  };
}

let worker = null; // the demonstration worker's handle, started with the first demonstration
let demo = null; // the demonstration shown: see startDemo
let model = null; // the page's model's results (finished), for the comparison

function blank(settings, modelName) {
  return {
    settings, modelName, running: false, stopping: false, t0: performance.now(), seconds: null,
    crowded: false, paced: false, progress: null, plane: null, planeProgress: null, losses: new Map(), auc: [], results: null, stopped: false, error: null, labelled: null,
  };
}

/** Start the demonstration member beside a run of `settings` (threshold share `rate`). */
export async function startDemo(settings, rate, modelName, crowded) {
  cancelDemo();
  if (!$('demo-on').checked || !state.trainRows) {
    render();
    return;
  }
  const mine = blank(demoSettings(state.trainRows, settings.seed), modelName);
  demo = mine;
  render();
  try {
    worker ||= startWorker(DEMO);
    await withData(worker);
    if (demo !== mine) return;
    mine.crowded = crowded;
    const started = await worker.rpc('train', { settings: mine.settings, thresholdRate: rate, plane: PLANE });
    if (demo !== mine) return;
    mine.running = true;
    mine.labelled = started.data.test_rows !== undefined;
    mine.progress ||= started.progress; // (unless its first progress came before the answer)
    if (state.paused) await worker.rpc('pause');
  } catch (e) {
    if (demo !== mine) return;
    mine.error = e.message;
  }
  render();
}

export function pauseDemo(paused) {
  if (demo && demo.running) worker.rpc(paused ? 'pause' : 'resume').catch(() => {});
}

/** Stop: the member is finished as it is (a 'finished' event with its figures follows). */
export function stopDemo() {
  if (!demo || !demo.running || demo.stopping) return;
  demo.stopping = true;
  worker.rpc('stop').catch(() => {});
  render();
}

/** End the demonstration without its figures and clear the panel (the worker goes with it). */
export function cancelDemo() {
  if (demo && (demo.running || !demo.progress) && worker) {
    // (a running workbench would finish its member first: a new worker starts sooner)
    worker.terminate();
    worker = null;
  }
  demo = null;
  model = null;
  render();
}

/** The page's model is finished: its figures in the comparison. */
export function modelDone(results) {
  model = results;
  if (demo && demo.running && demo.paced) worker.rpc('pace', { share: 1 }).catch(() => {});
  renderComparison();
}

/** Events of the demonstration worker. */
export function demoEvent(msg) {
  if (!demo) return; // an answer of a demonstration that ended
  if (msg.event === 'progress') {
    if (demo.progress && msg.progress.phase !== demo.progress.phase && PHASE_NUMBER[msg.progress.phase]) {
      news(`DA³D demonstration: phase ${PHASE_NUMBER[msg.progress.phase]} of 3, ${PHASE_NAME[msg.progress.phase]}.`);
    }
    demo.progress = msg.progress;
    if (msg.report) {
      recordLosses(demo.losses, msg.report, lossSeries);
      drawLossesSoon();
    }
    renderStatus();
  } else if (msg.event === 'plane') {
    demo.plane = msg.plane;
    demo.planeProgress = msg.progress;
    const alarm = msg.plane.alarm;
    if (alarm && alarmTrains(msg.progress)) demo.auc.push([msg.progress.steps_done, alarm.roc_auc, alarm.average_precision]);
    if (demo.crowded && !model && !demo.paced && demo.running && generatorTrains(msg.progress)) {
      demo.paced = true; // the generated anomalies are shown: the model comes first now (PACE)
      worker.rpc('pace', { share: PACE }).catch(() => {});
    }
    drawPlane();
    drawAuc();
  } else if (msg.event === 'paused') {
    renderStatus();
  } else if (msg.event === 'finished') {
    Object.assign(demo, { running: false, results: msg.results, stopped: msg.stopped, seconds: (performance.now() - demo.t0) / 1000 });
    render();
    const f = figures(msg.results);
    news(`DA³D demonstration ${msg.stopped ? 'stopped' : 'done'}.${f ? ` Its alarm's held-out ROC AUC ${f.roc_auc.toFixed(3)}.` : ''}`);
  } else if (msg.event === 'error' || msg.event === 'renewed') {
    if (msg.event === 'renewed') worker.dataVersion = -1;
    Object.assign(demo, { running: false, error: msg.error });
    render();
  }
}

// ---------------------------------------------------------------------------------------------
// What the panel shows

/** Short news for screen readers (its phases, its end): the panel's own polite live region, so
 * that the page's news of its model is not replaced. */
function news(text) {
  $('demo-news').textContent = text;
}

/** The alarm has trained (pretraining or DA³D begun): its map and AUC mean something. */
const alarmTrains = (p) => p.phase === 'da3d' || p.phase === 'done' || (p.phase === 'pretrain' && (p.epoch > 0 || p.batch > 0));

/** The generator has trained: DA³D steps done. */
function generatorTrains(p) {
  const s = demo.settings;
  const before = (s.aae_epochs + s.pretrain_epochs) * p.batches_per_epoch;
  return (p.phase === 'da3d' || p.phase === 'done') && p.steps_done > before;
}

export function drawDemo() {
  render();
}

function render() {
  renderStatus();
  drawPlane();
  drawAuc();
  drawLosses();
  renderComparison();
}

const PHASE_TEXT = {
  aae: 'the adversarial autoencoder learns to squeeze each row into a code (the points of the plane); the alarm, generator and critic wait for it',
  pretrain: 'the alarm first learns to flag random rows (trivial anomalies) against the normal ones',
  da3d: 'the generator, the critic and the alarm train against each other',
};
const PHASE_NUMBER = { aae: 1, pretrain: 2, da3d: 3 };
const PHASE_NAME = { aae: 'the autoencoder', pretrain: "the alarm's pretraining", da3d: 'DA³D: generator, critic and alarm' };

function renderStatus() {
  const status = $('demo-status');
  $('demo-stop').disabled = !(demo && demo.running && !demo.stopping);
  if (!demo) {
    status.textContent = $('demo-on').checked
      ? 'Press Train: a DA³D demonstration member trains beside the model.'
      : 'Off: tick the box to train a DA³D demonstration member with the next run.';
    status.dataset.phase = '';
    return;
  }
  const p = demo.progress;
  let text;
  if (demo.error) text = `The demonstration stopped: ${demo.error}`;
  else if (demo.results) {
    const s = demo.settings;
    text = demo.stopped
      ? `Stopped after ${demo.seconds.toFixed(0)} s, at step ${p.steps_done.toLocaleString('en')} of ${p.steps_total.toLocaleString('en')}: the figures below are the member's as it was.`
      : `Done in ${demo.seconds.toFixed(0)} s: ${s.aae_epochs} AAE, ${s.pretrain_epochs} pretraining and ${s.da3d_epochs} DA³D epochs ` +
        `of ${p.batches_per_epoch} batches (${p.steps_total.toLocaleString('en')} steps).`;
  } else if (!p) text = 'Starting the demonstration worker…';
  else if (demo.stopping) text = 'Stopping: the member is finished as it is…';
  else if (p.phase === 'done') text = 'Trained: scoring the held-out rows…';
  else {
    const epoch = Math.min(p.epoch + 1, p.epochs_in_phase);
    text = `Phase ${PHASE_NUMBER[p.phase]} of 3 (epoch ${epoch} of ${p.epochs_in_phase}): ${PHASE_TEXT[p.phase]}.` +
      (state.paused ? ' Paused.' : '');
  }
  status.textContent = text;
  // (the trainer's phase is 'done' before the member's figures come: 'finishing' until then)
  status.dataset.phase = demo.error ? 'error' : demo.results ? 'done' : !p ? 'starting' : p.phase === 'done' ? 'finishing' : p.phase;
}

function drawPlane() {
  const plane = demo && demo.plane;
  const p = demo && demo.planeProgress;
  const groups = [];
  if (plane) {
    groups.push({ name: 'normal codes', points: plane.normal, color: COLORS[0], marker: 'circle', alpha: 0.5 });
    if (generatorTrains(p)) groups.push({ name: 'generated anomalies', points: plane.generated, color: COLORS[2], marker: 'cross', alpha: 0.9 });
    if (plane.anomalies.length) groups.push({ name: 'real anomalies (held out)', points: plane.anomalies, color: COLORS[1], marker: 'triangle', alpha: 0.9 });
  }
  const axis = plane && plane.projected ? 'principal direction' : 'code number';
  mapChart($('demo-plane'), plane && alarmTrains(p) ? plane.map : null, groups, {
    xLabel: `${axis} 1`,
    yLabel: `${axis} 2`,
    mapName: "alarm's probability of an anomaly",
    description: `The demonstration member's code plane${plane && plane.projected ? ' (codes projected on their two leading principal directions)' : ''}`,
    empty: demo ? 'The codes appear after the first steps' : 'Train to watch DA³D at work',
  });
  $('demo-plane-caption').textContent = !plane
    ? 'The code plane: each row as its code, and the alarm’s probability across the plane'
    : !alarmTrains(p)
      ? 'The code plane while the autoencoder trains: no shading until the alarm starts'
      : `The code plane: shading is the alarm's probability that a code is an anomaly${generatorTrains(p) ? '' : ' (the generator starts with the DA³D phase)'}` +
        (plane.projected ? '; codes projected on their two leading principal directions' : '');
}

function drawAuc() {
  const points = demo ? demo.auc : [];
  const last = points[points.length - 1];
  lineChart($('demo-auc-chart'), points.length ? [
    { name: 'ROC AUC', points: points.map(([x, auc]) => [x, auc]), color: COLORS[4] },
    { name: 'AP', points: points.map(([x, , ap]) => [x, ap]), color: COLORS[4], dash: [5, 3] },
  ] : [], {
    yDomain: [0, 1],
    xLabel: 'training step of the demonstration member',
    yLabel: 'held-out',
    legend: true,
    description: "The demonstration alarm's held-out ROC AUC (solid) and average precision (dashed) while it trains",
    empty: demo && demo.labelled === false ? 'Needs labelled data' : 'Appears once the alarm trains',
  });
  const auc = $('demo-auc');
  auc.textContent = last ? `Alarm's held-out ROC AUC ${last[1].toFixed(3)} · AP ${last[2].toFixed(3)}` : "Alarm's held-out ROC AUC –";
  auc.dataset.value = last ? String(last[1]) : '';
}

const LOSS_CHARTS = {
  aae: ['demo-loss-aae', 'Demonstration member: the adversarial autoencoder’s losses per epoch'],
  alarm: ['demo-loss-alarm', 'Demonstration member: the alarm’s loss per epoch (pretraining, then DA³D)'],
  generator: ['demo-loss-generator', 'Demonstration member: the generator’s losses per epoch'],
  critic: ['demo-loss-critic', 'Demonstration member: the critic’s losses per epoch'],
};

// Epochs end several times a second (every few milliseconds on a table of few rows): the loss
// charts are redrawn at most every LOSS_MS, so that drawing takes little of the cores the workers
// train on.
const LOSS_MS = 500;
let lossesDue = null;
function drawLossesSoon() {
  lossesDue ||= setTimeout(() => {
    lossesDue = null;
    drawLosses();
  }, LOSS_MS);
}

function drawLosses() {
  for (const [net, [id, description]] of Object.entries(LOSS_CHARTS)) {
    lossChart($(id), demo ? demo.losses.get(net) : undefined, { description, empty: demo ? 'No epoch yet' : 'Train to see' });
  }
}

// ---------------------------------------------------------------------------------------------
// The comparison: the page's model and the demonstration's alarm on the same held-out rows

/** {roc_auc, average_precision, caught, anomalies} of finished results, or null without labels. */
function figures(results) {
  if (!results || !results.test || !results.metrics) return null;
  const { scores, labels } = results.test;
  const anomalies = labels.filter((l) => l === 1).length;
  const caught = scores.filter((s, i) => labels[i] === 1 && s > results.threshold).length;
  return { roc_auc: results.metrics.roc_auc, average_precision: results.metrics.average_precision, caught, anomalies, rows: labels.length };
}

function renderComparison() {
  const table = $('demo-compare');
  const mine = figures(model);
  const theirs = demo && figures(demo.results);
  const ready = demo && (mine || theirs);
  table.hidden = !ready;
  if (!ready) return;
  const row = (name, f, pending) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = name;
    const cells = f
      ? [f.roc_auc.toFixed(3), f.average_precision.toFixed(3), `${f.caught} of ${f.anomalies}`]
      : [pending, '', ''];
    tr.append(th, ...cells.map((text) => {
      const td = document.createElement('td');
      td.textContent = text;
      return td;
    }));
    return tr;
  };
  const demoName = `DA³D demonstration member: its alarm${demo && demo.stopped ? ' (stopped early)' : ''}`;
  const demoPending = !demo ? 'not trained' : demo.error ? 'failed' : demo.running ? 'still training…' : 'no labels';
  const modelName = `The page's model${demo ? `, ${demo.modelName}` : ''} (it scores the data)`;
  table.tBodies[0].replaceChildren(row(modelName, mine, model ? 'no labels' : 'still training…'), row(demoName, theirs, demoPending));
  const f = mine || theirs;
  table.caption.textContent = `Held-out test rows (${f.rows.toLocaleString('en')} rows, ${f.anomalies} anomalies, the same for both); ` +
    'each threshold flags the share of training rows set in section 2';
}

/** The box and the Stop button of the panel. */
export function initDemo() {
  $('demo-stop').addEventListener('click', stopDemo);
  $('demo-on').addEventListener('change', () => renderStatus());
}
