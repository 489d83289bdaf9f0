// The results: the latent picture, the ROC and precision-recall curves with their figures, the
// score histogram with its threshold (slider and drag), the most anomalous rows and the columns
// that explain each. What is shown is `state.view`, made by one of the viewOf* functions from
// the finished model, the live held-out scores or the scored data.

import { COLORS, formatNumber, histogram, lineChart, scatterChart } from './charts.js';
import { $, state } from './state.js';

let histX = null; // the histogram's x scale (score → CSS pixel), from charts.js
let dragging = false; // a pointer drags the threshold on the histogram

export function viewOfResults(results) {
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
export function viewOfLive(h) {
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

export function viewOfScored(scored) {
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

export function renderResults() {
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

export function renderMetrics() {
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
export function renderThreshold() {
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

function thresholdFromPointer(e) {
  if (!state.view || !histX) return;
  const rect = $('hist').getBoundingClientRect();
  const t = histX.invert(e.clientX - rect.left);
  setThreshold(Math.min(Number($('threshold').max), Math.max(Number($('threshold').min), t)));
}

/** The threshold's controls: the slider, and dragging on the histogram. */
export function initResults() {
  $('threshold').addEventListener('input', () => {
    // The slider's values lie on a step grid that may miss its ends by a rounding error: snap to
    // them, so that End really means "flag nothing" and Home "flag all but the lowest".
    const slider = $('threshold');
    const [v, lo, hi, step] = ['value', 'min', 'max', 'step'].map((k) => Number(slider[k]));
    setThreshold(v + step / 2 >= hi ? hi : v - step / 2 <= lo ? lo : v);
  });

  // Drag the threshold on the histogram with a mouse, pen or finger (the slider is the keyboard path).
  $('hist').addEventListener('pointerdown', (e) => {
    if (!state.view) return;
    dragging = true;
    $('hist').setPointerCapture(e.pointerId);
    thresholdFromPointer(e);
  });
  $('hist').addEventListener('pointermove', (e) => dragging && thresholdFromPointer(e));
  $('hist').addEventListener('pointerup', () => (dragging = false));
  $('hist').addEventListener('pointercancel', () => (dragging = false));
}

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
