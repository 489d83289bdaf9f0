// The model's outputs: scoring the loaded data, the scores CSV (following the threshold on the
// page when it was moved), and the model bundle (.da3d) downloaded or imported.

import { formatNumber } from './charts.js';
import { checkSize } from './data.js';
import { renderMetrics, renderResults, renderThreshold, viewOfScored } from './results.js';
import { rpc } from './rpc.js';
import { $, announce, guarded, state } from './state.js';

/** Score the loaded data with the model; the histogram, curves and top rows show the answer. */
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

/** Save `bytes` as the file `name` (a download of a blob URL). */
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

/** The model-info line of an imported bundle: method, preset, training rows, backend, threshold, columns. */
function describeHeader(h) {
  const names = (h.preprocessor.columns || []).map((c) => c.name || (Object.values(c)[0] || {}).name).filter(Boolean);
  const cfg = h.config || {};
  return `Imported bundle: ${cfg.method || ''} model, preset ${cfg.preset || '?'}, trained on ${h.training_rows} rows` +
    ` (${h.backend}), threshold ${formatNumber(h.threshold)}; columns ${names.join(', ')}. It scores on the CPU.`;
}

/** The Score, Download and bundle-file controls. */
export function initBundle() {
  $('score').addEventListener('click', () =>
    guarded(async () => {
      try {
        await scoreLoaded();
      } catch (e) {
        throw new Error(`Scoring failed: ${e.message}`);
      }
    }),
  );

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
}
